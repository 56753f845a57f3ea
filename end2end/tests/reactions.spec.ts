import { expect, test } from '@playwright/test';
import { message, nickname, openChat, say, unique } from './helpers';

test('a reaction from one browser shows in another, with who reacted; a click on the chip takes it back', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  const text = unique('lunch at noon?');
  await say(ana.page, text);

  // Bo picks an emoji from the keyboard: the picker's button, its search field, Enter.
  const line = message(bo.page, text);
  await line.getByRole('button', { name: 'Add a reaction' }).focus();
  await bo.page.keyboard.press('Enter');
  const find = line.getByRole('searchbox', { name: 'Find an emoji' });
  await find.fill('pizza');
  await expect(line.locator('.pick')).toHaveCount(1);
  await line.getByRole('button', { name: /🍕/ }).press('Enter');

  // Ana sees it, with Bo's name for screen readers and on hover; it is not hers.
  const chip = message(ana.page, text).locator('button.reaction');
  await expect(chip).toHaveCount(1);
  await expect(chip).toContainText('🍕');
  await expect(chip).toContainText('1');
  await expect(chip).toHaveAttribute('aria-label', `🍕 1: ${bo.nick}`);
  await expect(chip).toHaveAttribute('aria-pressed', 'false');
  // Ana adds hers by clicking the chip: two, hers highlighted.
  await chip.click();
  await expect(chip).toContainText('2');
  await expect(chip).toHaveAttribute('aria-pressed', 'true');
  const boChip = message(bo.page, text).locator('button.reaction');
  await expect(boChip).toContainText('2');
  // Bo takes his back.
  await boChip.click();
  await expect(chip).toContainText('1');
  await expect(chip).toHaveAttribute('aria-label', `🍕 1: ${ana.nick}`);
  // A reload shows what is stored.
  await ana.page.reload();
  await expect(message(ana.page, text).locator('button.reaction')).toHaveAttribute('aria-label', `🍕 1: ${ana.nick}`);
  for (const user of [ana, bo]) await user.context.close();
});

test('a reaction to a private message shows in the other browser, and is stored with it', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  await ana.page.getByRole('list', { name: 'Online' }).getByRole('button', { name: bo.nick }).click();
  const text = unique('coffee later?');
  await say(ana.page, text);
  await bo.page.getByRole('list', { name: 'Online' }).getByRole('button', { name: ana.nick }).click();

  // Bo reacts from the picker on Ana's private message.
  const line = message(bo.page, text);
  await line.getByRole('button', { name: 'Add a reaction' }).click();
  await line.getByRole('searchbox', { name: 'Find an emoji' }).fill('coffee');
  await line.getByRole('button', { name: /☕/ }).click();

  // Ana sees it on her own message (which learnt its id from the ack), with Bo's name.
  const chip = message(ana.page, text).locator('button.reaction');
  await expect(chip).toHaveAttribute('aria-label', `☕ 1: ${bo.nick}`);
  await expect(chip).toHaveAttribute('aria-pressed', 'false');
  // Ana adds hers; Bo sees two.
  await chip.click();
  await expect(message(bo.page, text).locator('button.reaction')).toContainText('2');

  // Bo takes his back; Ana sees it go, and after a reload (her private history) it is as stored.
  await message(bo.page, text).locator('button.reaction').click();
  await expect(chip).toHaveAttribute('aria-label', `☕ 1: ${ana.nick}`);
  await ana.page.reload();
  await ana.page.getByRole('list', { name: 'Online' }).getByRole('button', { name: bo.nick }).click();
  const stored = message(ana.page, text).locator('button.reaction');
  await expect(stored).toHaveAttribute('aria-label', `☕ 1: ${ana.nick}`);
  await expect(stored).toHaveAttribute('aria-pressed', 'true');
  for (const user of [ana, bo]) await user.context.close();
});
