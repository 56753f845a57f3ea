import AxeBuilder from '@axe-core/playwright';
import { expect, test, type Page } from '@playwright/test';
import { message, messages, nickname, openChat, say, unique, waitOnline } from './helpers';

const online = (page: Page) => page.getByRole('list', { name: 'Online' });
const typingLine = (page: Page) => page.locator('.typing');
/** A room (link) or private conversation (button) in the sidebar. */
const conversation = (page: Page, name: string) => page.locator('.sidebar .conv').filter({ hasText: new RegExp(name) });

test('three people: names, join notices and the online list with its count', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  const carol = await openChat(browser, nickname('carol'));

  for (const user of [alice, bob, carol]) {
    const list = online(user.page);
    for (const other of [alice, bob, carol]) {
      await expect(list.getByText(other.nick, { exact: false })).toBeVisible();
    }
    await expect(user.page.getByRole('heading', { name: /Online/ })).toContainText(/\d+/);
  }
  // Alice saw the other two arrive, once each.
  await expect(messages(alice.page).getByText(`${bob.nick} joined`)).toHaveCount(1);
  await expect(messages(alice.page).getByText(`${carol.nick} joined`)).toHaveCount(1);
  // Bob is listed as "(you)" on his own page.
  await expect(online(bob.page).getByText(`${bob.nick} (you)`)).toBeVisible();

  // Carol leaves: the others see it once, and she drops off the list.
  await carol.context.close();
  await expect(messages(alice.page).getByText(`${carol.nick} left`)).toHaveCount(1, { timeout: 10_000 });
  await expect(online(alice.page).getByText(carol.nick)).toHaveCount(0);
  await alice.context.close();
  await bob.context.close();
});

test('a name in use is refused in the form, and a reload keeps my name without flapping', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));

  const intruder = await browser.newContext();
  const page = await intruder.newPage();
  await page.goto('/');
  await page.getByLabel('Nickname').fill(alice.nick.toUpperCase());
  await page.getByRole('button', { name: 'Join' }).click();
  await expect(page.getByRole('alert')).toContainText('in use');
  await intruder.close();

  await bob.page.reload();
  await waitOnline(bob.page);
  await expect(bob.page.locator('p.me')).toContainText(bob.nick);
  await bob.page.waitForTimeout(4000); // past the leave grace
  await expect(messages(alice.page).getByText(`${bob.nick} left`)).toHaveCount(0);
  await expect(messages(alice.page).getByText(`${bob.nick} joined`)).toHaveCount(1);
  await alice.context.close();
  await bob.context.close();
});

test('renaming with /nick tells everyone and updates the online list', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  const renamed = nickname('alicia');
  await say(alice.page, `/nick ${renamed}`);
  await expect(alice.page.locator('p.me')).toContainText(renamed);
  await expect(messages(bob.page).getByText(`${alice.nick} is now known as ${renamed}`)).toBeVisible();
  await expect(online(bob.page).getByText(renamed)).toBeVisible();
  await expect(online(bob.page).getByText(alice.nick, { exact: true })).toHaveCount(0);
  await alice.context.close();
  await bob.context.close();
});

test('the typing line names one, then two typers, and clears on send and on blur', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  const carol = await openChat(browser, nickname('carol'));

  await bob.page.getByRole('textbox', { name: 'Message' }).pressSequentially('hel');
  await expect(typingLine(alice.page)).toHaveText(`${bob.nick} is typing…`);
  await expect(typingLine(bob.page)).toHaveText('', { timeout: 1000 }); // never my own

  await carol.page.getByRole('textbox', { name: 'Message' }).pressSequentially('hey');
  const [first, second] = [bob.nick, carol.nick].sort((a, b) => a.localeCompare(b));
  await expect(typingLine(alice.page)).toHaveText(`${first} and ${second} are typing…`);

  await bob.page.getByRole('textbox', { name: 'Message' }).press('Enter');
  await expect(typingLine(alice.page)).toHaveText(`${carol.nick} is typing…`);
  await carol.page.getByRole('textbox', { name: 'Message' }).blur();
  await expect(typingLine(alice.page)).toHaveText('');
  for (const u of [alice, bob, carol]) await u.context.close();
});

