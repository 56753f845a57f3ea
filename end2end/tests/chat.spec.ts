import { expect, test } from '@playwright/test';
import { message, messages, nickname, openChat, unique } from './helpers';

test('the server-rendered page already has the message list and the composer', async ({ request }) => {
  // Pick a nickname with a plain form post, as a browser without wasm would.
  const join = await request.post('/join', { form: { nick: nickname('ssr') } });
  expect(join.ok()).toBeTruthy();
  const response = await request.get('/');
  expect(response.ok()).toBeTruthy();
  expect(response.headers()['content-type']).toContain('text/html');
  const html = await response.text();
  expect(html).toMatch(/<ul[^>]*aria-label="Messages"/);
  expect(html).toMatch(/<form[^>]*class="composer"/);
  expect(html).toMatch(/<input[^>]*aria-label="Message"/);
  expect(html).toMatch(/<button[^>]*type="submit"[^>]*>Send<\/button>/);
  // And it loads the wasm client that will hydrate it.
  expect(html).toContain('/pkg/chinwag');
});

test('without JavaScript a newcomer can pick a nickname and see the chat', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  const nick = nickname('nojs');
  await page.getByLabel('Nickname').fill(nick);
  await page.getByRole('button', { name: 'Join' }).click();
  await expect(page.getByRole('list', { name: 'Messages' })).toBeAttached();
  await expect(page.getByRole('textbox', { name: 'Message' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Send' })).toBeVisible();
  await expect(page.locator('p.me')).toContainText(nick);
  await expect(page.locator('.app')).toHaveAttribute('data-hydrated', 'false');

  // Posting works too: a plain form post, stored and shown to everyone connected.
  const watcher = await openChat(browser, nickname('watcher'));
  const text = unique('posted without js');
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(message(page, text)).toHaveCount(1);
  await expect(message(watcher.page, text)).toContainText(nick);
  await watcher.context.close();
  await context.close();
});

test('the page hydrates, connects, and logs no errors', async ({ browser }) => {
  const user = await openChat(browser, nickname('hydra'));
  await expect(user.page).toHaveTitle('chinwag');
  await expect(user.page.locator('p.me')).toContainText(user.nick);
  expect(user.errors).toEqual([]);
  await user.context.close();
});

test('two people chat: Enter and Send both work, each message shows once', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));

  const hello = unique('hello bob');
  const box = alice.page.getByRole('textbox', { name: 'Message' });
  await box.fill(hello);
  await box.press('Enter');
  await expect(box).toHaveValue('');

  // Alice sees her own message at once and then sees it confirmed; it is never doubled.
  const mine = message(alice.page, hello);
  await expect(mine).toHaveCount(1);
  await expect(mine).toContainText('sent');
  // Bob gets it with Alice's name on it.
  const theirs = message(bob.page, hello);
  await expect(theirs).toHaveCount(1);
  await expect(theirs).toContainText(alice.nick);

  const reply = unique('hi alice');
  await bob.page.getByRole('textbox', { name: 'Message' }).fill(reply);
  await bob.page.getByRole('button', { name: 'Send' }).click();
  await expect(message(alice.page, reply)).toContainText(bob.nick);
  await expect(message(bob.page, reply)).toHaveCount(1);

  // Give any stray echo time to arrive, then check nothing was doubled.
  await alice.page.waitForTimeout(300);
  await expect(message(alice.page, hello)).toHaveCount(1);
  await expect(message(bob.page, reply)).toHaveCount(1);

  expect(alice.errors).toEqual([]);
  expect(bob.errors).toEqual([]);
  await alice.context.close();
  await bob.context.close();
});

