import { expect, test, type Page } from '@playwright/test';
import { message, messages, nickname, openChat, say, unique, waitOnline } from './helpers';

const roomLink = (page: Page, room: string) =>
  page.getByRole('navigation', { name: 'Rooms' }).getByRole('link', { name: new RegExp(`# ${room}\\b`) });

/** Sends `count` messages quickly and waits until the server confirmed every one. */
async function post(page: Page, texts: string[]) {
  const box = page.getByRole('textbox', { name: 'Message' });
  for (const text of texts) {
    await box.fill(text);
    await box.press('Enter');
  }
  await expect(page.locator('.msg.sending')).toHaveCount(0);
}

test('a room reopened with unread messages opens at the first of them, a permalink at its message, each with Jump to latest', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  const room = `unread-${Math.floor(Math.random() * 1e9).toString(36)}`;
  await ana.page.getByLabel('Join or create a room').fill(`#${room}`);
  await ana.page.getByLabel('Join or create a room').press('Enter');
  await expect(ana.page.getByRole('heading', { name: `# ${room}` })).toBeVisible();
  await bo.page.goto(`/r/${room}`);
  await waitOnline(bo.page);
  await bo.page.getByRole('button', { name: `Join #${room}` }).click();
  await expect(bo.page.getByRole('textbox', { name: 'Message' })).toBeVisible();
  await say(bo.page, unique('back soon'));
  await roomLink(bo.page, 'general').click();
  await expect(bo.page.getByRole('heading', { name: '# general' })).toBeVisible();

  // While Bo is elsewhere, Ana says more than a screenful.
  const texts = Array.from({ length: 60 }, (_, i) => unique(`news ${i}`));
  await post(ana.page, texts);
  await expect(roomLink(bo.page, room)).toContainText('60');

  // Bo comes back: the first unread message is on screen under the "new messages" line, not the newest.
  await roomLink(bo.page, room).click();
  const first = message(bo.page, texts[0]);
  await expect(first).toHaveClass(/first-unread/);
  await expect(first).toBeInViewport();
  await expect(message(bo.page, texts[59])).not.toBeInViewport();
  const latest = bo.page.getByRole('button', { name: 'Jump to latest' });
  await latest.click();
  await expect(message(bo.page, texts[59])).toBeInViewport();
  await expect(latest).toHaveCount(0);

  // A permalink to the 10th opens the room there, highlighted, in a browser with and without JavaScript.
  // Bo's line of it is named by its place in the room (Ana's own by the id she sent it with).
  const id = await message(bo.page, texts[10]).getAttribute('data-id');
  const seq = id?.split(':')[1];
  expect(seq).toMatch(/^\d+$/);
  await bo.page.goto(`/r/${room}?at=${seq}`);
  await waitOnline(bo.page);
  const jumped = messages(bo.page).locator('li.jumped');
  await expect(jumped).toContainText(texts[10]);
  await expect(jumped).toBeInViewport();
  await bo.page.getByRole('button', { name: 'Jump to latest' }).click();
  await expect(message(bo.page, texts[59])).toBeInViewport();

  const plain = await browser.newContext({ javaScriptEnabled: false, storageState: await bo.context.storageState() });
  const page = await plain.newPage();
  await page.goto(`/r/${room}?at=${seq}`);
  await expect(messages(page).locator('li.jumped')).toContainText(texts[10]);
  await expect(message(page, texts[0])).toHaveCount(1);
  for (const context of [ana.context, bo.context, plain]) await context.close();
});
