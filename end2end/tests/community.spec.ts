import { expect, test, type Page } from '@playwright/test';
import { admin, messages, nickname, openChat, say, unique, waitOnline } from './helpers';

test('web addresses in a message are links that open in a new tab; nothing else is markup', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));

  const tag = unique('links');
  const text = `${tag} see https://example.com/a?b=1&c=2, or (http://example.org/x). <b>not bold</b> javascript:alert(1)`;
  await say(ana.page, text);

  for (const page of [ana.page, bo.page]) {
    const line = messages(page).getByRole('listitem').filter({ hasText: tag });
    await expect(line).toHaveCount(1);
    const links = line.locator('.text a');
    await expect(links).toHaveCount(2);
    await expect(links.nth(0)).toHaveAttribute('href', 'https://example.com/a?b=1&c=2');
    await expect(links.nth(0)).toHaveText('https://example.com/a?b=1&c=2');
    await expect(links.nth(1)).toHaveAttribute('href', 'http://example.org/x');
    for (const i of [0, 1]) {
      await expect(links.nth(i)).toHaveAttribute('rel', 'noopener noreferrer nofollow ugc');
      await expect(links.nth(i)).toHaveAttribute('target', '_blank');
    }
    // The rest is shown exactly as typed: no <b> element, the sentence punctuation outside the links.
    await expect(line.locator('.text')).toHaveText(text);
    await expect(line.locator('.text b')).toHaveCount(0);
  }

  // The server-rendered page (a reload) shows the same links.
  await bo.page.reload();
  const stored = messages(bo.page).getByRole('listitem').filter({ hasText: tag });
  await expect(stored.locator('.text a')).toHaveCount(2);
  await expect(stored.locator('.text a').first()).toHaveAttribute('rel', 'noopener noreferrer nofollow ugc');

  // Following one opens a new tab, and the page that opens it cannot reach back to the chat.
  await bo.context.route('https://example.com/**', (route) => route.fulfill({ body: '<title>elsewhere</title>', contentType: 'text/html' }));
  const [popup] = await Promise.all([
    bo.context.waitForEvent('page'),
    stored.locator('.text a').first().click(),
  ]);
  await popup.waitForLoadState();
  expect(await popup.evaluate(() => window.opener)).toBeNull();
  await popup.close();

  expect(ana.errors).toEqual([]);
  expect(bo.errors).toEqual([]);
  await ana.context.close();
  await bo.context.close();
});

test('an author edits and deletes a message; every browser sees it, live and after a reload', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  const cy = await openChat(browser, nickname('cy'));

  const tag = unique('edit');
  await say(ana.page, `${tag} helo wrold`);
  const mine = messages(ana.page).getByRole('listitem').filter({ hasText: tag });
  await expect(mine).toHaveClass(/sent/);

  // Only the author is offered the change.
  await expect(mine.getByRole('button', { name: 'Edit' })).toBeVisible();
  for (const page of [bo.page, cy.page]) {
    const line = messages(page).getByRole('listitem').filter({ hasText: tag });
    await expect(line).toHaveCount(1);
    await expect(line.getByRole('button', { name: 'Edit' })).toHaveCount(0);
    await expect(line.getByRole('button', { name: 'Delete' })).toHaveCount(0);
  }

  // Edit in place: Enter saves.
  await mine.getByRole('button', { name: 'Edit' }).click();
  const box = mine.getByRole('textbox', { name: 'Edit message' });
  await expect(box).toHaveValue(`${tag} helo wrold`);
  await box.fill(`${tag} hello world`);
  await box.press('Enter');
  for (const page of [ana.page, bo.page, cy.page]) {
    const line = messages(page).getByRole('listitem').filter({ hasText: tag });
    await expect(line.locator('.text')).toHaveText(`${tag} hello world`);
    await expect(line.locator('.edited')).toHaveText('(edited)');
  }

  // Cy reloads: the server-rendered page shows the current version.
  await cy.page.reload();
  const reloaded = messages(cy.page).getByRole('listitem').filter({ hasText: tag });
  await expect(reloaded.locator('.text')).toHaveText(`${tag} hello world`);
  await expect(reloaded.locator('.edited')).toBeVisible();

  // Delete: a tombstone everywhere, the words gone.
  const edited = messages(ana.page).getByRole('listitem').filter({ hasText: tag });
  await edited.getByRole('button', { name: 'Delete' }).click();
  for (const page of [ana.page, bo.page, cy.page]) {
    await expect(messages(page).getByText(`${tag} hello world`)).toHaveCount(0);
    await expect(messages(page).locator('li.deleted').filter({ hasText: 'message deleted' }).last()).toBeVisible();
  }
  await bo.page.reload();
  await expect(messages(bo.page).getByText(tag)).toHaveCount(0);

  for (const user of [ana, bo, cy]) {
    expect(user.errors).toEqual([]);
    await user.context.close();
  }
});

