// Same-run load comparison: (a) a bare grpc-js Check server that always says OK and (b) Portcullis with 100k
// blocklisted CIDRs, each in its own process, driven by generators in their own processes. The two servers take
// turns on every scenario, so noise from neighbours on this shared machine lands on both alike.
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bigConfig, writeBigConfig } from './lib/big-config.ts';
import { forkTs } from './lib/child.ts';
import { h2loadAvailable, runH2load, type H2loadResult } from './lib/h2load.ts';
import { h2loadRow, measured, openLoopRow, OTHERS_LIMIT, type LoadRow, type Server, type ServerName } from './lib/measure.ts';
import { openLoopInChild, startOpenLoopChild, type OpenLoopResult } from './lib/open-loop.ts';
import { CHECK_PATH, grpcFrame, requestPool, type RequestPool } from './lib/requests.ts';

export type { LoadRow } from './lib/measure.ts';

export interface LoadPlan {
  readonly openLoopRates: readonly number[];
  readonly h2loadRates: readonly number[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly maxRepeats: number;
  /** Longest wait for a quiet machine before each run, and how often a disturbed run is repeated. */
  readonly quietWaitMs: number;
  readonly retries: number;
  readonly h2loadClients: number;
  readonly h2loadStreams: number;
}

export function loadPlan(quick: boolean): LoadPlan {
  // The grpc-js generator spends about as much CPU per check as the server, so on 2 cores it stays at rates
  // where it uses well under one core; h2load is cheap enough to go higher and to find the maximum.
  const shared = { h2loadClients: 2, h2loadStreams: 64 };
  return quick
    ? { ...shared, openLoopRates: [1000, 2000], h2loadRates: [5000], durationS: 3, warmupS: 1, maxRepeats: 1, quietWaitMs: 5_000, retries: 0 }
    : { ...shared, openLoopRates: [1000, 2000, 3000], h2loadRates: [2000, 5000, 10000], durationS: 10, warmupS: 2, maxRepeats: 3, quietWaitMs: 30_000, retries: 2 };
}

export interface MaxThroughput {
  readonly body: string;
  /** Checks/s of the runs used: the undisturbed ones when each server has at least one, else all. */
  readonly bare: number[];
  readonly portcullis: number[];
  readonly undisturbedOnly: boolean;
  /** median(portcullis) / median(bare) */
  readonly ratio: number;
  /** median CPU µs per check, bare / Portcullis: the throughput ratio a CPU-bound server implies, steadier under noise. */
  readonly cpuImpliedRatio: number;
}

export interface LoadReport {
  readonly plan: LoadPlan;
  readonly portcullis: { readonly entries: number; readonly startMs: number; readonly rssMb: number };
  readonly bareRssMb: number;
  readonly verify: { readonly requests: number; readonly fromBlocklist: number; readonly deniedByPortcullis: number };
  readonly rows: readonly LoadRow[];
  readonly maxThroughput: readonly MaxThroughput[];
  /** Portcullis / bare at each fixed rate: latency percentiles and server CPU per check. */
  readonly ratios: ReadonlyArray<{ readonly generator: string; readonly target: number; readonly p50: number; readonly p99: number; readonly p999: number; readonly cpuPerCheck: number }>;
  readonly notes: readonly string[];
}

/** h2load sends one body for every request; these are the two it is run with, both for clients Portcullis allows. */
const SIGN_IN = 'POST /login';
const OTHER = 'GET /app (not a sign-in route)';

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ratio = (b: number, a: number): number => Math.round((b / a) * 100) / 100;

/** Every message once, in order, through a real gRPC client; returns which messages Portcullis denied. */
async function verify(servers: readonly Server[], messages: string[]): Promise<OpenLoopResult> {
  const [bare, pc] = (await Promise.all(servers.map((s) =>
    openLoopInChild({ target: `127.0.0.1:${s.port}`, rate: 500, count: messages.length, messages, perMessage: true })))) as [OpenLoopResult, OpenLoopResult];
  if (bare.errors > 0 || bare.denied > 0) throw new Error(`bare server: ${bare.errors} errors, ${bare.denied} denials`);
  const missed = (pc.deniedPerMessage ?? []).filter((d, i) => i % 10 === 0 && d === 0).length; // requestPool: every 10th is blocklisted
  if (pc.errors > 0 || missed > 0) throw new Error(`portcullis: ${pc.errors} errors; ${missed} blocklisted clients allowed`);
  return pc;
}

/** Writes the h2load bodies: an allowed sign-in POST and an allowed GET (requestPool: every 4th, i % 4 === 3). */
function writeBodies(dir: string, pool: RequestPool, deniedPerMessage: readonly number[]): Map<string, string> {
  const allowed = (i: number): boolean => i % 10 !== 0 && deniedPerMessage[i] === 0;
  const pick = { [SIGN_IN]: deniedPerMessage.findIndex((_, i) => allowed(i) && i % 4 !== 3), [OTHER]: deniedPerMessage.findIndex((_, i) => allowed(i) && i % 4 === 3) };
  const files = new Map<string, string>();
  for (const [name, index] of Object.entries(pick)) {
    const file = join(dir, `check-${index}.grpc`);
    writeFileSync(file, grpcFrame(pool.messages[index]!));
    files.set(name, file);
  }
  return files;
}

function summariseMax(body: string, runs: Record<ServerName, LoadRow[]>): MaxThroughput {
  const quiet = (rs: LoadRow[]): LoadRow[] => rs.filter((r) => (r.othersCpu ?? 0) <= OTHERS_LIMIT);
  const undisturbedOnly = quiet(runs.bare).length > 0 && quiet(runs.portcullis).length > 0;
  const bare = undisturbedOnly ? quiet(runs.bare) : runs.bare;
  const pc = undisturbedOnly ? quiet(runs.portcullis) : runs.portcullis;
  const rate = (rs: LoadRow[]): number[] => rs.map((r) => r.achieved);
  const cpu = (rs: LoadRow[]): number => median(rs.map((r) => r.cpuUsPerCheck));
  return {
    body, bare: rate(bare), portcullis: rate(pc), undisturbedOnly,
    ratio: ratio(median(rate(pc)), median(rate(bare))),
    cpuImpliedRatio: ratio(cpu(bare), cpu(pc)),
  };
}

function notesFor(rows: readonly LoadRow[]): string[] {
  const notes: string[] = [];
  for (const r of rows) {
    const at = `${r.generator} ${r.server} @ ${r.target ?? 'max'}${r.body ? ` (${r.body})` : ''}`;
    if (r.errors > 0) notes.push(`${at}: ${r.errors} errors ${JSON.stringify(r.errorCodes ?? {})} ${(r.errorSamples ?? []).join(' | ')}`);
    if (r.target !== undefined && r.achieved < r.target * 0.95) notes.push(`${at}: achieved only ${r.achieved}/s`);
    if ((r.othersCpu ?? 0) > OTHERS_LIMIT) notes.push(`${at}: other processes used ${r.othersCpu}% of a core during the quietest of ${r.attempts} attempts`);
    if (r.generator === 'open-loop' && (r.generatorCpu ?? 0) > 85) notes.push(`${at}: generator at ${r.generatorCpu}% CPU, its own queueing is in the latency`);
  }
  return notes;
}

export async function runLoad(quick: boolean, log: (line: string) => void = () => undefined): Promise<LoadReport> {
  const plan = loadPlan(quick);
  const config = bigConfig();
  const configFile = writeBigConfig(config);
  const pool = requestPool(config.cidrs);
  const messages = pool.messages.map((m) => m.toString('base64'));
  const servers: Server[] = [];
  const rows: LoadRow[] = [];
  const push = (row: LoadRow): void => {
    rows.push(row);
    log(`${row.generator.padEnd(9)} ${row.server.padEnd(10)} ${String(row.target ?? 'max').padStart(5)}/s ${row.body ?? ''} → ${row.achieved}/s  p50 ${row.p50Us} µs  p99 ${row.p99Us} µs  server CPU ${row.serverCpu}%  others ${row.othersCpu ?? '?'}% (attempt ${row.attempts})`);
  };
  try {
    const bare = await forkTs<{ port: number }>('bench/bare-server.ts');
    servers.push({ name: 'bare', child: bare.child, port: bare.ready.port });
    const pc = await forkTs<{ port: number; entries: number; startMs: number }>('bench/lib/portcullis-child.ts', { env: { PORTCULLIS_BENCH_CONFIG: configFile } });
    servers.push({ name: 'portcullis', child: pc.child, port: pc.ready.port });
    log(`portcullis: ${pc.ready.entries} entries, started in ${pc.ready.startMs} ms`);
    const checked = await verify(servers, messages);
    const bodies = writeBodies(dirname(configFile), pool, checked.deniedPerMessage ?? []);

    const generator = await startOpenLoopChild(); // one process for every run: no start-up inside a measurement
    try {
      // Unmeasured warm-up of each server, so no measured run pays for its JIT compilation.
      for (const s of servers) await generator.run({ target: `127.0.0.1:${s.port}`, rate: 2000, count: 4000 * plan.warmupS, messages, connections: 2 });
      for (const rate of plan.openLoopRates) {
        for (const s of servers) {
          const warmup = rate * plan.warmupS;
          const run = () => generator.run({ target: `127.0.0.1:${s.port}`, rate, count: rate * plan.durationS, warmup, messages, connections: 2 });
          push(openLoopRow(s, await measured(s, plan, run, (r) => r.cpuPercent), warmup));
        }
      }
    } finally {
      await generator.stop();
    }

    const maxRuns = new Map<string, Record<ServerName, LoadRow[]>>();
    const notes: string[] = [];
    if (!h2loadAvailable()) {
      notes.push('h2load not found at /usr/bin/h2load (Debian: nghttp2-client): fixed-rate h2load and max-throughput runs skipped.');
    } else {
      const h2 = async (s: Server, body: string, rate?: number): Promise<LoadRow> => {
        const run = (): Promise<H2loadResult> => runH2load({
          url: `http://127.0.0.1:${s.port}${CHECK_PATH}`, bodyFile: bodies.get(body)!, clients: plan.h2loadClients, streams: plan.h2loadStreams,
          durationS: plan.durationS, warmupS: plan.warmupS, ...(rate !== undefined ? { rate } : {}),
        });
        return h2loadRow(s, await measured(s, plan, run, (r) => r.cpuPercent), body, plan.warmupS, plan.durationS);
      };
      for (const rate of plan.h2loadRates) for (const s of servers) push(await h2(s, SIGN_IN, rate));
      for (let rep = 0; rep < plan.maxRepeats; rep++) {
        for (const body of [SIGN_IN, OTHER]) {
          for (const s of servers) {
            const row = await h2(s, body);
            push(row);
            const runs = maxRuns.get(body) ?? { bare: [], portcullis: [] };
            runs[s.name].push(row);
            maxRuns.set(body, runs);
          }
        }
      }
    }

    const ratios = rows.flatMap((b) => {
      if (b.server !== 'portcullis' || b.target === undefined) return [];
      const a = rows.find((r) => r.server === 'bare' && r.generator === b.generator && r.target === b.target && r.body === b.body);
      return a ? [{ generator: b.generator, target: b.target, p50: ratio(b.p50Us, a.p50Us), p99: ratio(b.p99Us, a.p99Us), p999: ratio(b.p999Us, a.p999Us), cpuPerCheck: ratio(b.cpuUsPerCheck, a.cpuUsPerCheck) }] : [];
    });
    const maxThroughput = [...maxRuns].map(([body, runs]) => summariseMax(body, runs));
    const [bareRss, pcRss] = await Promise.all(servers.map((s) => s.child.call<number>('rssMb')));
    return {
      plan,
      portcullis: { entries: pc.ready.entries, startMs: pc.ready.startMs, rssMb: pcRss! },
      bareRssMb: bareRss!,
      verify: { requests: messages.length, fromBlocklist: pool.fromBlocklist, deniedByPortcullis: checked.denied },
      rows,
      maxThroughput,
      ratios,
      notes: [...notes, ...notesFor(rows)],
    };
  } finally {
    await Promise.all(servers.map((s) => s.child.stop()));
    rmSync(dirname(configFile), { recursive: true, force: true });
  }
}
