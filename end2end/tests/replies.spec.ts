import { expect, test } from '@playwright/test';
import { message, messages, nickname, openChat, say, unique } from './helpers';

test('a reply shows what it answers in another browser, and its quote opens the original', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  const original = unique('is the build green');
  await say(ana.page, original);
  const box = ana.page.getByRole('textbox', { name: 'Message' });
  for (let i = 0; i < 55; i++) {
    await box.fill(unique(`filler ${i}`));
    await box.press('Enter');
  }
  await expect(ana.page.locator('.msg.sending')).toHaveCount(0);

  // Bo answers the original: Reply, the composer says what it answers, then Enter.
  await message(bo.page, original).getByRole('button', { name: 'Reply' }).click();
  await expect(bo.page.locator('.replying')).toContainText(original);
  const answer = unique('yes, all green');
  const boBox = bo.page.getByRole('textbox', { name: 'Message' });
  await expect(boBox).toBeFocused();
  await boBox.fill(answer);
  await boBox.press('Enter');
  await expect(bo.page.locator('.replying')).toHaveCount(0);

  // Carol comes later: the original is older than what her page holds; the quote is there.
  const carol = await openChat(browser, nickname('carol'));
  for (const page of [ana.page, carol.page]) {
    const reply = message(page, answer);
    await expect(reply.locator('button.quote')).toContainText(ana.nick);
    await expect(reply.locator('button.quote')).toContainText(original);
  }
  await expect(message(carol.page, original).filter({ hasNot: carol.page.locator('button.quote') })).toHaveCount(0);
  await message(carol.page, answer).locator('button.quote').click();
  const jumped = messages(carol.page).locator('li.jumped');
  await expect(jumped).toContainText(original);
  await expect(jumped).toBeInViewport();
  for (const user of [ana, bo, carol]) await user.context.close();
});

test('a reply in a private conversation quotes the message it answers, and its quote opens it', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));
  await ana.page.getByRole('list', { name: 'Online' }).getByRole('button', { name: bo.nick }).click();
  const asked = unique('when do we ship');
  await say(ana.page, asked);
  await bo.page.getByRole('list', { name: 'Online' }).getByRole('button', { name: ana.nick }).click();
  await message(bo.page, asked).getByRole('button', { name: 'Reply' }).click();
  await expect(bo.page.locator('.replying')).toContainText(asked);
  const answer = unique('at six');
  await say(bo.page, answer);

  const reply = message(ana.page, answer);
  await expect(reply.locator('button.quote')).toContainText(ana.nick);
  await expect(reply.locator('button.quote')).toContainText(asked);
  await reply.locator('button.quote').click();
  await expect(messages(ana.page).locator('li.jumped')).toContainText(asked);
  for (const user of [ana, bo]) await user.context.close();
});
