import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test, type Browser, type BrowserContext, type CDPSession, type Page } from '@playwright/test';
import { message, nickname, openChat, say, unique, waitOnline } from './helpers';
import { waitFor } from './processes';

// People, not cookies: one person on several browser contexts (devices). Passkeys with
// Chromium's virtual authenticator (WebAuthn refuses an IP address as the relying party, so those
// pages are opened on `localhost`), a password without JavaScript, a one-time device link,
// signing other devices out live, read positions that clear badges everywhere, and an
// invite-only server of the test's own.

const rooms = (page: Page) => page.getByRole('navigation', { name: 'Rooms' });
const roomLink = (page: Page, room: string) => rooms(page).getByRole('link', { name: new RegExp(`# ${room}\\b`) });

/** The suite's server, as `localhost` (the same server, another origin for the browser). */
function localhost(): string {
  const base = test.info().project.use.baseURL ?? '';
  return base.replace('127.0.0.1', 'localhost');
}

/** A second device of `nick`, signed in with a one-time link made on `from`'s account page. */
async function linkDevice(browser: Browser, from: Page, nick: string, baseURL?: string) {
  await from.goto('/account');
  await from.getByRole('button', { name: 'Make a sign-in link' }).click();
  const link = await from.locator('#device-link').getAttribute('href');
  expect(link).toMatch(/\/link\/[A-Za-z0-9_-]+$/);
  const context = await browser.newContext(baseURL ? { baseURL } : {});
  const page = await context.newPage();
  await page.goto(link!);
  await page.getByRole('button', { name: `Sign in as ${nick}` }).click();
  await waitOnline(page);
  await expect(page.locator('p.me')).toContainText(nick);
  return { context, page, link: link! };
}

/** Chromium's virtual authenticator on `page`: a platform passkey store that says yes. */
async function authenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

test('a passkey added on one device signs the person in on another', async ({ browser }) => {
  const base = localhost();
  const nick = nickname('pk');
  const laptop = await browser.newContext({ baseURL: base });
  const page = await laptop.newPage();
  await page.goto('/');
  await page.getByLabel('Nickname').fill(nick);
  await page.getByRole('button', { name: 'Join' }).click();
  await waitOnline(page);
  const laptopKeys = await authenticator(page);

  await page.goto('/account');
  await expect(page.locator('#guest')).toBeVisible();
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await expect(page.getByText('Your passkey is added.')).toBeVisible();
  await expect(page.locator('#secured')).toBeVisible();
  const { credentials } = await laptopKeys.cdp.send('WebAuthn.getCredentials', {
    authenticatorId: laptopKeys.id,
  });
  expect(credentials).toHaveLength(1);
  expect(credentials[0].isResidentCredential).toBe(true);

  // A second device holding the same passkey (as a synced passkey would be).
  const phone = await browser.newContext({ baseURL: base });
  const phonePage = await phone.newPage();
  await phonePage.goto('/login');
  const phoneKeys = await authenticator(phonePage);
  await phoneKeys.cdp.send('WebAuthn.addCredential', {
    authenticatorId: phoneKeys.id,
    credential: credentials[0],
  });
  await phonePage.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await waitOnline(phonePage);
  await expect(phonePage.locator('p.me')).toContainText(nick);
  // One person: what the phone says, the laptop shows as its own.
  await page.goto('/');
  await waitOnline(page);
  const text = unique('from the phone');
  await say(phonePage, text);
  await expect(message(page, text)).toHaveCount(1);
  await laptop.close();
  await phone.close();
});

test('a guest sets a password and signs in on a browser without JavaScript', async ({ browser }) => {
  const alice = await openChat(browser, nickname('pw'));
  await alice.page.goto('/account');
  await alice.page.getByLabel('New password', { exact: true }).fill('correct horse battery');
  await alice.page.getByLabel('New password again').fill('correct horse battery');
  await alice.page.getByRole('button', { name: 'Set password' }).click();
  await expect(alice.page.getByText('Your password is saved.')).toBeVisible();

  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Name').fill(alice.nick);
  await page.getByLabel('Password').fill('not it at all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('That name and password do not match.')).toBeVisible();
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.locator('p.me')).toContainText(alice.nick);
  await expect(page.getByRole('textbox', { name: 'Message' })).toBeVisible();
  await alice.context.close();
  await context.close();
});

test('a device link signs another browser in once, and signing out elsewhere closes it live', async ({ browser }) => {
  const alice = await openChat(browser, nickname('link'));
  const phone = await linkDevice(browser, alice.page, alice.nick);
  await expect(alice.page.locator('.qr svg')).toBeVisible();

  // Used once: a third browser opening it is told so.
  const stranger = await browser.newContext();
  const strangerPage = await stranger.newPage();
  const answer = await strangerPage.goto(phone.link);
  expect(answer?.status()).toBe(410);
  await expect(strangerPage.getByText('This link was used already')).toBeVisible();

  // The account page lists both devices; signing out everywhere else closes the phone's chat.
  await alice.page.goto('/account');
  await expect(alice.page.locator('#devices tr[data-session]')).toHaveCount(2);
  await alice.page.getByRole('button', { name: 'Sign out everywhere else' }).click();
  await expect(phone.page).toHaveURL(/\/login\?error=signed_out/);
  await expect(phone.page.getByText('This device was signed out.')).toBeVisible();
  await expect(alice.page.locator('#devices tr[data-session]')).toHaveCount(1);
  await alice.context.close();
  await phone.context.close();
  await stranger.close();
});

