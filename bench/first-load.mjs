// First load, measured from the outside, on chinwag (release build) and on the page it replaces
// (the socket.io 1.2.0 tutorial, bench/seed), both already running on loopback.
//
// 1. Bytes: each page and every asset it names, as served with `Accept-Encoding: br` (what goes on
//    the wire; node's http module does not decompress), and uncompressed. chinwag is measured twice:
//    the nickname page `/` (no session) and the chat page `/r/general` for a session whose room
//    holds 50 messages (the server renders them into the page).
// 2. Time to first message: headless Chromium, a fresh browser context per load (cold cache), from
//    navigation to a composer that can send. chinwag: the page is hydrated and its websocket
//    welcomed (the status says Online). The tutorial: its socket.io connection is up (its
//    `connect` event; jQuery has run by then, as the page's script needs it). Loads alternate
//    between the two pages, ROUNDS of each; the median and range are reported.
//
// Usage: node bench/first-load.mjs CHINWAG_URL SEED_URL OUT_JSON   (ROUNDS=7 by default)
import http from 'node:http';
import zlib from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../end2end/package.json'));
const { chromium } = require('@playwright/test');

const [chinwag, seed, outPath] = process.argv.slice(2);
if (!chinwag || !seed || !outPath) {
  console.error('usage: node bench/first-load.mjs CHINWAG_URL SEED_URL OUT_JSON');
  process.exit(2);
}
const ROUNDS = Number(process.env.ROUNDS || 7);
const HISTORY = 50;

/** One request; resolves with status, headers and the body's bytes exactly as sent. */
function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    if (body) req.write(body);
    req.end();
  });
}

function form(fields) {
  return new URLSearchParams(fields).toString();
}

/** A session with a nickname, as the join form makes one; returns its cookie header. */
async function newSession(base) {
  const nick = `bench${Math.floor(Math.random() * 1e6).toString(36)}`;
  const body = form({ nick });
  const res = await request(`${base}/join`, {
    method: 'POST',
    headers: { origin: base, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    body,
  });
  const cookies = [].concat(res.headers['set-cookie'] || []).map((c) => c.split(';')[0]);
  if (res.status !== 303 || cookies.length === 0) throw new Error(`POST /join answered ${res.status} without a cookie`);
  return cookies.join('; ');
}

async function say(base, cookie, text) {
  const body = form({ room: 'general', text });
  const res = await request(`${base}/say`, {
    method: 'POST',
    headers: { origin: base, cookie, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) },
    body,
  });
  if (res.status !== 303) throw new Error(`POST /say answered ${res.status}`);
}

