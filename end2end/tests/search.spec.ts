import { expect, test } from '@playwright/test';
import { message, messages, nickname, openChat, unique } from './helpers';

test('search finds an old message, highlights the words, and a click lands on it in its history', async ({ browser }) => {
  const bob = await openChat(browser, nickname('bob'));
  // A word nobody else writes, then enough messages that it is no longer among the page's latest.
  const word = `q${Math.random().toString(36).slice(2, 10)}`;
  const box = bob.page.getByRole('textbox', { name: 'Message' });
  for (const text of [`deploy ${word} to staging`, ...Array.from({ length: 60 }, (_, i) => unique(`filler ${i}`))]) {
    await box.fill(text);
    await box.press('Enter');
  }
  await expect(bob.page.locator('.msg.sending')).toHaveCount(0);

  const alice = await openChat(browser, nickname('alice'));
  await expect(message(alice.page, word)).toHaveCount(0);
  // Ctrl+K moves to the search field from anywhere.
  await alice.page.getByRole('textbox', { name: 'Message' }).focus();
  await alice.page.keyboard.press('Control+K');
  const field = alice.page.getByRole('searchbox', { name: 'Search messages' });
  await expect(field).toBeFocused();
  // Case folded, and the last word is a prefix.
  await field.fill(`DEPLOY ${word.slice(0, 6)}`);
  await field.press('Enter');
  const results = alice.page.getByRole('region', { name: 'Search results' });
  const hit = results.getByRole('button').filter({ hasText: word });
  await expect(hit).toHaveCount(1);
  await expect(hit).toContainText('#general');
  await expect(hit.locator('mark')).toHaveText(['deploy', word]);

  await hit.click();
  await expect(results).toHaveCount(0);
  const line = messages(alice.page).locator('li.jumped');
  await expect(line).toContainText(word);
  await expect(line).toBeInViewport();
  await alice.context.close();
  await bob.context.close();
});
