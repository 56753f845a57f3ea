import { createServer } from 'node:net';

// What the tests that start their own servers (several chinwag nodes, nginx, the install archive)
// share: free ports, waiting for a server to answer, and an nginx configuration run by the test.

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Polls `check` until it holds; fails after `ms`. */
export async function waitFor(what: string, check: () => Promise<boolean>, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

/**
 * An nginx.conf for an nginx the test starts itself (`nginx -p dir -c dir/nginx.conf`): one process
 * (no master and workers), so stopping it by its PID stops all of it, with every file it writes in
 * `dir`; `http` is the inside of its `http` block.
 */
export function nginxConf(dir: string, http: string): string {
  return `master_process off;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${http}
}
`;
}