test('an edit made while a browser was away reaches it on reconnect', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  const tag = unique('away');
  await say(ana.page, `${tag} first draft`);
  await expect(messages(bo.page).getByText(`${tag} first draft`)).toBeVisible();

  await bo.context.setOffline(true);
  await expect(bo.page.getByRole('status')).toHaveText(/Offline/, { timeout: 15_000 });
  const mine = messages(ana.page).getByRole('listitem').filter({ hasText: tag });
  await mine.getByRole('button', { name: 'Edit' }).click();
  await mine.getByRole('textbox', { name: 'Edit message' }).fill(`${tag} final words`);
  await mine.getByRole('button', { name: 'Save' }).click();
  await expect(mine.locator('.text')).toHaveText(`${tag} final words`);

  await bo.context.setOffline(false);
  await expect(bo.page.getByRole('status')).toHaveText(/Online/, { timeout: 20_000 });
  const line = messages(bo.page).getByRole('listitem').filter({ hasText: tag });
  await expect(line.locator('.text')).toHaveText(`${tag} final words`);
  await expect(line).toHaveCount(1);

  expect(ana.errors).toEqual([]);
  await ana.context.close();
  await bo.context.close();
});

/** Pretends the tab went to the background (Playwright's pages are always visible). */
async function hide(page: import('@playwright/test').Page) {
  await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  });
}

async function show(page: import('@playwright/test').Page) {
  await page.evaluate(() => {
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
    document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));
  });
}

test('a mention is highlighted, badges its room, and in a hidden tab counts in the title and notifies', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  // Bo allowed notifications; the page's notifications are recorded.
  const bo = await openChat(browser, nickname('bo'), async (context) => {
    await context.grantPermissions(['notifications']);
    await context.addInitScript(() => {
      const real = window.Notification;
      const shown: { title: string; body?: string }[] = [];
      (window as unknown as { __shown: typeof shown }).__shown = shown;
      function Recorded(title: string, options?: NotificationOptions) {
        shown.push({ title, body: options?.body });
      }
      Object.defineProperty(Recorded, 'permission', { get: () => real.permission });
      (Recorded as unknown as { requestPermission: unknown }).requestPermission = real.requestPermission.bind(real);
      (window as unknown as { Notification: unknown }).Notification = Recorded;
    });
  });
  // Notifications are offered in the settings menu, never asked for on load: Ana has not answered.
  for (const user of [ana, bo]) await user.page.getByRole('button', { name: 'Settings' }).click();
  await expect(ana.page.getByRole('button', { name: 'Turn on notifications' })).toBeVisible();
  await expect(bo.page.getByRole('button', { name: 'Turn on notifications' })).toHaveCount(0);
  await expect(bo.page.getByText('Notifications are on')).toBeVisible();
  for (const user of [ana, bo]) await user.page.keyboard.press('Escape');
  await expect(ana.page.getByRole('button', { name: 'Turn on notifications' })).toBeHidden();

  // Bo reads a private conversation, so #general is not on screen.
  await bo.page.getByRole('list', { name: 'Online' }).getByRole('button', { name: ana.nick }).click();
  const tag = unique('mention');
  await say(ana.page, `${tag} hey @${bo.nick}, look`);
  const general = bo.page.locator('.sidebar .conv').filter({ hasText: '# general' });
  await expect(general.locator('.mention-badge')).toContainText('@1');
  // Highlighted for everyone, strongly for Bo.
  const inAnas = messages(ana.page).getByRole('listitem').filter({ hasText: tag });
  await expect(inAnas.locator('.mention')).toHaveText(`@${bo.nick}`);
  await expect(inAnas.locator('.mention.me')).toHaveCount(0);
  await general.click();
  await expect(general.locator('.mention-badge')).toHaveCount(0);
  const inBos = messages(bo.page).getByRole('listitem').filter({ hasText: tag });
  await expect(inBos.locator('.mention.me')).toHaveText(`@${bo.nick}`);

  // In the background: the title counts mentions and private messages, each notified.
  await hide(bo.page);
  await say(ana.page, `@${bo.nick} one`);
  await say(ana.page, `@${bo.nick} two`);
  await say(ana.page, 'nothing for bo');
  await say(ana.page, `/msg ${bo.nick} three`);
  await expect(bo.page).toHaveTitle('(3) chinwag');
  const shown = await bo.page.evaluate(() => (window as unknown as { __shown: { title: string; body?: string }[] }).__shown);
  expect(shown.map((n) => n.body)).toEqual([`@${bo.nick} one`, `@${bo.nick} two`, 'three']);
  expect(shown[0].title).toBe(`${ana.nick} mentioned you in #general`);
  await show(bo.page);
  await expect(bo.page).toHaveTitle('chinwag');

  expect(ana.errors).toEqual([]);
  expect(bo.errors).toEqual([]);
  await ana.context.close();
  await bo.context.close();
});

