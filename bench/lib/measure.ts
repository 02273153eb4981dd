// One measured load run: wait for a quiet machine, run, record the server's CPU and GC and how much CPU other
// processes took meanwhile; repeat a disturbed run and keep the quietest attempt.
import { loadavg } from 'node:os';
import type { ChildHandle, GcTotals } from './child.ts';
import type { H2loadResult } from './h2load.ts';
import { machineCpu, waitForQuiet } from './machine.ts';

/** The two baselines and Portcullis on each of its gRPC transports, all in one run. */
export const SERVER_NAMES = ['bare grpc-js', 'bare http2', 'portcullis grpc-js', 'portcullis http2'] as const;
export type ServerName = (typeof SERVER_NAMES)[number];

export interface Server {
  readonly name: ServerName;
  readonly child: ChildHandle;
  readonly port: number;
}

export interface LoadRow {
  readonly server: ServerName;
  readonly generator: 'h2load';
  /** Which request every check carries. */
  readonly body: string;
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
  /** Share of the run the server's main thread spent in garbage collection, %: young and old generation. */
  readonly gcMinorPercent: number;
  readonly gcMajorPercent: number;
  readonly generatorCpu: number | undefined;
  /** Whole-machine CPU during the run, % of one core (200 = both cores). */
  readonly machineCpu: number | undefined;
  /** Machine CPU not used by the server or the generator: other people's processes (and the kernel's share). */
  readonly othersCpu: number | undefined;
  /** Seconds spent waiting for the machine to go quiet before the kept attempt, and attempts made. */
  readonly quietWaitS: number;
  readonly attempts: number;
  /** The machine's 1-minute load average when the kept attempt started. */
  readonly loadAvg1: number;
}

export interface Measured<T> {
  result: T;
  cpuMs: number;
  wallMs: number;
  gc: GcTotals;
  machine: number | undefined;
  others: number | undefined;
  waitedS: number;
  attempts: number;
  loadAvg1: number;
}

/** CPU (% of one core) that processes outside the run may use before the run is repeated. */
export const OTHERS_LIMIT = 30;

export async function measured<T>(
  server: Server,
  opts: { quietWaitMs: number; retries: number },
  fn: () => Promise<T>,
  generatorCpu: (r: T) => number | undefined,
): Promise<Measured<T>> {
  let best: Measured<T> | undefined;
  for (let attempt = 1; attempt <= 1 + opts.retries; attempt++) {
    const { waitedS } = await waitForQuiet(opts.quietWaitMs);
    const loadAvg1 = Math.round(loadavg()[0]! * 100) / 100;
    const c0 = await server.child.cpuMs();
    const gc0 = await server.child.call<GcTotals>('gc');
    const machine = machineCpu();
    const t0 = performance.now();
    const result = await fn();
    const wallMs = performance.now() - t0;
    const total = machine();
    const cpuMs = (await server.child.cpuMs()) - c0;
    const gc1 = await server.child.call<GcTotals>('gc');
    const gc = { minorMs: gc1.minorMs - gc0.minorMs, majorMs: gc1.majorMs - gc0.majorMs };
    const others = total === undefined ? undefined : Math.max(0, Math.round(total - (cpuMs / wallMs) * 100 - (generatorCpu(result) ?? 0)));
    if (!best || (others ?? 0) < (best.others ?? 0)) best = { result, cpuMs, wallMs, gc, machine: total, others, waitedS, attempts: attempt, loadAvg1 };
    else best.attempts = attempt;
    if (others === undefined || others <= OTHERS_LIMIT) break;
  }
  return best!;
}

/** `checks`: every check the server answered while measured, warm-up included. */
function serverFigures(m: Measured<unknown>, checks: number) {
  const pct = (ms: number): number => Math.round((ms / m.wallMs) * 1000) / 10;
  return {
    serverCpu: Math.round((m.cpuMs / m.wallMs) * 100),
    cpuUsPerCheck: checks > 0 ? Math.round((m.cpuMs * 1000) / checks) : 0,
    gcMinorPercent: pct(m.gc.minorMs),
    gcMajorPercent: pct(m.gc.majorMs),
    machineCpu: m.machine,
    othersCpu: m.others,
    quietWaitS: m.waitedS,
    attempts: m.attempts,
    loadAvg1: m.loadAvg1,
  };
}

export function h2loadRow(s: Server, m: Measured<H2loadResult>, body: string, warmupS: number, durationS: number): LoadRow {
  const r = m.result;
  return {
    server: s.name, generator: 'h2load', body, target: r.rate, achieved: r.achievedRate,
    p50Us: r.latencyUs.p50, p99Us: r.latencyUs.p99, p999Us: r.latencyUs.p999, maxUs: r.latencyUs.max,
    errors: r.failed + r.errored + r.timeout, generatorCpu: r.cpuPercent,
    // h2load counts only the measured phase; its warm-up ran at about the same rate.
    ...serverFigures(m, r.requests * (1 + warmupS / durationS)),
  };
}
