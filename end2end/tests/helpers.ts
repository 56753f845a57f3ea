import { expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

/** A user: a browser context of its own (own storage, own websocket) with the chat open. */
export interface User {
  context: BrowserContext;
  page: Page;
  nick: string;
  /** Console errors and uncaught exceptions seen on the page. */
  errors: string[];
}

/** Opens the chat as a new user with the given nickname and waits until it is online. */
export async function openChat(browser: Browser, nick: string): Promise<User> {
  const context = await browser.newContext();
  // The client keeps its nickname in localStorage; seed it so each test knows who is who.
  await context.addInitScript((name) => window.localStorage.setItem('chinwag.nick', name), nick);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto('/');
  await expect(page.locator('main[data-hydrated="true"]')).toBeVisible();
  await expect(page.getByRole('status')).toHaveText(/Online/);
  return { context, page, nick, errors };
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