test('a moderator made by chinwag admin deletes a message and bans; three browsers see it', async ({ browser }) => {
  const mod = await openChat(browser, nickname('mod'));
  const ana = await openChat(browser, nickname('ana'));
  const troll = await openChat(browser, nickname('troll'));
  // Banning refuses new sessions from the banned person's address, and every browser of this suite
  // comes from 127.0.0.1: the ban is lifted however the test ends.
  try {
    // The operator prints a one-time link; the moderator opens it in their browser.
    const link = admin('moderator-link', '--url', test.info().project.use.baseURL ?? '').split('\n')[0];
    expect(link).toMatch(/\/moderator\/[A-Za-z0-9_-]+$/);
    await mod.page.goto(link);
    await mod.page.getByRole('button', { name: 'Make me a moderator' }).click();
    await waitOnline(mod.page);
    await expect(mod.page.getByRole('link', { name: 'Moderation log' })).toBeVisible();
    await expect(ana.page.getByRole('link', { name: 'Moderation log' })).toHaveCount(0);

    // The troll posts; only the moderator is offered to delete it.
    const tag = unique('spam');
    await say(troll.page, `${tag} buy cheap stuff`);
    const spam = (page: Page) => messages(page).getByRole('listitem').filter({ hasText: tag });
    await expect(spam(ana.page)).toHaveCount(1);
    await expect(spam(ana.page).getByRole('button', { name: 'Delete' })).toHaveCount(0);
    await spam(mod.page).getByRole('button', { name: 'Delete' }).click();
    for (const page of [mod.page, ana.page, troll.page]) {
      await expect(messages(page).getByText(`${tag} buy cheap stuff`)).toHaveCount(0);
      await expect(messages(page).locator('li.deleted').last()).toHaveText(/message deleted/);
    }

    // The ban, from the online list: everyone is told; the troll is disconnected and stays out.
    const online = mod.page.getByRole('list', { name: 'Online' });
    await online.getByRole('listitem').filter({ hasText: troll.nick }).getByRole('button', { name: 'Ban' }).click();
    for (const page of [mod.page, ana.page]) {
      await expect(messages(page).locator('li.notice').filter({ hasText: `${troll.nick} was banned by ${mod.nick}` })).toBeVisible();
      await expect(page.getByRole('list', { name: 'Online' }).getByText(troll.nick)).toHaveCount(0);
    }
    await expect(troll.page.getByRole('status')).toHaveText(/Banned/);
    await expect(messages(troll.page).locator('li.notice').filter({ hasText: 'banned you until' })).toBeVisible();
    // Reloaded, the page is the ban and nothing of the chat.
    await troll.page.reload();
    await expect(troll.page.getByRole('alert')).toHaveText(/banned you from this chat until/);
    await expect(messages(troll.page)).toHaveCount(0);
    // A new session from the same address is refused too.
    const fresh = await browser.newContext();
    const page = await fresh.newPage();
    await page.goto('/');
    await page.getByLabel('Nickname').fill(nickname('innocent'));
    await page.getByRole('button', { name: 'Join' }).click();
    await expect(page.getByRole('alert')).toHaveText(/banned/);
    await fresh.close();

    // The moderation log has both actions, stored.
    await mod.page.goto('/moderation');
    const log = mod.page.locator('#audit');
    await expect(log.getByRole('row').filter({ hasText: 'ban' }).filter({ hasText: troll.nick })).toHaveCount(1);
    await expect(log.getByRole('row').filter({ hasText: 'delete' }).filter({ hasText: troll.nick })).toHaveCount(1);
  } finally {
    admin('lift-ban', troll.nick);
  }
  for (const user of [mod, ana]) {
    expect(user.errors).toEqual([]);
  }
  for (const user of [mod, ana, troll]) await user.context.close();
});

test('a bot made by chinwag admin is marked as a bot in the online list', async ({ browser }) => {
  const name = nickname('helper');
  const token = admin('bot', name).split('\n')[0];
  const ana = await openChat(browser, nickname('ana'));
  // The bot: a websocket naming its session, from a page of its own.
  const botContext = await browser.newContext();
  const botPage = await botContext.newPage();
  await botPage.goto('/');
  await botPage.evaluate((token) => {
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', session: token }));
    (window as unknown as { bot: WebSocket }).bot = ws;
  }, token);
  const row = ana.page.getByRole('list', { name: 'Online' }).getByRole('listitem').filter({ hasText: name });
  await expect(row.locator('.bot-badge')).toHaveText('bot');
  // Someone arriving later sees it marked too.
  const bo = await openChat(browser, nickname('bo'));
  await expect(bo.page.getByRole('list', { name: 'Online' }).getByRole('listitem').filter({ hasText: name }).locator('.bot-badge')).toBeVisible();
  await expect(ana.page.getByRole('list', { name: 'Online' }).getByRole('listitem').filter({ hasText: ana.nick }).locator('.bot-badge')).toHaveCount(0);
  for (const user of [ana, bo]) {
    expect(user.errors).toEqual([]);
    await user.context.close();
  }
  await botContext.close();
});
