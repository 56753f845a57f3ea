import { expect, test } from '@playwright/test';
import { message, nickname, openChat, say, unique } from './helpers';

// On a 390 px wide screen the conversation has the screen; rooms, private conversations and who is
// online are a drawer opened from the top bar.
test('on a phone the conversation has the screen and the rest is a drawer', async ({ browser }, testInfo) => {
  const alice = await openChat(browser, nickname('phone'));
  const bob = await openChat(browser, nickname('friend'));
  const page = alice.page;
  await page.setViewportSize({ width: 390, height: 844 });

  const text = unique('seen on a phone');
  await say(bob.page, text);
  await expect(message(page, text)).toBeVisible();

  // Nothing squeezes above the conversation: the list of rooms and people is hidden.
  const rooms = page.getByRole('navigation', { name: 'Rooms' });
  await expect(rooms).toBeHidden();
  const list = await page.getByRole('list', { name: 'Messages' }).boundingBox();
  expect(list!.height).toBeGreaterThan(844 * 0.6);
  await expect(page.getByRole('textbox', { name: 'Message' })).toBeInViewport();
  await page.screenshot({ path: testInfo.outputPath('phone-conversation.png') });

  // The top bar is one line: everything in it sits on the same row, and the settings are a menu.
  const bar = await page.locator('.topbar').boundingBox();
  expect(bar!.height).toBeLessThan(60);
  for (const item of ['.brand', '.drawer-toggle', '.status .dot', '.settings-button']) {
    const box = await page.locator(item).boundingBox();
    expect(box!.y + box!.height, item).toBeLessThanOrEqual(bar!.y + bar!.height);
    expect(box!.x + box!.width, item).toBeLessThanOrEqual(390);
  }
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('link', { name: 'Account and devices' })).toBeInViewport();
  await page.screenshot({ path: testInfo.outputPath('phone-settings.png') });
  await page.keyboard.press('Escape');

  // The drawer opens from the top bar, over the conversation, and says what is unread.
  const toggle = page.getByRole('link', { name: /Rooms & people/ });
  await expect(toggle).toHaveAttribute('aria-expanded', 'false');
  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-expanded', 'true');
  await expect(rooms).toBeVisible();
  await expect(page.getByRole('list', { name: 'Online' }).getByText(bob.nick)).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('phone-drawer.png') });

  // Opening a conversation from it closes it: a private message to bob fills the screen.
  await page.getByRole('list', { name: 'Online' }).getByRole('button', { name: bob.nick }).click();
  await expect(rooms).toBeHidden();
  await expect(page.getByRole('heading', { name: `@ ${bob.nick}` })).toBeVisible();

  // A message in another conversation shows on the toggle while the drawer is closed.
  await say(bob.page, unique('back in general'));
  await expect(toggle).toContainText('1 unread');
  await toggle.click();
  await page.getByRole('link', { name: /# general/ }).click();
  await expect(rooms).toBeHidden();
  await expect(page.getByRole('heading', { name: '# general' })).toBeVisible();
  expect(alice.errors).toEqual([]);
  await alice.context.close();
  await bob.context.close();
});
