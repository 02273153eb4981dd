// Same-run load comparison, driven by h2load: two baselines — (a) a bare grpc-js Check server that always says
// OK (bench/bare-server.ts) and (b) a bare node:http2 answerer (bench/bare-h2-server.ts) — against Portcullis
// with 100k blocklisted CIDRs on (c) its grpc-js transport and (d) its node:http2 transport. Each server runs
// in its own process; they take turns on every scenario, so noise from neighbours on this shared machine lands
// on all alike.
import { rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { bigConfig, writeBigConfig } from './lib/big-config.ts';
import { forkTs } from './lib/child.ts';
import { H2LOAD, h2loadAvailable, runH2load, type H2loadResult } from './lib/h2load.ts';
import { h2loadRow, measured, OTHERS_LIMIT, SERVER_NAMES, type LoadRow, type Server, type ServerName } from './lib/measure.ts';
import { openLoopInChild, type OpenLoopResult } from './lib/open-loop.ts';
import { CHECK_PATH, grpcFrame, requestPool, type RequestPool } from './lib/requests.ts';

export type { LoadRow } from './lib/measure.ts';

export interface LoadPlan {
  readonly rates: readonly number[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly maxRepeats: number;
  /** Longest wait for a quiet machine before each run, and how often a disturbed run is repeated. */
  readonly quietWaitMs: number;
  readonly retries: number;
  readonly clients: number;
  readonly streams: number;
}

export function loadPlan(quick: boolean): LoadPlan {
  // 4 connections × 32 streams: Envoy with a few workers, each keeping many Checks in flight on its connection.
  const shared = { clients: 4, streams: 32, rates: [1000, 5000] };
  return quick
    ? { ...shared, durationS: 3, warmupS: 1, maxRepeats: 1, quietWaitMs: 3_000, retries: 0 }
    // 32 runs: a retry of each disturbed one would double a run that is already ~15 min on a busy machine.
    : { ...shared, durationS: 10, warmupS: 2, maxRepeats: 3, quietWaitMs: 15_000, retries: 0 };
}

export interface MaxThroughput {
  readonly body: string;
  /** Checks/s of the runs used per server: the undisturbed ones when every server has one, else all. */
  readonly runs: Record<ServerName, number[]>;
  readonly undisturbedOnly: boolean;
  readonly median: Record<ServerName, number>;
  /** Median CPU µs per check per server: for a server bound to one core, its inverse predicts throughput. */
  readonly cpuUsPerCheck: Record<ServerName, number>;
}

/** One ratio the issue sets a target for: numerator / denominator, from the medians of one body's runs. */
export interface Ratio {
  readonly measure: string;
  readonly value: number;
  /** The same ratio implied by server CPU per check (steadier under noise). */
  readonly cpuImplied?: number;
  readonly target?: number;
}

export interface LoadReport {
  readonly plan: LoadPlan;
  readonly loadAvg: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly portcullis: { readonly entries: number; readonly startMs: number };
  readonly rssMb: Record<ServerName, number>;
  readonly requests: Record<string, number>;
  readonly verify: { readonly requests: number; readonly fromBlocklist: number; readonly denied: Record<string, number> };
  readonly rows: readonly LoadRow[];
  readonly maxThroughput: readonly MaxThroughput[];
  readonly ratios: readonly Ratio[];
  readonly notes: readonly string[];
}

/** h2load sends one body for every request; these are the two it is run with, both for clients Portcullis allows. */
export const SIGN_IN = 'POST /login (username body)';
export const OTHER = 'GET /app (not a sign-in route)';

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ratio = (b: number, a: number): number => Math.round((b / a) * 100) / 100;
const isPortcullis = (n: ServerName): boolean => n.startsWith('portcullis');
const record = <T>(f: (n: ServerName) => T): Record<ServerName, T> => Object.fromEntries(SERVER_NAMES.map((n) => [n, f(n)])) as Record<ServerName, T>;

/**
 * Every message once, in order, through a real grpc-js client to every server. The baselines must allow all;
 * Portcullis must deny every message `planted` names (a client inside a blocklisted CIDR) and may deny others.
 */
async function verify(servers: readonly Server[], messages: string[], planted: (i: number) => boolean): Promise<Map<ServerName, OpenLoopResult>> {
  const results = await Promise.all(servers.map((s) =>
    openLoopInChild({ target: `127.0.0.1:${s.port}`, rate: 500, count: messages.length, messages, perMessage: true })));
  const out = new Map<ServerName, OpenLoopResult>();
  servers.forEach((s, i) => {
    const r = results[i]!;
    if (!isPortcullis(s.name)) {
      if (r.errors > 0 || r.denied > 0) throw new Error(`${s.name}: ${r.errors} errors, ${r.denied} denials`);
    } else {
      const missed = (r.deniedPerMessage ?? []).filter((d, j) => planted(j) && d === 0).length;
      if (r.errors > 0 || missed > 0) throw new Error(`${s.name}: ${r.errors} errors; ${missed} blocklisted clients allowed`);
    }
    out.set(s.name, r);
  });
  return out;
}

/** Picks an allowed sign-in POST and an allowed GET from the pool (i % 4 === 3 is a GET) and writes each framed. */
function writeBodies(dir: string, pool: RequestPool, deniedPerMessage: readonly number[]): Map<string, { file: string; message: Buffer }> {
  const allowed = (i: number): boolean => i % 10 !== 0 && deniedPerMessage[i] === 0;
  const pick = { [SIGN_IN]: deniedPerMessage.findIndex((_, i) => allowed(i) && i % 4 !== 3), [OTHER]: deniedPerMessage.findIndex((_, i) => allowed(i) && i % 4 === 3) };
  const files = new Map<string, { file: string; message: Buffer }>();
  for (const [name, index] of Object.entries(pick)) {
    const file = join(dir, `check-${index}.grpc`);
    const message = pool.messages[index]!;
    writeFileSync(file, grpcFrame(message));
    files.set(name, { file, message });
  }
  return files;
}

function summariseMax(body: string, runs: Record<ServerName, LoadRow[]>): MaxThroughput {
  const quiet = (rs: LoadRow[]): LoadRow[] => rs.filter((r) => (r.othersCpu ?? 0) <= OTHERS_LIMIT);
  const undisturbedOnly = SERVER_NAMES.every((n) => quiet(runs[n]).length > 0);
  const used = record((n) => (undisturbedOnly ? quiet(runs[n]) : runs[n]));
  return {
    body, undisturbedOnly,
    runs: record((n) => used[n].map((r) => r.achieved)),
    median: record((n) => median(used[n].map((r) => r.achieved))),
    cpuUsPerCheck: record((n) => median(used[n].map((r) => r.cpuUsPerCheck))),
  };
}

/** The ratios the targets name, per body; and at each fixed rate, Portcullis's p99 against the bare grpc-js server's. */
function targetRatios(max: readonly MaxThroughput[], rows: readonly LoadRow[]): Ratio[] {
  const out: Ratio[] = [];
  for (const m of max) {
    const r = (a: ServerName, b: ServerName, target?: number): Ratio => ({
      measure: `${m.body}: ${a} / ${b}, max throughput`,
      value: ratio(m.median[a], m.median[b]),
      cpuImplied: ratio(m.cpuUsPerCheck[b], m.cpuUsPerCheck[a]),
      ...(target !== undefined ? { target } : {}),
    });
    out.push(r('portcullis http2', 'bare grpc-js', 1.3), r('portcullis grpc-js', 'bare grpc-js', 1.0), r('portcullis http2', 'bare http2', 0.85), r('bare http2', 'bare grpc-js'));
  }
  for (const row of rows) {
    if (!isPortcullis(row.server) || row.target === undefined) continue;
    const base = rows.find((b) => b.server === 'bare grpc-js' && b.target === row.target && b.body === row.body);
    // Target: p99 ≤ the bare grpc-js server's p99 at the same rate (ratio ≤ 1).
    if (base) out.push({ measure: `${row.body} @ ${row.target}/s: ${row.server} p99 / bare grpc-js p99 (${row.p99Us} / ${base.p99Us} µs)`, value: ratio(row.p99Us, base.p99Us), target: 1 });
  }
  return out;
}

function notesFor(rows: readonly LoadRow[]): string[] {
  const notes: string[] = [];
  for (const r of rows) {
    const at = `${r.server} @ ${r.target ?? 'max'} (${r.body})`;
    if (r.errors > 0) notes.push(`${at}: ${r.errors} failed requests`);
    if (r.target !== undefined && r.achieved < r.target * 0.95) notes.push(`${at}: achieved only ${r.achieved}/s`);
    if ((r.othersCpu ?? 0) > OTHERS_LIMIT) notes.push(`${at}: other processes used ${r.othersCpu}% of a core during the quietest of ${r.attempts} attempts (load average ${r.loadAvg1})`);
  }
  return notes;
}

export async function runLoad(quick: boolean, log: (line: string) => void = () => undefined): Promise<LoadReport> {
  if (!h2loadAvailable()) throw new Error(`h2load not found at ${H2LOAD}: apt-get install nghttp2-client (node scripts/provision.mjs installs it)`);
  const plan = loadPlan(quick);
  const startLoad = loadavg();
  const config = bigConfig();
  const configFile = writeBigConfig(config);
  const pool = requestPool(config.cidrs);
  const messages = pool.messages.map((m) => m.toString('base64'));
  const servers: Server[] = [];
  const rows: LoadRow[] = [];
  const push = (row: LoadRow): void => {
    rows.push(row);
    log(`${row.server.padEnd(18)} ${String(row.target ?? 'max').padStart(5)}/s ${row.body.padEnd(30)} → ${row.achieved}/s  p50 ${row.p50Us} µs  p99 ${row.p99Us} µs  CPU ${row.serverCpu}% (${row.cpuUsPerCheck} µs/check)  others ${row.othersCpu ?? '?'}%  load ${row.loadAvg1} (attempt ${row.attempts})`);
  };
  try {
    const bare = await forkTs<{ port: number }>('bench/bare-server.ts');
    servers.push({ name: 'bare grpc-js', child: bare.child, port: bare.ready.port });
    const bareH2 = await forkTs<{ port: number }>('bench/bare-h2-server.ts');
    servers.push({ name: 'bare http2', child: bareH2.child, port: bareH2.ready.port });
    let pcReady: { entries: number; startMs: number } | undefined;
    for (const transport of ['grpc-js', 'http2'] as const) {
      const pc = await forkTs<{ port: number; entries: number; startMs: number }>('bench/lib/portcullis-child.ts', { env: { PORTCULLIS_BENCH_CONFIG: configFile, PORTCULLIS_BENCH_TRANSPORT: transport } });
      servers.push({ name: `portcullis ${transport}`, child: pc.child, port: pc.ready.port });
      pcReady ??= pc.ready;
      log(`portcullis ${transport}: ${pc.ready.entries} entries, started in ${pc.ready.startMs} ms`);
    }
    const checked = await verify(servers, messages, (i) => i % 10 === 0); // requestPool: every 10th is blocklisted
    const bodies = writeBodies(dirname(configFile), pool, checked.get('portcullis grpc-js')!.deniedPerMessage ?? []);
    for (const [name, b] of bodies) log(`${name}: ${b.message.length}-byte CheckRequest`);

    const h2 = async (s: Server, body: string, rate?: number): Promise<LoadRow> => {
      const run = (): Promise<H2loadResult> => runH2load({
        url: `http://127.0.0.1:${s.port}${CHECK_PATH}`, bodyFile: bodies.get(body)!.file, clients: plan.clients, streams: plan.streams,
        durationS: plan.durationS, warmupS: plan.warmupS, ...(rate !== undefined ? { rate } : {}),
      });
      return h2loadRow(s, await measured(s, plan, run, (r) => r.cpuPercent), body, plan.warmupS, plan.durationS);
    };
    // Unmeasured warm-up of each server, so no measured run pays for its JIT compilation.
    for (const s of servers) await runH2load({ url: `http://127.0.0.1:${s.port}${CHECK_PATH}`, bodyFile: bodies.get(SIGN_IN)!.file, clients: 2, streams: 16, durationS: 2, warmupS: 0 });
    for (const rate of plan.rates) for (const s of servers) push(await h2(s, SIGN_IN, rate));
    const maxRuns = new Map<string, Record<ServerName, LoadRow[]>>();
    for (let rep = 0; rep < plan.maxRepeats; rep++) {
      for (const body of [SIGN_IN, OTHER]) {
        for (const s of servers) {
          const row = await h2(s, body);
          push(row);
          const runs = maxRuns.get(body) ?? record((): LoadRow[] => []);
          runs[s.name].push(row);
          maxRuns.set(body, runs);
        }
      }
    }

    // h2load reads no gRPC status: the repeated bodies must still be allowed after everything above (a detector
    // turning them into denials would make this a benchmark of the deny path).
    const after = await verify(servers, [...bodies.values()].map((b) => b.message.toString('base64')), () => false);
    for (const [name, r] of after) if (r.denied > 0) throw new Error(`${name} denied a benchmark body after the runs: the figures are not of allowed Checks`);

    const maxThroughput = [...maxRuns].map(([body, runs]) => summariseMax(body, runs));
    const rss = await Promise.all(servers.map((s) => s.child.call<number>('rssMb')));
    return {
      plan,
      loadAvg: { start: startLoad, end: loadavg() },
      portcullis: pcReady!,
      rssMb: record((n) => rss[servers.findIndex((s) => s.name === n)]!),
      requests: Object.fromEntries([...bodies].map(([name, b]) => [name, b.message.length])),
      verify: { requests: messages.length, fromBlocklist: pool.fromBlocklist, denied: Object.fromEntries([...checked].map(([n, r]) => [n, r.denied])) },
      rows,
      maxThroughput,
      ratios: targetRatios(maxThroughput, rows),
      notes: notesFor(rows),
    };
  } finally {
    await Promise.all(servers.map((s) => s.child.stop()));
    rmSync(dirname(configFile), { recursive: true, force: true });
  }
}
