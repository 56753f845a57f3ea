import { expect, test, type Browser } from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { message, nickname, say, waitOnline } from './helpers';
import { freePort, nginxConf, waitFor } from './processes';

// The install archive (scripts/release) on its own: unpacked in an empty directory, its binary
// started from there with the settings its systemd unit gives (nothing from the repository), behind
// Debian's nginx running the archive's site file, adapted only in ports and paths (a self-signed
// certificate for the TLS placeholders). Two browsers chat through it over HTTPS. The unit passes
// `systemd-analyze verify`. `scripts/test` builds the archive and names it in CHINWAG_ARCHIVE.

const ARCHIVE = process.env.CHINWAG_ARCHIVE ? resolve('..', process.env.CHINWAG_ARCHIVE) : '';
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

const started: ChildProcess[] = [];
let dir = '';
let app = '';
let base = '';

function run(command: string, args: string[], cwd?: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
  return result.stdout + result.stderr;
}

/** The status of a GET over HTTPS, the certificate not checked (it is the test's own). */
function status(url: string): Promise<number> {
  return new Promise((done, fail) => {
    get(url, { rejectUnauthorized: false }, (response) => {
      response.resume();
      done(response.statusCode ?? 0);
    }).on('error', fail);
  });
}

/** The `Environment=` settings of the unit, as the service would get them. */
function unitEnvironment(unit: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of unit.split('\n')) {
    const match = /^Environment=([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2];
  }
  return env;
}

