import { expect, test } from '@playwright/test';
import { messages, nickname, openChat, say, unique } from './helpers';

test('web addresses in a message are links that open in a new tab; nothing else is markup', async ({ browser }) => {
  const ana = await openChat(browser, nickname('ana'));
  const bo = await openChat(browser, nickname('bo'));

  const tag = unique('links');
  const text = `${tag} see https://example.com/a?b=1&c=2, or (http://example.org/x). <b>not bold</b> javascript:alert(1)`;
  await say(ana.page, text);

  for (const page of [ana.page, bo.page]) {
    const line = messages(page).getByRole('listitem').filter({ hasText: tag });
    await expect(line).toHaveCount(1);
    const links = line.locator('.text a');
    await expect(links).toHaveCount(2);
    await expect(links.nth(0)).toHaveAttribute('href', 'https://example.com/a?b=1&c=2');
    await expect(links.nth(0)).toHaveText('https://example.com/a?b=1&c=2');
    await expect(links.nth(1)).toHaveAttribute('href', 'http://example.org/x');
    for (const i of [0, 1]) {
      await expect(links.nth(i)).toHaveAttribute('rel', 'noopener noreferrer nofollow ugc');
      await expect(links.nth(i)).toHaveAttribute('target', '_blank');
    }
    // The rest is shown exactly as typed: no <b> element, the sentence punctuation outside the links.
    await expect(line.locator('.text')).toHaveText(text);
    await expect(line.locator('.text b')).toHaveCount(0);
  }

  // The server-rendered page (a reload) shows the same links.
  await bo.page.reload();
  const stored = messages(bo.page).getByRole('listitem').filter({ hasText: tag });
  await expect(stored.locator('.text a')).toHaveCount(2);
  await expect(stored.locator('.text a').first()).toHaveAttribute('rel', 'noopener noreferrer nofollow ugc');

  // Following one opens a new tab, and the page that opens it cannot reach back to the chat.
  await bo.context.route('https://example.com/**', (route) => route.fulfill({ body: '<title>elsewhere</title>', contentType: 'text/html' }));
  const [popup] = await Promise.all([
    bo.context.waitForEvent('page'),
    stored.locator('.text a').first().click(),
  ]);
  await popup.waitForLoadState();
  expect(await popup.evaluate(() => window.opener)).toBeNull();
  await popup.close();

  expect(ana.errors).toEqual([]);
  expect(bo.errors).toEqual([]);
  await ana.context.close();
  await bo.context.close();
});
