import { expect, test, type Page } from '@playwright/test';
import { message, messages, nickname, openChat, say, unique, waitOnline } from './helpers';

const rooms = (page: Page) => page.getByRole('navigation', { name: 'Rooms' });
const roomLink = (page: Page, room: string) => rooms(page).getByRole('link', { name: new RegExp(`# ${room}\\b`) });
const online = (page: Page) => page.getByRole('list', { name: 'Online' });

/** A room name no other test (or earlier run) has used. */
function roomName(prefix: string): string {
  return `${prefix}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}

test('rooms: create one, others join by its URL, switch by the list, unread counts, members only', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  const carol = await openChat(browser, nickname('carol'));
  const room = roomName('rust');

  // Alice creates the room from the sidebar; the page moves to its URL without a reload.
  await alice.page.getByLabel('Join or create a room').fill(`#${room}`);
  await alice.page.getByLabel('Join or create a room').press('Enter');
  await expect(alice.page).toHaveURL(new RegExp(`/r/${room}$`));
  await expect(alice.page.getByRole('heading', { name: `# ${room}` })).toBeVisible();
  await expect(roomLink(alice.page, room)).toHaveAttribute('aria-current', 'page');
  await expect(alice.page.getByRole('status')).toHaveText(/Online/);

  // Bob follows a link to it: he is offered to join, and then he is in.
  await bob.page.goto(`/r/${room}`);
  await waitOnline(bob.page);
  await expect(bob.page.getByRole('textbox', { name: 'Message' })).toHaveCount(0);
  await bob.page.getByRole('button', { name: `Join #${room}` }).click();
  await expect(bob.page.getByRole('textbox', { name: 'Message' })).toBeVisible();
  await expect(messages(alice.page).getByText(`${bob.nick} joined #${room}`)).toBeVisible();
  // The online list is the room's: alice and bob, not carol.
  await expect(online(alice.page).getByText(bob.nick)).toBeVisible();
  await expect(online(alice.page).getByText(carol.nick)).toHaveCount(0);

  const hello = unique('hello room');
  await say(bob.page, hello);
  await expect(message(alice.page, hello)).toContainText(bob.nick);
  // Carol is not a member: no room in her list, no message anywhere on her page.
  await expect(roomLink(carol.page, room)).toHaveCount(0);
  await expect(carol.page.getByText(hello)).toHaveCount(0);

  // Alice goes to #general by the list; what bob says in the room is counted as unread.
  await roomLink(alice.page, 'general').click();
  await expect(alice.page).toHaveURL(/\/$/);
  await expect(alice.page.getByRole('heading', { name: '# general' })).toBeVisible();
  const later = unique('while you were in general');
  await say(bob.page, later);
  await expect(roomLink(alice.page, room)).toContainText('1 unread');
  await expect(message(alice.page, later)).toHaveCount(0);
  await roomLink(alice.page, room).click();
  await expect(message(alice.page, later)).toHaveCount(1);
  await expect(roomLink(alice.page, room)).not.toContainText('unread');

  // The browser's back button goes back to #general; a reload of the room's URL shows its history.
  await alice.page.goBack();
  await expect(alice.page.getByRole('heading', { name: '# general' })).toBeVisible();
  await alice.page.goto(`/r/${room}`);
  await expect(message(alice.page, hello)).toHaveCount(1);
  await expect(message(alice.page, later)).toHaveCount(1);
  await waitOnline(alice.page);

  // Bob leaves: back in #general, the room gone from his list, and alice is told.
  await bob.page.getByRole('button', { name: `Leave #${room}` }).click();
  await expect(bob.page).toHaveURL(/\/$/);
  await expect(roomLink(bob.page, room)).toHaveCount(0);
  await expect(messages(alice.page).getByText(`${bob.nick} left #${room}`)).toBeVisible();
  await expect(online(alice.page).getByText(bob.nick)).toHaveCount(0);
  for (const u of [alice, bob, carol]) await u.context.close();
});

test('a room joined in one tab appears in the other, and typing stays in its room', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const other = await alice.context.newPage();
  await other.goto('/');
  await waitOnline(other);
  const bob = await openChat(browser, nickname('bob'));
  const room = roomName('tabs');

  await alice.page.getByLabel('Join or create a room').fill(room);
  await alice.page.getByRole('button', { name: 'Join', exact: true }).click();
  await expect(roomLink(other, room)).toBeVisible();

  // Bob types in #general: alice sees it there, not in the room.
  await bob.page.getByRole('textbox', { name: 'Message' }).fill('hmm');
  await expect(alice.page.locator('.typing')).toHaveText('');
  await roomLink(alice.page, 'general').click();
  await expect(alice.page.locator('.typing')).toHaveText(`${bob.nick} is typing…`);
  await alice.context.close();
  await bob.context.close();
});

test('without JavaScript a room can be joined, read and posted to', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const room = roomName('nojs');
  await alice.page.getByLabel('Join or create a room').fill(room);
  await alice.page.getByLabel('Join or create a room').press('Enter');
  await expect(alice.page.getByRole('heading', { name: `# ${room}` })).toBeVisible();
  const earlier = unique('said before dana came');
  await say(alice.page, earlier);
  await expect(message(alice.page, earlier)).toContainText('sent');

  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/');
  const nick = nickname('dana');
  await page.getByLabel('Nickname').fill(nick);
  await page.getByRole('button', { name: 'Join' }).click();
  await page.goto(`/r/${room}`);
  await page.getByRole('button', { name: `Join #${room}` }).click();
  await expect(page).toHaveURL(new RegExp(`/r/${room}$`));
  await expect(message(page, earlier)).toHaveCount(1);
  const text = unique('posted to a room without js');
  await page.getByRole('textbox', { name: 'Message' }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await expect(message(page, text)).toHaveCount(1);
  await expect(message(alice.page, text)).toContainText(nick);
  await context.close();
  await alice.context.close();
});