test.describe('the install archive', () => {
  test.skip(!ARCHIVE, 'CHINWAG_ARCHIVE names no archive (scripts/test builds one)');

  test.beforeAll(async () => {
    test.setTimeout(60_000);
    dir = mkdtempSync(join(tmpdir(), 'chinwag-archive-'));
    run('tar', ['-xzf', ARCHIVE, '-C', dir]);
    const [top] = readdirSync(dir);
    app = join(dir, top);
    expect(top).toMatch(/^chinwag-\d+\.\d+\.\d+-linux-x86_64$/);

    const appPort = await freePort();
    const unit = readFileSync(join(app, 'chinwag.service'), 'utf8');
    const env = {
      PATH: '/usr/bin:/bin',
      ...unitEnvironment(unit),
      // Adapted: a free port, and a state directory of the test's own.
      LEPTOS_SITE_ADDR: `127.0.0.1:${appPort}`,
      CHINWAG_DATA_DIR: join(dir, 'state'),
    };
    const server = spawn(join(app, 'chinwag'), [], { cwd: app, env, stdio: ['ignore', 'pipe', 'inherit'] });
    started.push(server);
    await waitFor('chinwag answers', async () => (await fetch(`http://127.0.0.1:${appPort}/readyz`)).ok);

    // The site file as shipped, in ports and paths adapted; TLS with a throwaway certificate.
    const tls = join(dir, 'tls');
    mkdirSync(tls);
    run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-keyout', join(tls, 'privkey.pem'), '-out', join(tls, 'fullchain.pem'),
    ]);
    const httpsPort = await freePort();
    const httpPort = await freePort();
    const site = readFileSync(join(app, 'nginx-chinwag.conf'), 'utf8')
      .replaceAll('127.0.0.1:3000', `127.0.0.1:${appPort}`)
      .replaceAll('/etc/letsencrypt/live/chat.example.org', tls)
      .replace(/listen 443 ssl/g, `listen ${httpsPort} ssl`)
      .replace(/listen \[::\]:443 ssl/g, `listen [::1]:${httpsPort} ssl`)
      .replace(/listen 80;/g, `listen ${httpPort};`)
      .replace(/listen \[::\]:80;/g, `listen [::1]:${httpPort};`);
    writeFileSync(join(dir, 'site.conf'), site);
    // As Debian's nginx.conf includes a site.
    writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir, `  include ${dir}/site.conf;`));
    started.push(spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'inherit' }));
    base = `https://127.0.0.1:${httpsPort}`;
    await waitFor('nginx answers over HTTPS', async () => (await status(`${base}/healthz`)) === 200);
  });

  test.afterAll(async () => {
    for (const child of started) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    for (const child of started) if (child.exitCode === null) child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('says its version and commit, and its unit passes systemd-analyze verify', async () => {
    const version = run(join(app, 'chinwag'), ['--version']).trim();
    const shipped = readFileSync(join(app, 'VERSION'), 'utf8').trim();
    expect(version).toBe(`chinwag ${shipped}`);
    expect(version).not.toContain('development build');
    expect(version).toMatch(/^chinwag \d+\.\d+\.\d+ \([0-9a-f]{7,}/);

    // Verified where it would be installed: the unit's paths point into the unpacked archive.
    const unit = readFileSync(join(app, 'chinwag.service'), 'utf8').replaceAll('/opt/chinwag', app);
    const unitFile = join(dir, 'chinwag.service');
    writeFileSync(unitFile, unit);
    const verified = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    const complaints = (verified.stderr + verified.stdout)
      .split('\n')
      // A container has no running systemd to ask; that is not the unit's fault.
      .filter((line) => line.trim() && !/System has not been booted|Failed to connect to bus|Unit .*\.mount/.test(line));
    expect(complaints).toEqual([]);
    for (const setting of ['User=chinwag', 'StateDirectory=chinwag', 'ProtectSystem=strict', 'NoNewPrivileges=yes']) {
      expect(unit).toContain(setting);
    }
  });

  test('its admin commands work on the store of the running server', async () => {
    // The wrapper INSTALL.md uses is shipped, executable, and valid shell (it runs as root on a
    // host with the chinwag user, which this machine is not).
    const wrapper = join(app, 'chinwag-admin');
    expect(statSync(wrapper).mode & 0o111).not.toBe(0);
    expect(spawnSync('sh', ['-n', wrapper]).status).toBe(0);
    const env = { PATH: '/usr/bin:/bin', CHINWAG_DATA_DIR: join(dir, 'state') };
    const made = spawnSync(join(app, 'chinwag'), ['admin', 'moderator-link', '--url', 'https://chat.example.org'], { cwd: app, env, encoding: 'utf8' });
    expect(made.status).toBe(0);
    expect(made.stdout).toMatch(/^https:\/\/chat\.example\.org\/moderator\/\S+\n/);
    const log = spawnSync(join(app, 'chinwag'), ['admin', 'audit'], { cwd: app, env, encoding: 'utf8' });
    expect(log.stdout).toContain('chinwag admin\tmoderator_link');
  });

  async function open(browser: Browser, nick: string) {
    const context = await browser.newContext({ baseURL: base, ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => {
      // This site's certificate is self-signed (made by the test): browsers accept the page when
      // told to, but never a service worker from it, and say so in the console.
      if (msg.type() === 'error' && msg.text() !== 'An SSL certificate error occurred when fetching the script.') {
        errors.push(msg.text());
      }
    });
    await page.goto('/');
    await page.getByLabel('Nickname').fill(nick);
    await page.getByRole('button', { name: 'Join' }).click();
    await waitOnline(page);
    return { context, page, nick, errors };
  }

  test('two browsers chat through nginx over HTTPS', async ({ browser }) => {
    const ann = await open(browser, nickname('ann'));
    const bo = await open(browser, nickname('bo'));
    await expect(ann.page.getByRole('list', { name: /Online/i }).getByText(bo.nick)).toBeVisible();

    await say(ann.page, 'hello through the archive');
    await expect(message(bo.page, 'hello through the archive')).toHaveCount(1);
    await say(bo.page, 'and back');
    await expect(message(ann.page, 'and back')).toHaveCount(1);

    // Behind TLS the session cookie is Secure (nginx says X-Forwarded-Proto: https).
    const cookies = await ann.context.cookies();
    expect(cookies.find((c) => c.name === 'chinwag_session')?.secure).toBe(true);
    // The client files come compressed and cacheable from the archive's site.
    const script = await ann.page.evaluate(() =>
      performance.getEntriesByType('resource').map((r) => r.name).find((n) => n.endsWith('.wasm')),
    );
    expect(script).toBeTruthy();

    expect(ann.errors).toEqual([]);
    expect(bo.errors).toEqual([]);
    await ann.context.close();
    await bo.context.close();
  });
});
