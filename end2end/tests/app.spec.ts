import { expect, test } from '@playwright/test';
import { nickname, openChat, waitOnline } from './helpers';

/** A PNG's width and height, from its header. */
function pngSize(bytes: Buffer): [number, number] {
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

test('the manifest names an installable app whose icons load at their sizes', async ({ page }) => {
  await page.goto('/');
  const href = await page.locator('link[rel="manifest"]').getAttribute('href');
  expect(href).toBe('/manifest.webmanifest');
  const response = await page.request.get(href!);
  expect(response.ok()).toBe(true);
  expect(response.headers()['content-type']).toContain('manifest+json');
  const manifest = await response.json();
  expect(manifest).toMatchObject({
    name: 'chinwag',
    short_name: 'chinwag',
    start_url: '/',
    display: 'standalone',
    theme_color: expect.stringMatching(/^#[0-9a-f]{6}$/),
    background_color: expect.stringMatching(/^#[0-9a-f]{6}$/),
  });
  const icons: { src: string; sizes: string; type: string; purpose?: string }[] = manifest.icons;
  expect(icons.map((icon) => icon.sizes).sort()).toEqual(['192x192', '512x512', '512x512']);
  expect(icons.some((icon) => icon.purpose?.split(' ').includes('maskable'))).toBe(true);
  for (const icon of icons) {
    const image = await page.request.get(icon.src);
    expect(image.ok(), icon.src).toBe(true);
    expect(image.headers()['content-type']).toBe(icon.type);
    const [width, height] = pngSize(await image.body());
    expect(`${width}x${height}`).toBe(icon.sizes);
  }
});

test('the service worker keeps the build: a second visit loads no wasm or JS from the network, and offline shows a page', async ({ browser }) => {
  const user = await openChat(browser, nickname('pwa'));
  const page = user.page;
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);
  expect(scope).toMatch(/\/$/);

  // What the page loads, and whether the network or the worker's cache answered.
  const fromNetwork: string[] = [];
  const fromWorker: string[] = [];
  page.on('response', (response) => {
    const url = new URL(response.url());
    if (!url.pathname.startsWith('/pkg/')) return;
    (response.fromServiceWorker() ? fromWorker : fromNetwork).push(url.pathname);
  });
  user.context.on('request', (request) => {
    const url = new URL(request.url());
    if (request.serviceWorker() && url.pathname.startsWith('/pkg/')) fromNetwork.push(url.pathname);
  });
  await page.reload();
  await waitOnline(page);
  expect(fromWorker.some((path) => path.endsWith('.wasm')), fromWorker.join(' ')).toBe(true);
  expect(fromWorker.some((path) => path.endsWith('.js'))).toBe(true);
  expect(fromNetwork).toEqual([]);

  // Pages are never kept: offline, a navigation gets the offline page, not a stale chat.
  await user.context.setOffline(true);
  await page.goto('/r/general').catch(() => {});
  await expect(page.getByRole('heading', { name: 'You are offline' })).toBeVisible();
  await user.context.setOffline(false);
  await page.goto('/');
  await waitOnline(page);
  await user.context.close();
});

test('the worker takes only this build\'s hashed files and never the APIs', async ({ request }) => {
  const response = await request.get('/sw.js');
  expect(response.ok()).toBe(true);
  expect(response.headers()['content-type']).toContain('javascript');
  expect(response.headers()['cache-control']).toBe('no-cache');
  const script = await response.text();
  const assets: string[] = JSON.parse(/const ASSETS = (\[.*\]);/.exec(script)![1]);
  expect(assets.some((path) => /^\/pkg\/chinwag\.[\w-]+\.wasm$/.test(path))).toBe(true);
  expect(assets.some((path) => /^\/pkg\/chinwag\.[\w-]+\.js$/.test(path))).toBe(true);
  expect(assets.every((path) => path.startsWith('/pkg/'))).toBe(true);
  // Every file it names is served now.
  for (const path of assets) expect((await request.get(path)).ok(), path).toBe(true);
});

test('a push message shows a notification that links to its conversation, which the link opens', async ({ browser, baseURL }) => {
  const ana = await openChat(browser, nickname('ana'));
  const user = await openChat(browser, nickname('push'));
  const page = user.page;
  await user.context.grantPermissions(['notifications'], { origin: baseURL });
  await page.evaluate(async () => (await navigator.serviceWorker.ready).scope);

  // Chromium's DevTools protocol delivers a push message to the worker, as a push service would.
  const cdp = await user.context.newCDPSession(page);
  const registration = new Promise<string>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const live = registrations.find((r: { isDeleted: boolean }) => !r.isDeleted);
      if (live) resolve(live.registrationId);
    });
  });
  await cdp.send('ServiceWorker.enable');
  const payload = { title: `${ana.nick} (private)`, body: 'psst', tag: 'dm', url: `/?dm=${ana.nick}` };
  await cdp.send('ServiceWorker.deliverPushMessage', {
    origin: baseURL!,
    registrationId: await registration,
    data: JSON.stringify(payload),
  });
  const shown = () =>
    page.evaluate(async () => {
      const notes = await (await navigator.serviceWorker.ready).getNotifications();
      return notes.map((n) => ({ title: n.title, body: n.body, url: n.data?.url }));
    });
  const link = new URL(payload.url, baseURL).href;
  await expect.poll(shown).toEqual([{ title: payload.title, body: 'psst', url: link }]);

  // What a click opens: the private conversation with Ana.
  await page.goto(payload.url);
  await waitOnline(page);
  await expect(page.getByRole('heading', { name: `@ ${ana.nick}` })).toBeVisible();
  for (const u of [ana, user]) await u.context.close();
});
