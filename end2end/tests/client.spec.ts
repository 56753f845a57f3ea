import { expect, test, type Browser, type WebSocketRoute } from '@playwright/test';
import { message, nickname, openChat, say, unique, type User } from './helpers';

// The browser client never loses what a person typed or clicked, and an old tab keeps working
// against a newer server. Several tests stand between the page and the server with Playwright's
// websocket routing: they drop an ack or a request, rewrite the welcome, or inject frames a newer
// server would send.

/** Frames between one page and the server, with the hooks a test sets. */
interface Wire {
  /** Return false to drop a frame from the server before the page sees it. */
  fromServer: (frame: any) => boolean;
  /** Return false to drop a frame from the page before the server sees it. */
  fromPage: (frame: any) => boolean;
  /** Rewrites a server frame (after `fromServer` let it through). */
  rewrite: (frame: any) => any;
  /** The page's side of the current socket, to inject frames. */
  page?: WebSocketRoute;
}

/**
 * Opens the chat as a new user whose websocket goes through `wire`. `fakeClock`: the page's timers
 * and clock are Playwright's (time flows as usual until the test moves it on).
 */
async function openRouted(browser: Browser, nick: string, wire: Wire, fakeClock = false): Promise<User> {
  return openChat(browser, nick, async (context) => {
    if (fakeClock) await context.clock.install();
    await context.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      wire.page = ws;
      ws.onMessage((m) => {
        if (wire.fromPage(JSON.parse(String(m)))) server.send(m);
      });
      server.onMessage((m) => {
        const frame = JSON.parse(String(m));
        if (wire.fromServer(frame)) ws.send(JSON.stringify(wire.rewrite(frame)));
      });
    });
  });
}

function passThrough(): Wire {
  return { fromServer: () => true, fromPage: () => true, rewrite: (f) => f };
}

async function goOffline(user: User) {
  await user.context.setOffline(true);
  await expect(user.page.getByRole('status')).toHaveText(/Offline/, { timeout: 15_000 });
}

async function comeBack(user: User) {
  await user.context.setOffline(false);
  await expect(user.page.getByRole('status')).toHaveText(/Online/, { timeout: 20_000 });
}

test('a message stored by the server whose ack was lost in a drop shows once, sent', async ({ browser }) => {
  test.setTimeout(60_000);
  const wire = passThrough();
  const alice = await openRouted(browser, nickname('alice-ack'), wire, true);
  const bob = await openChat(browser, nickname('bob-ack'));

  // The server stores the message and acks it; the ack never reaches the page.
  wire.fromServer = (f) => f.type !== 'ack';
  const text = unique('ack lost');
  await say(alice.page, text);
  await expect(message(bob.page, text)).toHaveCount(1);
  await expect(message(alice.page, text)).toContainText('sending');

  // The connection drops and stays down longer than the ack timeout (8 s, on the page's clock).
  await goOffline(alice);
  await alice.page.clock.fastForward(9_000);
  await expect(message(alice.page, text)).toContainText('sending');
  wire.fromServer = () => true;
  await comeBack(alice);

  // Resent under its client_id and found by catch-up: one line, sent, no Retry.
  await expect(message(alice.page, text)).toHaveCount(1);
  await expect(message(alice.page, text)).toContainText('sent');
  await expect(alice.page.getByRole('button', { name: 'Retry' })).toHaveCount(0);
  await expect(message(bob.page, text)).toHaveCount(1);
  expect(alice.errors).toEqual([]);
  await alice.context.close();
  await bob.context.close();
});

test('a rename and a join asked for while offline are done after the reconnect', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice-q'));
  const bob = await openChat(browser, nickname('bob-q'));
  const renamed = nickname('renamed');
  const room = `queued-${Math.floor(Math.random() * 1e6).toString(36)}`;

  await goOffline(alice);
  await say(alice.page, `/nick ${renamed}`);
  await expect(alice.page.getByText('Not connected: this will be done once the connection is back.')).toBeVisible();
  await alice.page.getByLabel('Join or create a room').fill(room);
  await alice.page.getByLabel('Join or create a room').press('Enter');
  await comeBack(alice);

  await expect(alice.page.locator('p.me')).toContainText(renamed);
  await expect(alice.page.getByRole('link', { name: new RegExp(`#\\s*${room}`) })).toBeVisible();
  await expect(bob.page.getByText(`${alice.nick} is now known as ${renamed}`)).toBeVisible();
  await alice.context.close();
  await bob.context.close();
});

