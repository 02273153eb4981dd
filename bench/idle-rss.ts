// Idle RSS of the sidecar as the image runs it (node dist/cli/bin.js, no TypeScript loader) against the same
// sources through tsx and a bare Node process (the floor no Node program goes below), in the same run; with
// heap flags and with the 100k-CIDR config. Each variant starts alone (no start-up competes with another), serves
// one Check, and is sampled 2 s after it listens and again once it has idled `steadyS` (V8's memory reducer
// gives back the young generation start-up grew, at a moment of its choosing). Run alone: node --import tsx bench/idle-rss.ts
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCompiledLayout, REPO, serveCompiled, serveEntry, type ServeProcess } from '../test/helpers/compiled-build.ts';
import { envoyCheckRequest } from '../test/helpers/envoy-request.ts';
import { AuthzClient } from '../test/helpers/grpc-client.ts';
import { bigConfig, writeBigConfig } from './lib/big-config.ts';
import { markdownTable } from './lib/table.ts';

export interface RssRow {
  readonly variant: string;
  readonly startMb: number;
  readonly idleMb: number;
}

export interface RssReport {
  readonly steadyS: number;
  readonly rows: readonly RssRow[];
}

const EXAMPLES = join(REPO, 'deploy/examples');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A bare Node process doing nothing: the floor. */
async function bareNode(): Promise<ServeProcess> {
  const proc = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } });
  await sleep(300);
  const exit = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return {
    proc, grpcPort: 0, httpPort: 0,
    rssMb: () => Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]) / 102.4) / 10,
    stop: () => {
      proc.kill('SIGTERM');
      return exit;
    },
  };
}

async function checkOnce(s: ServeProcess): Promise<void> {
  if (s.grpcPort === 0) return;
  const client = new AuthzClient(`127.0.0.1:${s.grpcPort}`);
  try {
    const r = await client.check(envoyCheckRequest({ peer: '10.0.4.2', headers: { 'x-forwarded-for': '198.51.100.7' } }));
    if (r.status?.code !== 0) throw new Error(`an allowed client was answered ${r.status?.code}`);
  } finally {
    client.close();
  }
}

export async function runIdleRss(quick: boolean, log: (line: string) => void = () => undefined): Promise<RssReport> {
  // V8 returns the start-up young generation within 10-90 s of idle (its memory reducer); sample after that.
  const steadyS = quick ? 5 : 90;
  log('idle RSS: building dist/ (npm run build)');
  const layout = buildCompiledLayout();
  const big = writeBigConfig(bigConfig());
  const drain = ['--drain-seconds', '1'];
  const variants: Array<[string, () => Promise<ServeProcess>]> = [
    ['bare Node process (floor)', bareNode],
    ['tsx: node bin/portcullis.js (sources)', () => serveEntry(join(REPO, 'bin/portcullis.js'), REPO, EXAMPLES, drain)],
    ['compiled: node dist/cli/bin.js', () => serveCompiled(layout, EXAMPLES, drain)],
    ['compiled, --grpc-transport http2', () => serveCompiled(layout, EXAMPLES, [...drain, '--grpc-transport', 'http2'])],
    ['compiled, --max-semi-space-size=1', () => serveCompiled(layout, EXAMPLES, drain, ['--max-semi-space-size=1'])],
    ['compiled, --max-semi-space-size=32', () => serveCompiled(layout, EXAMPLES, drain, ['--max-semi-space-size=32'])],
    ['compiled, --max-old-space-size=256', () => serveCompiled(layout, EXAMPLES, drain, ['--max-old-space-size=256'])],
    ['compiled, 100k-CIDR blocklist', () => serveCompiled(layout, big, drain)],
  ];
  const running: Array<{ variant: string; s: ServeProcess; listenedAt: number; startMb: number }> = [];
  try {
    for (const [variant, start] of quick ? variants.slice(0, 3) : variants) {
      const s = await start();
      const listenedAt = performance.now();
      await checkOnce(s);
      await sleep(2000);
      running.push({ variant, s, listenedAt, startMb: s.rssMb() });
      log(`idle RSS: ${variant}: ${running.at(-1)!.startMb} MB 2 s after listening`);
    }
    const rows: RssRow[] = [];
    for (const r of running) {
      await sleep(Math.max(0, r.listenedAt + steadyS * 1000 - performance.now()));
      rows.push({ variant: r.variant, startMb: r.startMb, idleMb: r.s.rssMb() });
    }
    return { steadyS, rows };
  } finally {
    await Promise.all(running.map((r) => r.s.stop()));
    layout.remove();
    rmSync(dirname(big), { recursive: true, force: true });
  }
}

export function renderIdleRss(r: RssReport): string {
  const floor = r.rows[0]?.idleMb ?? NaN;
  return markdownTable(
    ['variant', 'RSS 2 s after listening, MB', `RSS after ${r.steadyS} s idle, MB`, 'idle minus the bare Node floor, MB'],
    r.rows.map((x) => [x.variant, x.startMb, x.idleMb, Math.round((x.idleMb - floor) * 10) / 10]),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await runIdleRss(process.argv.includes('--quick'), (l) => console.error(l));
  console.log(renderIdleRss(report));
}