/** The page and every asset it names under /pkg/ (chinwag) or as a script (the tutorial). */
async function weigh(base, pagePath, cookie) {
  const headers = cookie ? { cookie } : {};
  const page = await request(base + pagePath, { headers });
  if (page.status !== 200) throw new Error(`${pagePath} answered ${page.status}`);
  const html = page.body.toString('utf8');
  const assets = [...new Set([...html.matchAll(/(?:href|src)="(\/[^"]+\.(?:js|wasm|css))"/g)].map((m) => m[1]))];
  // The wasm is fetched by the script, which the page names; chinwag's preload link names it too.
  const rows = [];
  for (const asset of [pagePath, ...assets]) {
    const br = await request(base + asset, { headers: { ...headers, 'accept-encoding': 'br' } });
    const gz = await request(base + asset, { headers: { ...headers, 'accept-encoding': 'gzip' } });
    const raw = await request(base + asset, { headers });
    rows.push({
      asset,
      br: br.body.length,
      br_encoding: br.headers['content-encoding'] || 'identity',
      gzip: gz.body.length,
      gzip_encoding: gz.headers['content-encoding'] || 'identity',
      raw: raw.body.length,
      // The same bytes compressed here at the highest levels: the tutorial's Express sends them
      // uncompressed (as the tutorial has it); its CDN sent jQuery gzipped.
      gzip9: zlib.gzipSync(raw.body, { level: 9 }).length,
      br11: zlib.brotliCompressSync(raw.body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
      cache_control: br.headers['cache-control'] || '',
    });
  }
  return { path: pagePath, rows, total_br: rows.reduce((n, r) => n + r.br, 0) };
}

// Sets window.__ready (ms since navigation start) the moment the page can send a message.
const CHINWAG_READY = `(() => {
  const check = () => {
    if (window.__ready !== undefined) return;
    if (window.__hydrated === undefined && document.querySelector('[data-hydrated="true"]')) {
      window.__hydrated = performance.now();
    }
    if (window.__hydrated !== undefined && document.querySelector('.status[data-state="online"]')) {
      window.__ready = performance.now();
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true });
})();`;
// socket.io 1.x assigns window.io; wrap it so the page's own socket reports its connect.
const SEED_READY = `(() => {
  let io;
  Object.defineProperty(window, 'io', {
    configurable: true,
    get() { return io; },
    set(value) {
      io = function (...args) {
        const socket = value.apply(this, args);
        socket.on('connect', () => { if (window.__ready === undefined) window.__ready = performance.now(); });
        return socket;
      };
      Object.assign(io, value);
    },
  });
})();`;

async function timeToFirstMessage(browser, url, cookie, readyScript) {
  const origin = new URL(url).origin;
  const context = await browser.newContext();
  try {
    if (cookie) {
      const cookies = cookie.split('; ').map((pair) => {
        const at = pair.indexOf('=');
        return { name: pair.slice(0, at), value: pair.slice(at + 1), url: origin };
      });
      await context.addCookies(cookies);
    }
    await context.addInitScript(readyScript);
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push(msg.text()); });
    await page.goto(url, { waitUntil: 'commit' });
    try {
      await page.waitForFunction(() => window.__ready !== undefined, null, { timeout: 20_000, polling: 50 });
    } catch (err) {
      throw new Error(`${url} never became ready: ${problems.join(' | ') || err.message}`);
    }
    const t = await page.evaluate(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const wasm = performance.getEntriesByType('resource').find((e) => e.name.endsWith('.wasm'));
      return { ready: window.__ready, hydrated: window.__hydrated, html: nav && nav.responseEnd, wasm: wasm && wasm.responseEnd };
    });
    if (process.env.VERBOSE) console.log(url, JSON.stringify(t));
    return t.ready;
  } finally {
    await context.close();
  }
}

function summary(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  return { median_ms: median, min_ms: sorted[0], max_ms: sorted[sorted.length - 1], runs: values };
}

const cookie = await newSession(chinwag);
for (let i = 0; i < HISTORY; i++) {
  await say(chinwag, cookie, `message ${i + 1} of the history the chat page renders`);
}

const result = {
  pages: [await weigh(chinwag, '/', null), await weigh(chinwag, '/r/general', cookie), await weigh(seed, '/', null)],
  first_message: {},
};
result.pages[0].label = 'chinwag: nickname page';
result.pages[1].label = `chinwag: chat page, ${HISTORY} messages of history`;
result.pages[2].label = 'socket.io 1.2.0 tutorial (Express, jQuery 1.11.1)';

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});
try {
  const times = { chinwag: [], seed: [] };
  // One warm-up of each (the first Chromium context pays for process start-up), then alternate.
  await timeToFirstMessage(browser, `${chinwag}/r/general`, cookie, CHINWAG_READY);
  await timeToFirstMessage(browser, `${seed}/`, null, SEED_READY);
  for (let round = 0; round < ROUNDS; round++) {
    times.chinwag.push(await timeToFirstMessage(browser, `${chinwag}/r/general`, cookie, CHINWAG_READY));
    times.seed.push(await timeToFirstMessage(browser, `${seed}/`, null, SEED_READY));
  }
  result.first_message = { chinwag: summary(times.chinwag), seed: summary(times.seed), rounds: ROUNDS };
} finally {
  await browser.close();
}

fs.writeFileSync(outPath, JSON.stringify(result, null, 2) + '\n');
for (const page of result.pages) {
  console.log(`${page.label}: ${page.total_br} B with brotli`);
  for (const r of page.rows) console.log(`  ${r.asset}  br ${r.br} (${r.br_encoding})  raw ${r.raw}`);
}
console.log(`time to first message, median of ${ROUNDS}: chinwag ${result.first_message.chinwag.median_ms.toFixed(1)} ms, ` +
  `tutorial ${result.first_message.seed.median_ms.toFixed(1)} ms`);
