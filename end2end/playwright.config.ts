import { defineConfig } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

// The tests drive a real chinwag server, started here from the binary `scripts/test` builds
// (`cargo leptos build`), on a port of its own so a running dev server is not disturbed.
const PORT = process.env.CHINWAG_E2E_PORT ?? '3107';
const BIN = process.env.CHINWAG_BIN ?? 'target/debug/chinwag';
const BASE_URL = `http://127.0.0.1:${PORT}`;
// A store of its own for every run, so runs never see each other's history.
const DATA_DIR = process.env.CHINWAG_E2E_DATA ?? mkdtempSync(join(tmpdir(), 'chinwag-e2e-'));
// The test workers inherit these: tests that run `chinwag admin` use the server's own store.
process.env.CHINWAG_E2E_DATA = DATA_DIR;
process.env.CHINWAG_E2E_BIN = resolve(__dirname, '..', BIN);

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  // One server is shared; tests use their own nicknames and texts, but run one at a time so
  // two tests' traffic never races on this 2-core machine.
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: BASE_URL,
    trace: 'retain-on-failure',
    // Debian's Chromium: Playwright's own browser download is not reachable here.
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: {
    command: BIN,
    cwd: '..',
    url: BASE_URL,
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${PORT}`,
      CHINWAG_DATA_DIR: DATA_DIR,
      RUST_LOG: 'warn',
      // Every browser of the suite comes from 127.0.0.1, so the per-address limits on new names,
      // rooms and form posts (production values: about 30 of each at once) would count the whole
      // suite as one person. They have tests of their own (tests/it/abuse.rs).
      CHINWAG_SESSIONS_PER_MINUTE: '600',
      CHINWAG_SESSIONS_BURST: '600',
      CHINWAG_ROOMS_PER_MINUTE: '600',
      CHINWAG_ROOMS_BURST: '600',
      CHINWAG_FORMS_PER_MINUTE: '600',
      CHINWAG_FORMS_BURST: '600',
      // Scripted users post faster than people: a test that fills a room with 56 messages would
      // otherwise meet the per-session message rate (10 a second, bursts of 20) halfway.
      CHINWAG_RATE_PER_SEC: '200',
      CHINWAG_RATE_BURST: '400',
      CHINWAG_ADDRESS_RATE_PER_SEC: '1000',
      CHINWAG_ADDRESS_RATE_BURST: '2000',
      CHINWAG_NEW_CONNECTIONS_PER_SEC: '1000',
      CHINWAG_NEW_CONNECTIONS_BURST: '2000',
      CHINWAG_RENAMES_PER_HOUR: '1000',
      CHINWAG_RENAMES_BURST: '100',
      // Every browser of the suite also shares one address: a ban covers no one else's session.
      CHINWAG_BAN_REACH: '1ms',
    },
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
  },
});
