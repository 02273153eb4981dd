// Idle RSS of the sidecar as the image runs it (node dist/cli/bin.js, no TypeScript loader) on the image's Node 24
// (scripts/node.mjs "image") and on the Node running the bench, against the same sources through tsx and a bare
// Node process of each version (the floor no Node program goes below), in the same run; with a heap flag, the
// grpc-js transport and the 100k-CIDR config. Each variant starts alone (no start-up competes with another),
// serves one Check, and is sampled 2 s after it listens and again once it has idled `steadyS` (the finished
// reload worker's isolate is given back ~9 s after it ran on Node 24; V8's memory reducer gives back the young
// generation start-up grew, at a moment of its choosing). RSS is split into private (anonymous) memory and
// file-backed pages (mostly the node binary's code and read-only data: clean, shared by every process running
// that binary, and reclaimable). Run alone: node --import tsx bench/idle-rss.ts
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCompiledLayout, REPO, serveCompiled, serveEntry, type ServeProcess } from '../test/helpers/compiled-build.ts';
import { envoyCheckRequest } from '../test/helpers/envoy-request.ts';
import { AuthzClient } from '../test/helpers/grpc-client.ts';
import { bigConfig, writeBigConfig } from './lib/big-config.ts';
import { markdownTable } from './lib/table.ts';

export interface RssRow {
  readonly variant: string;
  /** The Node version that ran it. */
  readonly node: string;
  readonly startMb: number;
  readonly idleMb: number;
  /** After the idle: anonymous (private) and file-backed resident memory of the main process, MB. */
  readonly idleAnonMb: number;
  readonly idleFileMb: number;
}

export interface RssReport {
  readonly steadyS: number;
  readonly loadAvg: readonly number[];
  readonly rows: readonly RssRow[];
}

const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

/** RssAnon and RssFile of one process (Linux /proc), MB. */
function split(pid: number): { anon: number; file: number } {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN);
  return { anon: mb(kb('RssAnon')), file: mb(kb('RssFile')) };
}

/** The image's Node binary (fetched and checksummed by scripts/node.mjs when missing). */
function imageNode(): string {
  return execFileSync(process.execPath, [join(REPO, 'scripts/node.mjs'), 'path', 'image'], { encoding: 'utf8' }).trim();
}

const EXAMPLES = join(REPO, 'deploy/examples');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A bare Node process doing nothing: the floor. */
async function bareNode(node: string): Promise<ServeProcess> {
  const proc = spawn(node, ['-e', 'setInterval(() => {}, 1e9)'], { stdio: 'ignore', env: { ...process.env, NODE_OPTIONS: '' } });
  await sleep(300);
  const exit = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  return {
    proc, grpcPort: 0, httpPort: 0,
    rssMb: () => mb(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1])),
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
  // The reload worker's memory goes ~9 s after it ran (Node 24); V8 returns the start-up young generation
  // within 10-90 s of idle (its memory reducer); sample after both.
  const steadyS = quick ? 12 : 90;
  log('idle RSS: building dist/ (npm run build)');
  const layout = buildCompiledLayout();
  const big = writeBigConfig(bigConfig());
  const drain = ['--drain-seconds', '1'];
  const n24 = imageNode();
  const here = process.execPath;
  const version = (node: string): string => execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const v24 = version(n24);
  const vHere = process.version;
  // [variant, node version, start]; quick keeps the floors and the default compiled build on both Nodes.
  const variants: Array<[string, string, () => Promise<ServeProcess>]> = [
    ['bare Node process (floor)', v24, () => bareNode(n24)],
    ['compiled: node dist/cli/bin.js (the image, npm start)', v24, () => serveCompiled(layout, EXAMPLES, drain, [], n24)],
    ['bare Node process (floor)', vHere, () => bareNode(here)],
    ['compiled: node dist/cli/bin.js', vHere, () => serveCompiled(layout, EXAMPLES, drain)],
    ['compiled, --grpc-transport grpc-js', v24, () => serveCompiled(layout, EXAMPLES, [...drain, '--grpc-transport', 'grpc-js'], [], n24)],
    ['compiled, --max-semi-space-size=1', v24, () => serveCompiled(layout, EXAMPLES, drain, ['--max-semi-space-size=1'], n24)],
    ['compiled, 100k-CIDR blocklist', v24, () => serveCompiled(layout, big, drain, [], n24)],
    ['compiled, --grpc-transport grpc-js', vHere, () => serveCompiled(layout, EXAMPLES, [...drain, '--grpc-transport', 'grpc-js'])],
    ['tsx: node bin/portcullis.js (the sources)', vHere, () => serveEntry(join(REPO, 'bin/portcullis.js'), REPO, EXAMPLES, drain)],
  ];
  const running: Array<{ variant: string; node: string; s: ServeProcess; listenedAt: number; startMb: number }> = [];
  try {
    for (const [variant, node, start] of quick ? variants.slice(0, 4) : variants) {
      const s = await start();
      const listenedAt = performance.now();
      await checkOnce(s);
      await sleep(2000);
      running.push({ variant, node, s, listenedAt, startMb: s.rssMb() });
      log(`idle RSS: ${variant} (${node}): ${running.at(-1)!.startMb} MB 2 s after listening`);
    }
    const rows: RssRow[] = [];
    for (const r of running) {
      await sleep(Math.max(0, r.listenedAt + steadyS * 1000 - performance.now()));
      const { anon, file } = split(r.s.proc.pid!);
      rows.push({ variant: r.variant, node: r.node, startMb: r.startMb, idleMb: r.s.rssMb(), idleAnonMb: anon, idleFileMb: file });
    }
    return { steadyS, loadAvg: loadavg().map((x) => Math.round(x * 100) / 100), rows };
  } finally {
    await Promise.all(running.map((r) => r.s.stop()));
    layout.remove();
    rmSync(dirname(big), { recursive: true, force: true });
  }
}

export function renderIdleRss(r: RssReport): string {
  const floors = new Map(r.rows.filter((x) => x.variant.startsWith('bare')).map((x) => [x.node, x.idleMb]));
  return `load average at the end: ${r.loadAvg.join(', ')}\n\n${markdownTable(
    ['variant', 'Node', 'RSS 2 s after listening, MB', `RSS after ${r.steadyS} s idle, MB`, 'of it private (anon), MB', 'of it file-backed, MB', 'idle minus that Node\'s bare floor, MB'],
    r.rows.map((x) => [x.variant, x.node, x.startMb, x.idleMb, x.idleAnonMb, x.idleFileMb, Math.round((x.idleMb - (floors.get(x.node) ?? NaN)) * 10) / 10]),
  )}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await runIdleRss(process.argv.includes('--quick'), (l) => console.error(l));
  console.log(renderIdleRss(report));
}
