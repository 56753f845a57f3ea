import { expect, test, type Browser } from '@playwright/test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { message, nickname, say, waitOnline } from './helpers';
import { freePort, nginxConf, waitFor } from './processes';

// Two chinwag servers behind nginx (round-robin, no stickiness), sharing a fresh PostgreSQL
// database and a Redis of this test's own, both on free ports. Two browsers whose websockets land
// on different servers chat, see each other online and see each other type.

const BIN = process.env.CHINWAG_BIN ?? 'target/debug/chinwag';
const POSTGRES = process.env.CHINWAG_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

const started: ChildProcess[] = [];
let dir = '';
let database = '';
let base = '';
const nodes: string[] = [];

function psql(sql: string) {
  const result = spawnSync('psql', [POSTGRES, '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
}

/** Starts a chinwag node; resolves with its address once it prints it. */
function startNode(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, [], {
      cwd: '..',
      env: { ...process.env, ...env, LEPTOS_SITE_ADDR: '127.0.0.1:0', RUST_LOG: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    started.push(child);
    child.on('error', reject);
    child.stdout!.on('data', (data: Buffer) => {
      const match = /running at http:\/\/([^/\s]+)\//.exec(data.toString());
      if (match) resolve(match[1]);
    });
  });
}

async function metric(addr: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${addr}/metrics`)).text();
  const line = text.split('\n').find((l) => l.split(' ')[0] === name);
  return line ? Number(line.split(' ')[1]) : NaN;
}

/** How many websockets each node holds. */
async function connections(): Promise<number[]> {
  return Promise.all(nodes.map((n) => metric(n, 'chinwag_connections')));
}

test.beforeAll(async () => {
  test.setTimeout(90_000);
  dir = mkdtempSync(join(tmpdir(), 'chinwag-cluster-e2e-'));
  database = `chinwag_e2e_${process.pid}_${Date.now() % 1_000_000}`;
  psql(`CREATE DATABASE ${database}`);
  const redisPort = await freePort();
  started.push(
    spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    }),
  );
  const env = {
    DATABASE_URL: POSTGRES.replace(/\/[^/]*$/, `/${database}`),
    CHINWAG_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    CHINWAG_DATA_DIR: dir,
  };
  // The first node creates the schema; the second starts on it.
  nodes.push(await startNode(env));
  nodes.push(await startNode(env));
  for (const node of nodes) {
    await waitFor(`${node} hears the other server`, async () => (await metric(node, 'chinwag_cluster_nodes')) === 2);
  }
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    nginxConf(
      dir,
      `  # Round-robin over both servers, request by request: no stickiness.
  upstream chinwag { server ${nodes[0]}; server ${nodes[1]}; }
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://chinwag;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_read_timeout 120s;
      proxy_buffering off;
    }
  }`,
    ),
  );
  started.push(spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'inherit' }));
  base = `http://127.0.0.1:${port}`;
  await waitFor('nginx answers', async () => (await fetch(`${base}/healthz`)).ok);
});

test.afterAll(async () => {
  for (const child of started) child.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  try {
    psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  } catch {
    // Left for the next machine reset; nothing depends on it.
  }
  rmSync(dir, { recursive: true, force: true });
});

async function open(browser: Browser, nick: string) {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  await page.goto('/');
  await page.getByLabel('Nickname').fill(nick);
  await page.getByRole('button', { name: 'Join' }).click();
  await waitOnline(page);
  return { context, page, nick };
}

test('two browsers on two servers behind nginx chat, see each other online and typing', async ({ browser }) => {
  test.setTimeout(90_000);
  const alice = await open(browser, nickname('alice'));
  await waitFor('alice is connected', async () => (await connections()).reduce((a, b) => a + b, 0) === 1);
  const aliceNode = (await connections()).findIndex((n) => n === 1);
  const bob = await open(browser, nickname('bob'));
  // Bob's websocket must be on the other server: reload until the round-robin puts it there.
  for (let tries = 0; ; tries++) {
    await waitFor('both connected', async () => (await connections()).reduce((a, b) => a + b, 0) === 2);
    const counts = await connections();
    if (counts[1 - aliceNode] === 1) break;
    expect(tries, 'the round-robin moves bob to the other server').toBeLessThan(10);
    // One extra request moves the round-robin on by one, so a page load that makes an even number
    // of requests does not land its websocket on the same server every time.
    await bob.page.evaluate(() => fetch('/healthz'));
    await bob.page.reload();
    await waitOnline(bob.page);
  }
  const counts = await connections();
  expect(counts).toEqual([1, 1]);

  const online = (page: typeof alice.page) => page.getByRole('list', { name: 'Online' });
  await expect(online(alice.page).getByText(bob.nick)).toBeVisible();
  await expect(online(bob.page).getByText(alice.nick)).toBeVisible();

  await say(alice.page, 'hello from the first server');
  await expect(message(bob.page, 'hello from the first server')).toBeVisible();
  await say(bob.page, 'and back from the second');
  await expect(message(alice.page, 'and back from the second')).toBeVisible();

  await bob.page.getByRole('textbox', { name: 'Message' }).pressSequentially('typing…');
  await expect(alice.page.locator('.typing')).toContainText(`${bob.nick} is typing`);

  await alice.context.close();
  await bob.context.close();
});
