import { expect, test } from '@playwright/test';
import { openChat, say } from './helpers';

// Writes the README's screenshot. Runs only when asked: `CHINWAG_SCREENSHOT=1 npx playwright test screenshot`.
test('README screenshot', async ({ browser }) => {
  test.skip(!process.env.CHINWAG_SCREENSHOT, 'set CHINWAG_SCREENSHOT=1 to refresh docs/screenshot.png');
  const alice = await openChat(browser, 'alice');
  const bob = await openChat(browser, 'bob');
  const carol = await openChat(browser, 'carol');
  await alice.page.setViewportSize({ width: 1100, height: 660 });
  // A second room, with news in it while alice reads #general.
  for (const user of [alice, bob]) {
    await user.page.getByLabel('Join or create a room').fill('rust');
    await user.page.getByLabel('Join or create a room').press('Enter');
    await expect(user.page.getByRole('heading', { name: '# rust' })).toBeVisible();
  }
  await alice.page.getByRole('link', { name: /# general/ }).click();
  await bob.page.getByRole('textbox', { name: 'Message' }).fill('anyone tried the 2024 edition?');
  await bob.page.getByRole('textbox', { name: 'Message' }).press('Enter');
  await bob.page.getByRole('link', { name: /# general/ }).click();
  await say(bob.page, 'hey alice, is the new chat up?');
  await say(alice.page, 'it is! Leptos page, axum websocket, one Rust codebase');
  await say(bob.page, 'and my message shows up before the server even acks it');
  await say(carol.page, '/me waves at everyone');
  await say(alice.page, 'welcome carol!');
  await say(bob.page, `/msg alice lunch later?`);
  await expect(alice.page.getByText('1 unread')).toHaveCount(2);
  await carol.page.getByRole('textbox', { name: 'Message' }).pressSequentially('so what');
  await expect(alice.page.locator('.typing')).toHaveText('carol is typing…');
  await expect(alice.page.locator('.msg.sending')).toHaveCount(0);
  await alice.page.screenshot({ path: '../docs/screenshot.png' });
  for (const u of [alice, bob, carol]) await u.context.close();
});
