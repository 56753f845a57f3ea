import { execFileSync } from 'node:child_process';
import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

/** A user: a browser context of its own (own storage, own websocket) with the chat open. */
export interface User {
  context: BrowserContext;
  page: Page;
  nick: string;
  /** Console errors and uncaught exceptions seen on the page. */
  errors: string[];
}

/**
 * Opens the chat as a new user: picks `nick` in the nickname form and waits until online. `prepare`
 * runs on the new context before any page opens (to route its websocket, say).
 */
export async function openChat(
  browser: Browser,
  nick: string,
  prepare?: (context: BrowserContext) => Promise<void>,
): Promise<User> {
  const context = await browser.newContext();
  if (prepare) await prepare(context);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto('/');
  await page.getByLabel('Nickname').fill(nick);
  await page.getByRole('button', { name: 'Join' }).click();
  await waitOnline(page);
  return { context, page, nick, errors };
}

/** Waits until the page is hydrated and its websocket welcomed. */
export async function waitOnline(page: Page) {
  await expect(page.locator('[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByRole('status')).toHaveText(/Online/);
}

/** A nickname no other test (or earlier run against the same server) has used. */
export function nickname(prefix: string): string {
  return `${prefix}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Types into the composer and presses Enter. */
export async function say(page: Page, text: string) {
  const box = page.getByRole('textbox', { name: 'Message' });
  await box.fill(text);
  await box.press('Enter');
}

export function messages(page: Page) {
  return page.getByRole('list', { name: 'Messages' });
}

/** The list item holding exactly this message text. */
export function message(page: Page, text: string) {
  return messages(page).getByRole('listitem').filter({ has: page.getByText(text, { exact: true }) });
}

/** A text no other test (or earlier run) has used. */
export function unique(prefix: string): string {
  return `${prefix} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Runs `chinwag admin ARGS` on the test server's own store; returns what it printed. */
export function admin(...args: string[]): string {
  const bin = process.env.CHINWAG_E2E_BIN;
  const data = process.env.CHINWAG_E2E_DATA;
  if (!bin || !data) throw new Error('playwright.config.ts sets CHINWAG_E2E_BIN and CHINWAG_E2E_DATA');
  const env: NodeJS.ProcessEnv = { ...process.env, CHINWAG_DATA_DIR: data };
  delete env.DATABASE_URL;
  return execFileSync(bin, ['admin', ...args], { env, encoding: 'utf8' });
}