test('frames and error codes from a newer server never break the page', async ({ browser }) => {
  const wire = passThrough();
  const alice = await openRouted(browser, nickname('alice-new'), wire);
  const bob = await openChat(browser, nickname('bob-new'));

  // A frame type this page does not know: ignored.
  wire.page!.send(JSON.stringify({ type: 'reaction', room: 'general', seq: 1, emoji: '+1' }));
  // An error code it does not know: shown by its message.
  wire.page!.send(JSON.stringify({ type: 'error', code: 'brand_new', message: 'Something new happened' }));
  await expect(alice.page.getByText('Something new happened')).toBeVisible();
  // A history with an entry of a new kind, and a change shaped otherwise than this page reads it:
  // the messages beside them still show.
  const future = unique('beside a new kind of entry');
  wire.page!.send(
    JSON.stringify({
      type: 'history',
      room: 'general',
      complete: false,
      messages: [
        { type: 'poll', room: 'general', seq: 1, question: 'lunch?' },
        { type: 'edited', room: 'general', seq: 1, text: 'changed' },
        { type: 'message', room: 'general', seq: 900000, from: 'ghost', text: future, at: new Date().toISOString() },
      ],
    }),
  );
  await expect(message(alice.page, future)).toHaveCount(1);

  // And the page goes on working.
  const text = unique('still chatting');
  await say(bob.page, text);
  await expect(message(alice.page, text)).toHaveCount(1);
  expect(alice.errors).toEqual([]);
  await alice.context.close();
  await bob.context.close();
});

test('a tab older than its server is told a new version is available, and keeps its messages', async ({ browser }) => {
  const wire = passThrough();
  wire.rewrite = (f) => (f.type === 'welcome' ? { ...f, version: (f.version ?? 0) + 1 } : f);
  const alice = await openRouted(browser, nickname('alice-old'), wire);
  const banner = alice.page.getByText('A new version of chinwag is available.');
  await expect(banner).toBeVisible();
  await expect(alice.page.getByRole('button', { name: 'Reload' })).toBeVisible();

  // While a message is unsent the page does not offer to drop it.
  wire.fromServer = (f) => f.type !== 'ack';
  const text = unique('not yet sent');
  await say(alice.page, text);
  await expect(alice.page.getByText(/Reload once your 1 unsent message/)).toBeVisible();
  await expect(alice.page.getByRole('button', { name: 'Reload' })).toHaveCount(0);
  await expect(message(alice.page, text)).toContainText('sending');
  expect(alice.errors).toEqual([]);
  await alice.context.close();
});

test('"Load older messages" recovers from a request lost with the connection', async ({ browser }) => {
  test.setTimeout(60_000);
  const bob = await openChat(browser, nickname('bob-old'));
  const first = unique('the first of many');
  const box = bob.page.getByRole('textbox', { name: 'Message' });
  for (const text of [first, ...Array.from({ length: 55 }, (_, i) => unique(`filler ${i}`))]) {
    await box.fill(text);
    await box.press('Enter');
  }
  await expect(bob.page.locator('.msg.sending')).toHaveCount(0);
  // All stored: the first is more than a page (50) back.
  await expect(bob.page.locator('.msg.failed')).toHaveCount(0);

  const wire = passThrough();
  const alice = await openRouted(browser, nickname('alice-old'), wire);
  // The first request for older messages is lost.
  let dropped = 0;
  wire.fromPage = (f) => !(f.type === 'history' && f.before !== undefined && dropped++ === 0);
  await alice.page.getByRole('button', { name: 'Load older messages' }).click();
  // The request was made, and lost on the way: nothing older comes.
  await expect.poll(() => dropped).toBe(1);
  await expect(message(alice.page, first)).toHaveCount(0);

  await goOffline(alice);
  await comeBack(alice);
  await alice.page.getByRole('button', { name: 'Load older messages' }).click();
  await expect(message(alice.page, first)).toHaveCount(1);
  await alice.context.close();
  await bob.context.close();
});