test('reading on one device clears the unread badge on the other', async ({ browser }) => {
  const laptop = await openChat(browser, nickname('reader'));
  const phone = await linkDevice(browser, laptop.page, laptop.nick);
  await laptop.page.goto('/');
  await waitOnline(laptop.page);
  const bob = await openChat(browser, nickname('bob'));
  // The laptop looks at another room; the phone at #general.
  const room = `quiet-${Math.floor(Math.random() * 1e9).toString(36)}`;
  await laptop.page.getByLabel('Join or create a room').fill(`#${room}`);
  await laptop.page.getByLabel('Join or create a room').press('Enter');
  await expect(laptop.page.getByRole('heading', { name: `# ${room}` })).toBeVisible();
  await expect(phone.page.getByRole('heading', { name: '# general' })).toBeVisible();

  const news = unique('news for both');
  await say(bob.page, news);
  await expect(message(phone.page, news)).toHaveCount(1);
  // The phone showed it: the laptop's badge for #general goes (it may show for a moment first).
  await expect(roomLink(laptop.page, 'general')).not.toContainText('unread');
  // And it stays gone after a reload: the server has the position.
  await laptop.page.reload();
  await waitOnline(laptop.page);
  await expect(roomLink(laptop.page, 'general')).not.toContainText('unread');

  // The other way: the phone moves to the room, bob writes in #general; the laptop reads it there.
  await roomLink(phone.page, room).click();
  await expect(phone.page.getByRole('heading', { name: `# ${room}` })).toBeVisible();
  await roomLink(laptop.page, 'general').click();
  await expect(laptop.page.getByRole('heading', { name: '# general' })).toBeVisible();
  const more = unique('more news');
  await say(bob.page, more);
  await expect(message(laptop.page, more)).toHaveCount(1);
  await expect(roomLink(phone.page, 'general')).not.toContainText('unread');
  await laptop.context.close();
  await phone.context.close();
  await bob.context.close();
});

// An invite-only chat of this test's own: a chinwag on a free port with CHINWAG_SIGNUP=invite.
let invited: ChildProcess | undefined;
let invitedDir = '';
let invitedBase = '';

test.describe('an invite-only chat', () => {
  test.beforeAll(async () => {
    invitedDir = mkdtempSync(join(tmpdir(), 'chinwag-invite-'));
    const bin = process.env.CHINWAG_E2E_BIN!;
    invitedBase = await new Promise<string>((resolve, reject) => {
      const child = spawn(bin, [], {
        cwd: '..',
        env: {
          ...process.env,
          LEPTOS_SITE_ADDR: '127.0.0.1:0',
          CHINWAG_DATA_DIR: invitedDir,
          CHINWAG_SIGNUP: 'invite',
          RUST_LOG: 'warn',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      invited = child;
      child.on('error', reject);
      child.stdout!.on('data', (data: Buffer) => {
        const match = /running at (http:\/\/[^/\s]+)\//.exec(data.toString());
        if (match) resolve(match[1]);
      });
    });
    await waitFor('the invite-only server answers', async () => (await fetch(`${invitedBase}/healthz`)).ok);
  });

  test.afterAll(() => {
    invited?.kill('SIGKILL');
    rmSync(invitedDir, { recursive: true, force: true });
  });

  test('refuses the nickname form without an invitation and accepts it with one', async ({ browser }) => {
    const context: BrowserContext = await browser.newContext({ baseURL: invitedBase });
    const page = await context.newPage();
    await page.goto('/');
    await page.getByLabel('Nickname').fill(nickname('uninvited'));
    await page.getByRole('button', { name: 'Join' }).click();
    await expect(page.getByText('This chat is by invitation')).toBeVisible();
    await expect(page.getByRole('textbox', { name: 'Message' })).toHaveCount(0);

    const env: NodeJS.ProcessEnv = { ...process.env, CHINWAG_DATA_DIR: invitedDir };
    delete env.DATABASE_URL;
    const printed = execFileSync(
      process.env.CHINWAG_E2E_BIN!,
      ['admin', 'invite', '--uses', '1', '--url', invitedBase],
      { env, encoding: 'utf8' },
    );
    const link = printed.trim().split('\n').pop()!;
    expect(link).toMatch(/\/invite\/[A-Za-z0-9_-]+$/);
    await page.goto(link);
    const nick = nickname('invited');
    await page.getByLabel('Nickname').fill(nick);
    await page.getByRole('button', { name: 'Join' }).click();
    await waitOnline(page);
    await expect(page.locator('p.me')).toContainText(nick);

    // Used up: the next newcomer with it is refused.
    const other = await browser.newContext({ baseURL: invitedBase });
    const otherPage = await other.newPage();
    expect((await otherPage.goto(link))?.status()).toBe(410);
    await context.close();
    await other.close();
  });
});
