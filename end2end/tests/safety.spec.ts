import { expect, test } from '@playwright/test';
import { message, nickname, openChat, say, unique } from './helpers';

test('markup in a message is shown as text and runs nothing', async ({ browser }) => {
  const alice = await openChat(browser, nickname('alice'));
  const bob = await openChat(browser, nickname('bob'));
  let dialogs = 0;
  for (const user of [alice, bob]) {
    user.page.on('dialog', async (dialog) => {
      dialogs += 1;
      await dialog.dismiss();
    });
  }
  const tag = unique('xss');
  const payloads = [
    `<img src=x onerror="window.__pwned='${tag}';alert(1)">`,
    `<script>window.__pwned='${tag}';alert(2)</script>`,
    `<a href="javascript:alert(3)">click ${tag}</a>`,
  ];
  for (const text of payloads) await say(alice.page, text);
  for (const user of [alice, bob]) {
    for (const text of payloads) {
      // Shown exactly as typed, as text.
      await expect(message(user.page, text)).toHaveCount(1);
    }
    // Nothing typed was turned into markup: no image or script in any message's text, and the only
    // links there are http(s) addresses people typed (none in these payloads). (Shared files are
    // shown beside the text, as previews and chips, and are not what this is about.)
    await expect(user.page.locator('.messages .text img, .messages .text script, .messages script')).toHaveCount(0);
    await expect(user.page.locator('.messages .text a:not([href^="http://"]):not([href^="https://"])')).toHaveCount(0);
    for (const text of payloads) await expect(message(user.page, text).locator('a')).toHaveCount(0);
    expect(await user.page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned)).toBeUndefined();
  }
  // After a reload the server-rendered copy is escaped too.
  await bob.page.reload();
  await expect(message(bob.page, payloads[0])).toHaveCount(1);
  await expect(bob.page.locator('.messages .text img')).toHaveCount(0);
  expect(dialogs).toBe(0);
  expect(alice.errors).toEqual([]);
  await alice.context.close();
  await bob.context.close();
});

test('the page is served with a Content-Security-Policy that still lets the wasm client run', async ({ browser, request }) => {
  const response = await request.get('/');
  const headers = response.headers();
  const csp = headers['content-security-policy'];
  expect(csp).toContain("'wasm-unsafe-eval'");
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=_-]+'/);
  expect(csp).not.toContain('unsafe-inline');
  expect(csp).toContain("frame-ancestors 'none'");
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['referrer-policy']).toBe('strict-origin-when-cross-origin');
  // And under that policy the page hydrates, connects and chats, with no violation reported.
  const user = await openChat(browser, nickname('csp'));
  const text = unique('under csp');
  await say(user.page, text);
  await expect(message(user.page, text)).toContainText('sent');
  expect(user.errors).toEqual([]);
  await user.context.close();
});

test('the client files carry content hashes, come compressed, and may be cached for a year', async ({ request }) => {
  // The nickname page is a plain form: its stylesheet, and no script or wasm to load.
  const form = await (await request.get('/')).text();
  expect([...new Set(form.match(/\/pkg\/[^"]+/g) ?? [])].map((a) => a.split('.').pop())).toEqual(['css']);
  // The chat page (after the form, with the session's cookie) loads the client.
  const page = await (await request.post('/join', { form: { nick: nickname('assets') } })).text();
  expect(page).toContain('aria-label="Messages"');
  const assets = [...new Set(page.match(/\/pkg\/[^"]+/g) ?? [])];
  // The stylesheet, the script and the wasm, each named by its content.
  expect(assets.map((a) => a.split('.').pop()).sort()).toEqual(['css', 'js', 'wasm']);
  for (const asset of assets) {
    expect(asset).toMatch(/^\/pkg\/chinwag\.[A-Za-z0-9_-]{16,}\.(css|js|wasm)$/);
    const response = await request.get(asset, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(response.status()).toBe(200);
    const headers = response.headers();
    expect(headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(['br', 'gzip']).toContain(headers['content-encoding']);
    expect(headers['vary']).toContain('accept-encoding');
  }
});