test('private messages: click a name, only the two see it, with an unread badge', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  const carol = await openChat(browser, nickname('carol'));

  await online(alice.page).getByRole('button', { name: bob.nick }).click();
  await expect(alice.page.getByRole('heading', { name: `@ ${bob.nick}` })).toBeVisible();
  const secret = unique('just between us');
  await say(alice.page, secret);
  await expect(message(alice.page, secret)).toContainText('sent');

  // Bob is in #general: the conversation appears with a badge.
  const badge = conversation(bob.page, alice.nick);
  await expect(badge).toContainText('1 unread');
  await expect(message(bob.page, secret)).toHaveCount(0);
  await badge.click();
  await expect(message(bob.page, secret)).toHaveCount(1);
  await expect(conversation(bob.page, alice.nick)).not.toContainText('unread');

  // Carol never sees it, anywhere.
  await expect(conversation(carol.page, alice.nick)).toHaveCount(0);
  await expect(carol.page.getByText(secret)).toHaveCount(0);

  // /msg works from the keyboard too, and /me shows an action.
  await say(carol.page, `/msg ${alice.nick} psst`);
  await expect(conversation(alice.page, carol.nick)).toContainText('1 unread');
  await conversation(alice.page, '# general').click();
  await conversation(bob.page, '# general').click();
  // A private message to myself is refused locally, never posted to the room.
  const toSelf = unique('note to self');
  await say(alice.page, `/msg ${alice.nick} ${toSelf}`);
  await expect(alice.page.getByText('You cannot send a private message to yourself.')).toBeVisible();
  await say(alice.page, '/me waves');
  await expect(messages(bob.page).getByText(`* ${alice.nick} waves`)).toBeVisible();
  await expect(bob.page.getByText(toSelf)).toHaveCount(0);
  for (const u of [alice, bob, carol]) await u.context.close();
});

test('a refused message is shown as failed and Retry sends it once', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));

  // A private message to a name nobody holds is refused.
  const ghost = nickname('ghost');
  const text = unique('are you there');
  await say(alice.page, `/msg ${ghost} ${text}`);
  const line = message(alice.page, text);
  await expect(line).toContainText('not sent');
  await expect(messages(alice.page).getByText(/nobody is called/)).toBeVisible();

  // Someone takes that name; Retry delivers it to them, once.
  const bob = await openChat(browser, ghost);
  await line.getByRole('button', { name: 'Retry' }).click();
  await expect(message(alice.page, text)).toContainText('sent');
  await conversation(bob.page, alice.nick).click();
  await expect(message(bob.page, text)).toHaveCount(1);
  await alice.context.close();
  await bob.context.close();
});

test('a private message to someone offline is kept for them and delivered when they come back', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  await online(alice.page).getByRole('button', { name: bob.nick }).click();

  // Bob walks away: after the grace he is offline, and a message to him is still sent.
  await bob.page.goto('about:blank');
  await conversation(alice.page, '# general').click();
  await expect(messages(alice.page).getByText(`${bob.nick} left`)).toBeVisible({ timeout: 10_000 });
  await conversation(alice.page, bob.nick).click();
  const text = unique('for when you are back');
  await say(alice.page, text);
  await expect(message(alice.page, text)).toContainText('sent');

  // He comes back (same browser, same session): it is waiting for him, unread.
  await bob.page.goto('/');
  await waitOnline(bob.page);
  await expect(conversation(bob.page, alice.nick)).toBeVisible();
  await conversation(bob.page, alice.nick).click();
  await expect(message(bob.page, text)).toHaveCount(1);
  await alice.context.close();
  await bob.context.close();
});

test('everything works from the keyboard', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  // Tab reaches the person button; Enter opens the conversation; typing and Enter sends.
  const person = online(alice.page).getByRole('button', { name: bob.nick });
  await person.focus();
  await alice.page.keyboard.press('Enter');
  await expect(alice.page.getByRole('heading', { name: `@ ${bob.nick}` })).toBeVisible();
  await alice.page.keyboard.press('Tab');
  await alice.page.getByRole('textbox', { name: 'Message' }).focus();
  const text = unique('typed');
  await alice.page.keyboard.type(text);
  await alice.page.keyboard.press('Enter');
  await expect(message(alice.page, text)).toContainText('sent');
  await alice.context.close();
  await bob.context.close();
});

test('no serious accessibility violations, and new messages are announced politely', async ({ browser }) => {
  const joinContext = await browser.newContext();
  const joinPage = await joinContext.newPage();
  await joinPage.goto('/');
  const joinScan = await new AxeBuilder({ page: joinPage }).analyze();
  const serious = (v: { impact?: string | null }) => v.impact === 'serious' || v.impact === 'critical';
  expect(joinScan.violations.filter(serious).map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await joinContext.close();

  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  await say(bob.page, unique('hello'));
  await online(alice.page).getByRole('button', { name: bob.nick }).waitFor();
  await say(bob.page, `/msg ${alice.nick} hi`);
  await expect(conversation(alice.page, bob.nick)).toContainText('unread');
  const scan = await new AxeBuilder({ page: alice.page }).analyze();
  expect(scan.violations.filter(serious).map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  await expect(messages(alice.page)).toHaveAttribute('aria-live', 'polite');
  await alice.context.close();
  await bob.context.close();
});
