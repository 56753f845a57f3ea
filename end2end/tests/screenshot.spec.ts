import { expect, test } from '@playwright/test';
import { openChat } from './helpers';

// Writes the README's screenshot. Runs only when asked: `CHINWAG_SCREENSHOT=1 scripts/test`.
test('README screenshot', async ({ browser }) => {
  test.skip(!process.env.CHINWAG_SCREENSHOT, 'set CHINWAG_SCREENSHOT=1 to refresh docs/screenshot.png');
  const alice = await openChat(browser, 'alice');
  const bob = await openChat(browser, 'bob');
  await alice.page.setViewportSize({ width: 1000, height: 640 });
  const say = async (page: typeof alice.page, text: string) => {
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('textbox', { name: 'Message' }).press('Enter');
  };
  await say(bob.page, 'hey alice, is the new chat up?');
  await say(alice.page, 'it is! Leptos page, axum websocket, one Rust codebase');
  await say(bob.page, 'and my message shows up before the server even acks it');
  await say(alice.page, 'sent ✓');
  await expect(alice.page.getByText('sent ✓')).toBeVisible();
  await expect(alice.page.locator('.msg.sending')).toHaveCount(0);
  await alice.page.screenshot({ path: '../docs/screenshot.png' });
  await alice.context.close();
  await bob.context.close();
});
