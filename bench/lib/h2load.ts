// h2load (Debian's nghttp2-client) as the load generator: a C client that costs far less CPU per request than
// any Node client, so it can push a Node server to saturation on a 2-core machine. It reports min/max/mean/sd
// only; per-request times come from its --log-file, from which we take percentiles.
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHistogram } from 'node:perf_hooks';
import type { Percentiles } from './open-loop.ts';

export const H2LOAD = '/usr/bin/h2load';

export function h2loadAvailable(): boolean {
  try {
    accessSync(H2LOAD, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface H2loadOptions {
  readonly url: string;
  /** A file holding one gRPC-framed CheckRequest, sent as every request's body. */
  readonly bodyFile: string;
  readonly clients: number;
  /** Max concurrent streams per client (-m). */
  readonly streams: number;
  /** Total checks/s, split evenly over the clients (--rps is per client). Absent: as fast as possible. */
  readonly rate?: number;
  readonly durationS: number;
  readonly warmupS: number;
  /** Also return every request's start (µs since the epoch) and duration (µs), for picking a time window. */
  readonly samples?: boolean;
}

/** Per-request figures from the log: start[i] in µs since the epoch (h2load's wall clock), durationUs[i]. */
export interface H2loadSamples {
  readonly startUs: Float64Array;
  readonly durationUs: Float64Array;
}

export interface H2loadResult {
  readonly rate: number | undefined;
  readonly achievedRate: number;
  readonly requests: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  readonly timeout: number;
  /** h2load's own min/mean/sd/max of "time for request", µs. */
  readonly meanUs: number;
  readonly sdUs: number;
  /** From the per-request log: actual send → end of response, µs. */
  readonly latencyUs: Percentiles;
  /** h2load's own CPU over its run, % of one core (sampled from /proc; undefined elsewhere). */
  readonly cpuPercent: number | undefined;
  /** With `samples`: every logged request. */
  readonly samples?: H2loadSamples;
}

function toUs(text: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 's' ? 1e6 : m[2] === 'ms' ? 1e3 : 1);
}

/** Parses h2load's summary text. Exported for the smoke test. */
export function parseH2loadSummary(out: string): Omit<H2loadResult, 'rate' | 'latencyUs' | 'cpuPercent'> {
  const finished = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const time = /time for request:\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/.exec(out);
  if (!finished || !req || !time) throw new Error(`cannot parse h2load output:\n${out}`);
  return {
    achievedRate: Math.round(Number(finished[1])),
    requests: Number(req[1]),
    succeeded: Number(req[2]),
    failed: Number(req[3]),
    errored: Number(req[4]),
    timeout: Number(req[5]),
    meanUs: Math.round(toUs(time[3]!)),
    sdUs: Math.round(toUs(time[4]!)),
  };
}

/** Percentiles of request durations, µs. */
export function percentilesOf(durationsUs: ArrayLike<number>): Percentiles {
  const h = createHistogram({ lowest: 1, highest: 120e6, figures: 3 });
  for (let i = 0; i < durationsUs.length; i++) if (durationsUs[i]! > 0) h.record(Math.round(durationsUs[i]!));
  const r = (v: number): number => Math.round(v * 10) / 10;
  return { p50: r(h.percentile(50)), p90: r(h.percentile(90)), p99: r(h.percentile(99)), p999: r(h.percentile(99.9)), max: r(h.max), mean: r(h.mean) };
}

/** An h2load --log-file: start time (µs since the epoch), status, µs until end of response; one request a line. */
function readLog(file: string): H2loadSamples {
  const lines = readFileSync(file, 'utf8').split('\n');
  const startUs = new Float64Array(lines.length);
  const durationUs = new Float64Array(lines.length);
  let n = 0;
  for (const line of lines) {
    const f = line.split('\t');
    const t = Number(f[2]);
    if (!(t > 0)) continue;
    startUs[n] = Number(f[0]);
    durationUs[n++] = t;
  }
  return { startUs: startUs.subarray(0, n), durationUs: durationUs.subarray(0, n) };
}

/** utime + stime of a process in ms, from /proc/<pid>/stat (fields 14 and 15, in clock ticks of 10 ms). */
function procCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 on; the name may hold spaces
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Runs h2load, sampling its CPU every 100 ms: Node cannot read a child's rusage after it exits. */
function runSampled(args: string[]): Promise<{ out: string; cpuPercent: number | undefined }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(H2LOAD, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let cpuMs: number | undefined;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const sampler = setInterval(() => {
      if (child.pid !== undefined) cpuMs = procCpuMs(child.pid) ?? cpuMs;
    }, 100);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(sampler);
      if (code !== 0) return reject(new Error(`h2load exited with ${code}\n${err}`));
      resolve({ out, cpuPercent: cpuMs === undefined ? undefined : Math.round((cpuMs / (performance.now() - started)) * 100) });
    });
  });
}

export async function runH2load(o: H2loadOptions): Promise<H2loadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-h2load-'));
  const log = join(dir, 'requests.tsv');
  const args = [
    '-c', String(o.clients), '-m', String(o.streams), '-t', '1',
    '-D', String(o.durationS), `--warm-up-time=${o.warmupS}`,
    ...(o.rate !== undefined ? ['--rps', String(o.rate / o.clients)] : []),
    '-d', o.bodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers',
    `--log-file=${log}`, o.url,
  ];
  try {
    const { out, cpuPercent } = await runSampled(args);
    const samples = readLog(log);
    return { rate: o.rate, ...parseH2loadSummary(out), latencyUs: percentilesOf(samples.durationUs), cpuPercent, ...(o.samples ? { samples } : {}) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
