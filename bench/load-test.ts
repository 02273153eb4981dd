// Same-run load comparison: (a) a bare grpc-js Check server that always says OK and (b) Portcullis with 100k
// blocklisted CIDRs, each in its own process, driven by generators in their own processes. The two servers take
// turns on every scenario, so noise from neighbours on this shared machine lands on both alike.
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { bigConfig, writeBigConfig } from './lib/big-config.ts';
import { forkTs, type ChildHandle } from './lib/child.ts';
import { machineCpu, waitForQuiet } from './lib/machine.ts';
import { h2loadAvailable, runH2load, type H2loadResult } from './lib/h2load.ts';
import { openLoopInChild, startOpenLoopChild, type OpenLoopResult } from './lib/open-loop.ts';
import { CHECK_PATH, grpcFrame, requestPool } from './lib/requests.ts';

export type ServerName = 'bare' | 'portcullis';

export interface LoadRow {
  readonly server: ServerName;
  readonly generator: 'open-loop' | 'h2load';
  /** Target checks/s; undefined for the max-throughput runs. */
  readonly target: number | undefined;
  readonly achieved: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly errors: number;
  /** Server CPU over the run, % of one core (its event loop is one core). */
  readonly serverCpu: number;
  /** Server CPU time per answered check, µs: less sensitive to neighbours than throughput or latency. */
  readonly cpuUsPerCheck: number;
  /** open-loop only: generator CPU and its send lag (how late it sent, µs). */
  readonly generatorCpu?: number;
  readonly sendLagP99Us?: number;
  /** open-loop only: actual send → answer, µs. */
  readonly serviceP50Us?: number;
  readonly serviceP99Us?: number;
  readonly denied?: number;
  readonly errorCodes?: Record<string, number>;
  /** Whole-machine CPU during the run, % of one core (200 = both cores). Well above server + generator: disturbed. */
  readonly machineCpu: number | undefined;
  /** Seconds spent waiting for the machine to go quiet before the run. */
  readonly quietWaitS: number;
}

export interface LoadReport {
  readonly plan: LoadPlan;
  readonly portcullis: { readonly entries: number; readonly startMs: number; readonly rssMb: number };
  readonly bareRssMb: number;
  readonly verify: { readonly requests: number; readonly fromBlocklist: number; readonly deniedByPortcullis: number; readonly h2loadBody: string };
  readonly rows: readonly LoadRow[];
  readonly maxThroughput: { readonly bare: number[]; readonly portcullis: number[]; readonly ratio: number | undefined };
  /** Portcullis / bare at each fixed rate: latency percentiles and server CPU per check. */
  readonly ratios: ReadonlyArray<{ readonly generator: string; readonly target: number; readonly p50: number; readonly p99: number; readonly p999: number; readonly cpuPerCheck: number }>;
  readonly notes: readonly string[];
}

export interface LoadPlan {
  readonly openLoopRates: readonly number[];
  readonly h2loadRates: readonly number[];
  readonly durationS: number;
  readonly warmupS: number;
  readonly maxRepeats: number;
  /** Longest wait for a quiet machine before each run. */
  readonly quietWaitMs: number;
  readonly h2loadClients: number;
  readonly h2loadStreams: number;
}

export function loadPlan(quick: boolean): LoadPlan {
  // The grpc-js generator spends about as much CPU per check as the server, so on 2 cores it stays at rates
  // where it uses well under one core; h2load is cheap enough to go higher and to find the maximum.
  return quick
    ? { openLoopRates: [1000, 2000], h2loadRates: [5000], durationS: 3, warmupS: 1, maxRepeats: 1, quietWaitMs: 5_000, h2loadClients: 2, h2loadStreams: 64 }
    : { openLoopRates: [1000, 2000, 3000], h2loadRates: [2000, 5000, 10000], durationS: 10, warmupS: 2, maxRepeats: 3, quietWaitMs: 15_000, h2loadClients: 2, h2loadStreams: 64 };
}

interface Server {
  readonly name: ServerName;
  readonly child: ChildHandle;
  readonly port: number;
}

interface Measured<T> { result: T; cpuMs: number; wallMs: number; machine: number | undefined; waitedS: number }

