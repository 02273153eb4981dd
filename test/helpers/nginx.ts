import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, waitForListening } from './child-server.ts';
import { requireTool } from './tools.ts';

export { freePort };

/** A usable nginx (with auth_request and realip); a test file that imports this fails loudly without one. */
export const NGINX_BIN = requireTool('nginx');

export interface NginxInstance {
  readonly port: number;
  readonly dir: string;
  errorLog(): string;
  stop(): Promise<void>;
}

/**
 * A real nginx as a child process, runnable without root: its own prefix with temp dirs, pid and error log in
 * a temp folder, `daemon off` and a single process so stopping the child stops nginx. `http` is the body of
 * the http {} block; it may use {{PORT}} for the listen port and {{DIR}} for the prefix.
 */
export async function startNginx(http: string): Promise<NginxInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-nginx-'));
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d));
  const port = await freePort();
  const conf = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 512; }
http {
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  access_log off;
${http.replaceAll('{{PORT}}', String(port)).replaceAll('{{DIR}}', dir)}
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const test = spawnSync(NGINX_BIN, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { encoding: 'utf8' });
  if (test.status !== 0) throw new Error(`nginx -t failed:\n${test.stderr}`);
  const child: ChildProcess = spawn(NGINX_BIN, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const errorLog = () => (existsSync(join(dir, 'error.log')) ? readFileSync(join(dir, 'error.log'), 'utf8') : '') + stderr;
  await waitForListening(child, port, 'nginx', errorLog);
  return {
    port,
    dir,
    errorLog,
    async stop() {
      await stopChild(child, 'SIGQUIT', 3000); // graceful: flushes logs
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
