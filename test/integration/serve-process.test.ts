import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Starts `portcullis serve` as its own process, configured through the environment, and waits until it listens. */
function serve(env: Record<string, string>): Promise<{ grpcPort: number; httpPort: number; stdout: () => string; exit: Promise<number | null> }> {
  const proc = spawn(process.execPath, ['bin/portcullis.js', 'serve'], { env: { ...process.env, PORTCULLIS_ADMIN_ADDRESS: '127.0.0.1:0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child = proc;
  let out = '';
  let err = '';
  proc.stdout!.on('data', (c) => (out += c));
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (c) => {
      err += c;
      const m = /"grpcPort":(\d+).*"httpPort":(\d+)/.exec(err);
      if (m) resolve({ grpcPort: Number(m[1]), httpPort: Number(m[2]), stdout: () => out, exit });
    });
    proc.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
  });
}

describe('portcullis serve as a process', () => {
  it('takes settings from the environment, listens on TCP and a Unix socket, and drains on SIGTERM', { timeout: 90_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-sock-'));
    const socket = join(dir, 'grpc.sock');
    const s = await serve({
      PORTCULLIS_CONFIG: 'deploy/examples',
      PORTCULLIS_GRPC_ADDRESS: '127.0.0.1:0',
      PORTCULLIS_HTTP_ADDRESS: '127.0.0.1:0',
      PORTCULLIS_GRPC_SOCKET: socket,
      PORTCULLIS_LOG_LEVEL: 'info',
    });
    const tcp = new AuthzClient(`127.0.0.1:${s.grpcPort}`);
    const unix = new AuthzClient(`unix:${socket}`);
    const blocked = envoyCheckRequest({ peer: '10.0.4.2', headers: { 'x-forwarded-for': '192.0.2.10' } });
    expect((await tcp.check(blocked)).status?.code).toBe(7);
    expect((await unix.check(blocked)).status?.code).toBe(7);
    tcp.close();
    unix.close();
    // Events are JSON lines on stdout.
    const event = JSON.parse(s.stdout().trim().split('\n').at(-1)!);
    expect(event).toMatchObject({ eventType: 'security.request.blocked', client: { ipAddress: '192.0.2.10' } });

    child!.kill('SIGTERM');
    expect(await s.exit).toBe(0);
  });

  it('refuses an invalid setting with a clear message and exit code 2', async () => {
    const proc = spawn(process.execPath, ['bin/portcullis.js', 'serve', '--config', 'deploy/examples', '--failure-mode', 'maybe'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let err = '';
    proc.stderr!.on('data', (c) => (err += c));
    const code = await new Promise((r) => proc.on('exit', r));
    expect(code).toBe(2);
    expect(err).toContain('--failure-mode: must be one of allow, deny');
  });

  it('says which address is taken when a port is in use, and exits 1', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => taken.once('listening', r));
    const port = (taken.address() as AddressInfo).port;
    const proc = spawn(process.execPath, ['bin/portcullis.js', 'serve', '--config', 'deploy/examples', '--grpc-address', `127.0.0.1:${port}`, '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'silent'], { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let err = '';
    proc.stderr!.on('data', (c) => (err += c));
    const code = await new Promise((r) => proc.on('exit', r));
    taken.close();
    expect(code).toBe(1);
    expect(err).toContain(`gRPC cannot listen on 127.0.0.1:${port}: address already in use`);
    expect(err).not.toContain('    at '); // a message, not a stack trace
  });
});