/** Waits for a quiet machine, then runs fn while measuring the server's CPU and the whole machine's. */
async function measured<T>(server: Server, quietWaitMs: number, fn: () => Promise<T>): Promise<Measured<T>> {
  const { waitedS } = await waitForQuiet(quietWaitMs);
  const c0 = await server.child.cpuMs();
  const machine = machineCpu();
  const t0 = performance.now();
  const result = await fn();
  const cpuMs = (await server.child.cpuMs()) - c0;
  return { result, cpuMs, wallMs: performance.now() - t0, machine: machine(), waitedS };
}

/** `checks`: every check the server answered while measured, warm-up included. */
function serverCpu(m: Measured<unknown>, checks: number): { serverCpu: number; cpuUsPerCheck: number } {
  return { serverCpu: Math.round((m.cpuMs / m.wallMs) * 100), cpuUsPerCheck: checks > 0 ? Math.round((m.cpuMs * 1000) / checks) : 0 };
}

function openLoopRow(s: Server, m: Measured<OpenLoopResult>, warmup: number): LoadRow {
  const r = m.result;
  return {
    server: s.name, generator: 'open-loop', target: r.rate, achieved: r.achievedRate,
    p50Us: r.latencyUs.p50, p99Us: r.latencyUs.p99, p999Us: r.latencyUs.p999, maxUs: r.latencyUs.max,
    errors: r.requested - r.completed, ...serverCpu(m, r.completed + warmup), generatorCpu: r.cpuPercent,
    sendLagP99Us: r.sendLagUs.p99, serviceP50Us: r.serviceUs.p50, serviceP99Us: r.serviceUs.p99, denied: r.denied,
    errorCodes: r.errorCodes, machineCpu: m.machine, quietWaitS: m.waitedS,
  };
}

function h2loadRow(s: Server, m: Measured<H2loadResult>, plan: LoadPlan): LoadRow {
  const r = m.result;
  return {
    server: s.name, generator: 'h2load', target: r.rate, achieved: r.achievedRate,
    p50Us: r.latencyUs.p50, p99Us: r.latencyUs.p99, p999Us: r.latencyUs.p999, maxUs: r.latencyUs.max,
    errors: r.failed + r.errored + r.timeout, machineCpu: m.machine, quietWaitS: m.waitedS,
    // h2load counts only the measured phase; the warm-up ran at about the same rate.
    ...serverCpu(m, r.requests * (1 + plan.warmupS / plan.durationS)),
  };
}

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const ratio = (b: number, a: number): number => Math.round((b / a) * 100) / 100;

