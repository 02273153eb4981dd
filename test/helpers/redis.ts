// Real redis-server processes for tests: each on free ports, in its own temp folder, without persistence. Tests
// never touch a Redis they did not start (the machine's own on 6379 included).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RedisSettings } from '../../src/store/redis/endpoint.ts';
import { findTool } from '../../scripts/tools.mjs';
import { requireTool } from './tools.ts';

export const REDIS_SERVER = findTool('redis-server') ?? '/usr/bin/redis-server';
export const REDIS_CLI = '/usr/bin/redis-cli';

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port (and, for cluster nodes, its bus port +10000 free too). */
export async function freePort(withBus = false): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 25000);
    if ((await portFree(port)) && (!withBus || (await portFree(port + 10000)))) return port;
  }
  throw new Error('no free port found');
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** redis-cli against this server; returns trimmed stdout. */
  cli(...args: string[]): string;
  /** SIGKILL: a crash, nothing flushed. */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder (a cluster node keeps its nodes.conf). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  readonly cluster?: boolean;
  /** requirepass */
  readonly password?: string;
  /** TLS only (no plain port), with this certificate and key (PEM files). */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** A Sentinel monitoring the master on this port as "mymaster" (quorum 1). */
  readonly sentinelFor?: number;
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort(opts.cluster);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-redis-'));
  const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'];
  const cliArgs = ['-p', String(port)];
  if (opts.tls) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-cert-file', opts.tls.cert, '--tls-key-file', opts.tls.key, '--tls-auth-clients', 'no');
    cliArgs.push('--tls', '--cacert', opts.tls.cert);
  } else args.push('--port', String(port));
  if (opts.password) {
    args.push('--requirepass', opts.password);
    cliArgs.push('--no-auth-warning', '-a', opts.password);
  }
  if (opts.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000');
  if (opts.sentinelFor !== undefined) {
    const conf = join(dir, 'sentinel.conf');
    writeFileSync(conf, `port ${port}
bind 127.0.0.1
sentinel monitor mymaster 127.0.0.1 ${opts.sentinelFor} 1
sentinel down-after-milliseconds mymaster 2000
`);
    args.splice(0, args.length, conf, '--sentinel');
  }
  let proc: ChildProcess | undefined;
  const cli = (...a: string[]): string => {
    const r = spawnSync(REDIS_CLI, [...cliArgs, ...a], { encoding: 'utf8', timeout: 10_000 });
    return (r.stdout ?? '').trim();
  };
  const launch = async (): Promise<void> => {
    proc = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (cli('ping') !== 'PONG') {
      if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const waitExit = async (p: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill(signal);
    await gone;
  };
  await launch();
  return {
    port,
    url: `${opts.tls ? 'rediss' : 'redis'}://127.0.0.1:${port}`,
    dir,
    cli,
    kill: () => waitExit(proc, 'SIGKILL'),
    restart: launch,
    async stop() {
      await waitExit(proc, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RedisCluster {
  readonly nodes: readonly RedisServer[];
  readonly urls: readonly string[];
  /** Waits until every node reports cluster_state:ok. */
  waitOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** n masters, no replicas, created with `redis-cli --cluster create`. */
export async function startRedisCluster(n = 3): Promise<RedisCluster> {
  const nodes = await Promise.all(Array.from({ length: n }, () => startRedisServer({ cluster: true })));
  const r = spawnSync(REDIS_CLI, ['--cluster', 'create', ...nodes.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`cluster create failed: ${r.stdout}${r.stderr}`);
  const cluster: RedisCluster = {
    nodes,
    urls: nodes.map((s) => s.url),
    async waitOk(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (!nodes.every((s) => s.cli('cluster', 'info').includes('cluster_state:ok'))) {
        if (Date.now() > deadline) throw new Error('cluster not ok in time');
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    async stop() {
      await Promise.all(nodes.map((s) => s.stop()));
    },
  };
  await cluster.waitOk();
  return cluster;
}

/** A self-signed certificate for 127.0.0.1 (PEM files in a temp folder), made with openssl. */
export function selfSignedCert(): { cert: string; key: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key, dir };
}

/**
 * redis-server must be installed (npm test installs it first, scripts/provision.mjs): without it this throws
 * and the calling test file fails naming the fix, instead of skipping in silence. Always true when it returns.
 */
export function redisAvailable(): boolean {
  requireTool('redis-server');
  return true;
}

/** Store settings for tests: short timeouts, one key prefix per test so nothing is shared by accident. */
export function redisStoreSettings(urls: readonly string[], over: Partial<RedisSettings> = {}): RedisSettings {
  return {
    mode: 'standalone',
    urls,
    sentinelMaster: 'mymaster',
    password: '',
    tlsCa: '',
    keyPrefix: `t${Math.random().toString(36).slice(2, 8)}:`,
    timeoutMs: 250,
    flushMs: 2,
    bufferEvents: 100_000,
    ...over,
  };
}
