// HTTP authorization mode under load: the decision endpoint (nginx convention, HTTP/1.1 keep-alive, and h2c)
// against a bare node:http server answering 200 in the same run, driven by wrk and h2load (Debian packages).
// Run alone: node --import tsx bench/http-mode.ts [--quick]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { startPortcullis } from '../src/main.ts';
import { readSettings } from '../src/settings.ts';

export interface HttpModeRow {
  readonly target: string;
  readonly protocol: 'HTTP/1.1' | 'h2c';
  readonly requestsPerSecond: number;
  /** wrk's latency distribution; h2load reports no percentiles. */
  readonly p99Ms: number | undefined;
}

const CONFIG = `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: edge }
spec: { usage: Policy, proxies: [127.0.0.1/32, 10.0.0.0/8] }
---
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: bad-actors }
spec: { usage: Blocklist, gateways: [192.0.2.0/24] }
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatPolicy
metadata: { name: default }
spec: { action: Block }
`;

// What nginx's auth location sends for a sign-in attempt by an allowed client behind a load balancer.
const HEADERS = ['X-Original-URI: /login', 'X-Original-Method: POST', 'Host: app.example.com', 'X-Forwarded-For: 198.51.100.7, 10.0.0.9', 'X-Request-ID: 0123456789abcdef0123456789abcdef'];

function have(bin: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
}

/** Runs a load generator without blocking this process, which serves the requests. */
function run(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.once('error', reject);
    child.once('close', () => resolve(out));
  });
}

async function wrk(url: string, seconds: number): Promise<{ rps: number; p99Ms: number }> {
  const out = await run('wrk', ['-t1', '-c32', `-d${seconds}s`, '--latency', ...HEADERS.flatMap((h) => ['-H', h]), url]);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const m = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99Ms = m ? Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1) : NaN;
  if (/Non-2xx/.test(out) || !(rps > 0)) throw new Error(`wrk run failed:\n${out}`);
  return { rps, p99Ms };
}

async function h2load(url: string, requests: number): Promise<number> {
  const out = await run('h2load', ['-n', String(requests), '-c', '16', '-m', '8', ...HEADERS.flatMap((h) => ['-H', h.toLowerCase()]), url]);
  if (!/status codes: \d+ 2xx, 0 3xx, 0 4xx, 0 5xx/.test(out)) throw new Error(`h2load run failed:\n${out}`);
  return Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out)?.[1]);
}

export async function runHttpMode(quick: boolean, progress: (line: string) => void): Promise<HttpModeRow[] | undefined> {
  if (!have('wrk')) {
    progress('http mode: wrk not installed (apt-get install wrk); skipped');
    return undefined;
  }
  const seconds = quick ? 3 : 10;
  const rows: HttpModeRow[] = [];

  const bare = createServer((_req, res) => res.writeHead(200, { 'content-length': '0' }).end());
  bare.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const barePort = (bare.address() as { port: number }).port;
  progress(`http mode: bare node:http server, wrk ${seconds}s`);
  const b = await wrk(`http://127.0.0.1:${barePort}/auth/nginx`, seconds);
  rows.push({ target: 'bare node:http, 200', protocol: 'HTTP/1.1', requestsPerSecond: b.rps, p99Ms: b.p99Ms });
  await new Promise((r) => bare.close(r));

  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-http-'));
  writeFileSync(join(dir, 'config.yaml'), CONFIG);
  const running = await startPortcullis(
    readSettings({ config: [dir], 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '', 'authz-address': '127.0.0.1:0', events: 'none', 'drain-seconds': '1' }, {}),
    { logger: pino({ level: 'silent' }) },
  );
  try {
    const url = `http://127.0.0.1:${running.proxies.authzPort}/auth/nginx`;
    progress(`http mode: Portcullis decision endpoint, wrk ${seconds}s`);
    const p = await wrk(url, seconds);
    rows.push({ target: 'Portcullis /auth/nginx (allow)', protocol: 'HTTP/1.1', requestsPerSecond: p.rps, p99Ms: p.p99Ms });
    if (have('h2load')) {
      progress('http mode: Portcullis decision endpoint, h2load (h2c)');
      rows.push({ target: 'Portcullis /auth/nginx (allow)', protocol: 'h2c', requestsPerSecond: await h2load(url, quick ? 20_000 : 100_000), p99Ms: undefined });
    }
  } finally {
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export function renderHttpMode(rows: readonly HttpModeRow[]): string {
  const lines = ['| target | protocol | checks/s | p99 |', '|---|---|---:|---:|'];
  for (const r of rows) lines.push(`| ${r.target} | ${r.protocol} | ${Math.round(r.requestsPerSecond)} | ${r.p99Ms === undefined ? '–' : `${r.p99Ms.toFixed(2)} ms`} |`);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const rows = await runHttpMode(process.argv.includes('--quick'), (l) => console.error(`  ${l}`));
  if (rows) console.log(renderHttpMode(rows));
}