export async function runLoad(quick: boolean, log: (line: string) => void = () => undefined): Promise<LoadReport> {
  const plan = loadPlan(quick);
  const notes: string[] = [];
  const config = bigConfig();
  const configFile = writeBigConfig(config);
  const pool = requestPool(config.cidrs);
  const messages = pool.messages.map((m) => m.toString('base64'));
  const servers: Server[] = [];
  try {
    const bare = await forkTs<{ port: number }>('bench/bare-server.ts');
    servers.push({ name: 'bare', child: bare.child, port: bare.ready.port });
    const pc = await forkTs<{ port: number; entries: number; startMs: number }>('bench/lib/portcullis-child.ts', {
      env: { PORTCULLIS_BENCH_CONFIG: configFile },
    });
    servers.push({ name: 'portcullis', child: pc.child, port: pc.ready.port });
    log(`portcullis: ${pc.ready.entries} entries, started in ${pc.ready.startMs} ms`);

    // Verify before measuring: every message once, in order, through a real gRPC client.
    const verdicts = await Promise.all(servers.map((s) =>
      openLoopInChild({ target: `127.0.0.1:${s.port}`, rate: 500, count: messages.length, messages, perMessage: true })));
    const [bareCheck, pcCheck] = verdicts as [OpenLoopResult, OpenLoopResult];
    if (bareCheck.errors > 0 || bareCheck.denied > 0) throw new Error(`bare server: ${bareCheck.errors} errors, ${bareCheck.denied} denials`);
    const perMessage = pcCheck.deniedPerMessage ?? [];
    const missed = perMessage.filter((d, i) => i % 10 === 0 && d === 0).length;
    if (pcCheck.errors > 0 || missed > 0) throw new Error(`portcullis: ${pcCheck.errors} errors; ${missed} blocklisted clients allowed`);
    // h2load sends one body for every request: the common case, a client Portcullis allows.
    const bodyIndex = perMessage.findIndex((d, i) => i % 10 !== 0 && d === 0);
    const bodyFile = join(dirname(configFile), 'check.grpc');
    writeFileSync(bodyFile, grpcFrame(pool.messages[bodyIndex]!));

    const rows: LoadRow[] = [];
    const push = (row: LoadRow): void => {
      rows.push(row);
      log(`${row.generator.padEnd(9)} ${row.server.padEnd(10)} target ${String(row.target ?? 'max').padStart(5)}/s  got ${row.achieved}/s  p50 ${row.p50Us} µs  p99 ${row.p99Us} µs  p999 ${row.p999Us} µs  server cpu ${row.serverCpu}%  machine ${row.machineCpu ?? '?'}%  waited ${row.quietWaitS} s`);
    };
    const generator = await startOpenLoopChild(); // one process for every run: no start-up inside a measurement
    try {
      for (const rate of plan.openLoopRates) {
        for (const s of servers) {
          const warmup = rate * plan.warmupS;
          push(openLoopRow(s, await measured(s, plan.quietWaitMs, () => generator.run({
            target: `127.0.0.1:${s.port}`, rate, count: rate * plan.durationS, warmup, messages, connections: 2,
          })), warmup));
        }
      }
    } finally {
      await generator.stop();
    }

    const maxThroughput = { bare: [] as number[], portcullis: [] as number[] };
    if (!h2loadAvailable()) {
      notes.push('h2load not found at /usr/bin/h2load (Debian: nghttp2-client): fixed-rate h2load and max-throughput runs skipped.');
    } else {
      const h2 = (s: Server, rate?: number): Promise<H2loadResult> => runH2load({
        url: `http://127.0.0.1:${s.port}${CHECK_PATH}`, bodyFile, clients: plan.h2loadClients, streams: plan.h2loadStreams,
        durationS: plan.durationS, warmupS: plan.warmupS, ...(rate !== undefined ? { rate } : {}),
      });
      for (const rate of plan.h2loadRates) {
        for (const s of servers) {
          push(h2loadRow(s, await measured(s, plan.quietWaitMs, () => h2(s, rate)), plan));
        }
      }
      for (let rep = 0; rep < plan.maxRepeats; rep++) {
        for (const s of servers) {
          const row = h2loadRow(s, await measured(s, plan.quietWaitMs, () => h2(s)), plan);
          push(row);
          maxThroughput[s.name].push(row.achieved);
        }
      }
    }
    for (const r of rows) {
      if (r.errors > 0) notes.push(`${r.generator} ${r.server} @ ${r.target ?? 'max'}: ${r.errors} errors ${JSON.stringify(r.errorCodes ?? {})}`);
      if (r.target !== undefined && r.achieved < r.target * 0.95) notes.push(`${r.generator} ${r.server} @ ${r.target}/s achieved only ${r.achieved}/s`);
      if ((r.generatorCpu ?? 0) > 85) notes.push(`open-loop @ ${r.target}/s: generator at ${r.generatorCpu}% CPU, its own queueing is in the latency`);
    }

    const ratios = rows.flatMap((b) => {
      if (b.server !== 'portcullis' || b.target === undefined) return [];
      const a = rows.find((r) => r.server === 'bare' && r.generator === b.generator && r.target === b.target);
      return a ? [{ generator: b.generator, target: b.target, p50: ratio(b.p50Us, a.p50Us), p99: ratio(b.p99Us, a.p99Us), p999: ratio(b.p999Us, a.p999Us), cpuPerCheck: ratio(b.cpuUsPerCheck, a.cpuUsPerCheck) }] : [];
    });
    const maxRatio = maxThroughput.bare.length > 0 ? ratio(median(maxThroughput.portcullis), median(maxThroughput.bare)) : undefined;
    const [bareRss, pcRss] = await Promise.all(servers.map((s) => s.child.call<number>('rssMb')));
    return {
      plan,
      portcullis: { entries: pc.ready.entries, startMs: pc.ready.startMs, rssMb: pcRss! },
      bareRssMb: bareRss!,
      verify: { requests: messages.length, fromBlocklist: pool.fromBlocklist, deniedByPortcullis: pcCheck.denied, h2loadBody: `message ${bodyIndex} (allowed)` },
      rows,
      maxThroughput: { ...maxThroughput, ratio: maxRatio },
      ratios,
      notes,
    };
  } finally {
    await Promise.all(servers.map((s) => s.child.stop()));
    rmSync(dirname(configFile), { recursive: true, force: true });
  }
}