test('a message written while offline is shown as sending, then sent after the reconnect', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice-off'));
  const bob = await openChat(browser, nickname('bob-on'));

  await alice.context.setOffline(true);
  await expect(alice.page.getByRole('status')).toHaveText(/Offline/, { timeout: 15_000 });

  const text = unique('written offline');
  await alice.page.getByRole('textbox', { name: 'Message' }).fill(text);
  await alice.page.getByRole('button', { name: 'Send' }).click();
  await expect(message(alice.page, text)).toContainText('sending');

  await alice.context.setOffline(false);
  await expect(alice.page.getByRole('status')).toHaveText(/Online/, { timeout: 20_000 });
  await expect(message(alice.page, text)).toContainText('sent');
  await expect(message(bob.page, text)).toHaveCount(1);

  await alice.context.close();
  await bob.context.close();
});

test('the list follows new messages, but not while the reader has scrolled up', async ({ browser }) => {
  const alice = await openChat(browser, nickname('scroller'));
  const bob = await openChat(browser, nickname('talker'));
  await alice.page.setViewportSize({ width: 390, height: 640 });

  const box = bob.page.getByRole('textbox', { name: 'Message' });
  let last = '';
  for (let i = 0; i < 25; i++) {
    last = unique(`line ${i}`);
    await box.fill(last);
    await box.press('Enter');
  }
  await expect(message(alice.page, last)).toBeInViewport();

  // Scroll up to read older lines: a new message must not yank the view down.
  await messages(alice.page).evaluate((el) => (el.scrollTop = 0));
  const next = unique('while reading');
  await box.fill(next);
  await box.press('Enter');
  await expect(message(alice.page, next)).toHaveCount(1);
  await alice.page.waitForTimeout(200);
  await expect(message(alice.page, next)).not.toBeInViewport();

  await alice.context.close();
  await bob.context.close();
});

test('history: a reload and a late joiner both see what was said', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const text = unique('remember this');
  const box = alice.page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
  await expect(message(alice.page, text)).toContainText('sent');

  await alice.page.reload();
  await expect(alice.page.locator('[data-hydrated="true"]')).toBeVisible();
  await expect(message(alice.page, text)).toHaveCount(1);
  await expect(message(alice.page, text)).toHaveClass(/mine/);

  const late = await openChat(browser, nickname('late'));
  await expect(message(late.page, text)).toContainText(alice.nick);
  await alice.context.close();
  await late.context.close();
});

test('after an offline spell every participant has the same messages, once each', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  const carol = await openChat(browser, nickname('carol'));
  const users = [alice, bob, carol];
  const sent: string[] = [];
  const sayAs = async (page: typeof alice.page, text: string) => {
    const box = page.getByRole('textbox', { name: 'Message' });
    await box.fill(text);
    await box.press('Enter');
    sent.push(text);
  };

  await alice.context.setOffline(true);
  await expect(alice.page.getByRole('status')).toHaveText(/Offline/, { timeout: 15_000 });
  for (let i = 0; i < 3; i++) {
    await sayAs(alice.page, unique(`from the tunnel ${i}`));
    await sayAs(bob.page, unique(`meanwhile ${i}`));
  }
  await sayAs(carol.page, unique('anyone there?'));
  await alice.context.setOffline(false);
  await expect(alice.page.getByRole('status')).toHaveText(/Online/, { timeout: 20_000 });

  for (const user of users) {
    for (const text of sent) {
      await expect(message(user.page, text), `${user.nick} has "${text}" once`).toHaveCount(1);
    }
    await expect(user.page.locator('.msg.sending')).toHaveCount(0);
  }
  for (const user of users) await user.context.close();
});

test('the page shows the latest 50 and loads older ones on request', async ({ browser }) => {
  const bob = await openChat(browser, nickname('bob'));
  const first = unique('the very first');
  const box = bob.page.getByRole('textbox', { name: 'Message' });
  for (const text of [first, ...Array.from({ length: 55 }, (_, i) => unique(`filler ${i}`))]) {
    await box.fill(text);
    await box.press('Enter');
  }
  await expect(bob.page.locator('.msg.sending')).toHaveCount(0);

  const alice = await openChat(browser, nickname('alice'));
  await expect(message(alice.page, first)).toHaveCount(0);
  await alice.page.getByRole('button', { name: 'Load older messages' }).click();
  await expect(message(alice.page, first)).toHaveCount(1);
  await alice.context.close();
  await bob.context.close();
});
