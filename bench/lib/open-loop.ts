// Open-loop gRPC load generator. Request i is *scheduled* at t0 + i/rate whether or not earlier ones have
// answered, and latency is measured from that scheduled time, so a stalled server cannot slow the generator
// down and hide its own queueing (no coordinated omission). Runs in its own process: openLoopInChild().
import { Client, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { CheckResponse__Output } from '../../src/gen/envoy/service/auth/v3/CheckResponse.ts';
import { forkTs, serveParent } from './child.ts';
import { authorizationDefinition, CHECK_PATH } from './requests.ts';

export interface OpenLoopOptions {
  /** host:port */
  readonly target: string;
  /** Checks per second. */
  readonly rate: number;
  /** Measured requests (at most, when the run is stopped early with OpenLoopChild.stopRun). */
  readonly count: number;
  /** Requests sent first, on the same schedule, and not measured (JIT and connection warm-up). */
  readonly warmup?: number;
  /** HTTP/2 connections, used round-robin (Envoy opens one per worker thread). */
  readonly connections?: number;
  /** Serialized CheckRequests (base64), sent round-robin. */
  readonly messages: readonly string[];
  readonly deadlineMs?: number;
  /** Also return, per message, how many of its answers were denials (for checking verdicts). */
  readonly perMessage?: boolean;
}

export interface Percentiles {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface OpenLoopResult {
  readonly rate: number;
  readonly requested: number;
  readonly completed: number;
  readonly allowed: number;
  readonly denied: number;
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  /** The first few distinct error messages, for diagnosis. */
  readonly errorSamples: string[];
  /** From the first measured scheduled send to the last measured answer. */
  readonly durationS: number;
  /** Measured answers per second over durationS. */
  readonly achievedRate: number;
  /** Scheduled send → answer, µs: what a caller arriving on schedule would see. */
  readonly latencyUs: Percentiles;
  /** Actual send → answer, µs: excludes generator lateness (and so is open to coordinated omission). */
  readonly serviceUs: Percentiles;
  /** How late the generator sent, µs. Large values mean the generator, not the server, was the bottleneck. */
  readonly sendLagUs: Percentiles;
  readonly maxInFlight: number;
  /** Generator CPU over the run, % of one core. */
  readonly cpuPercent: number;
  readonly deniedPerMessage?: number[];
}

const us = (h: RecordableHistogram): Percentiles => {
  const at = (p: number): number => Math.round(h.percentile(p) / 100) / 10;
  return { p50: at(50), p90: at(90), p99: at(99), p999: at(99.9), max: Math.round(h.max / 100) / 10, mean: Math.round(h.mean / 100) / 10 };
};

// Set by the parent's 'stopRun' call: the run schedules nothing more and finishes with what it sent.
let stopRequested = false;

const histogram = (): RecordableHistogram => createHistogram({ lowest: 1, highest: 120e9, figures: 3 });
const ns = (ms: number): number => Math.max(1, Math.round(ms * 1e6));

export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const def = authorizationDefinition()['Check']!;
  const messages = o.messages.map((m) => Buffer.from(m, 'base64'));
  if (messages.length === 0) throw new Error('no messages to send');
  const clients = Array.from({ length: o.connections ?? 1 }, () =>
    // A local subchannel pool gives each client its own HTTP/2 connection.
    new Client(o.target, credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }),
  );
  await Promise.all(clients.map((c) => new Promise<void>((resolve, reject) => c.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())))));

  const warmup = o.warmup ?? 0;
  let total = warmup + o.count;
  stopRequested = false;
  const intervalMs = 1000 / o.rate;
  const deadlineMs = o.deadlineMs ?? 10_000;
  const latency = histogram();
  const service = histogram();
  const lag = histogram();
  const errorCodes: Record<string, number> = {};
  const errorSamples = new Set<string>();
  let allowed = 0;
  let denied = 0;
  let errors = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let lastDone = 0;
  const deniedPerMessage = new Array<number>(messages.length).fill(0);
  const identity = (b: Buffer): Buffer => b;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now() + 5;
  const firstMeasured = t0 + warmup * intervalMs;

  await new Promise<void>((finish) => {
    let i = 0;
    const send = (): void => {
      const index = i;
      const scheduled = t0 + index * intervalMs;
      const sent = performance.now();
      inFlight++;
      if (inFlight > maxInFlight) maxInFlight = inFlight;
      clients[index % clients.length]!.makeUnaryRequest(
        CHECK_PATH, identity, def.responseDeserialize as (b: Buffer) => CheckResponse__Output, messages[index % messages.length]!,
        deadlineMs > 0 ? { deadline: Date.now() + deadlineMs } : {},
        (err: ServiceError | null, res?: CheckResponse__Output) => {
          const done = performance.now();
          inFlight--;
          if (index >= warmup) {
            lastDone = Math.max(lastDone, done);
            if (err) {
              errors++;
              const code = status[err.code] ?? String(err.code);
              errorCodes[code] = (errorCodes[code] ?? 0) + 1;
              if (errorSamples.size < 3) errorSamples.add(`${code}: ${err.details}`);
            } else {
              if ((res?.status?.code ?? 0) === 0) allowed++;
              else {
                denied++;
                deniedPerMessage[index % messages.length]!++;
              }
              latency.record(ns(done - scheduled));
              service.record(ns(done - sent));
              lag.record(ns(sent - scheduled));
            }
          }
          if (inFlight === 0 && i >= total) finish();
        },
      );
    };
    const loop = (): void => {
      if (stopRequested) {
        total = Math.max(i, Math.min(total, warmup + 1));
        stopRequested = false;
        if (i >= total && inFlight === 0) return finish();
      }
      const now = performance.now();
      while (i < total && t0 + i * intervalMs <= now) {
        send();
        i++;
      }
      if (i >= total) return;
      // Node timers fire on 1 ms ticks, so sends go out in per-tick batches; the lateness this adds is measured
      // (sendLagUs) and included in latencyUs. A setImmediate spin was tried: grpc-js then stalls for 100s of ms.
      setTimeout(loop, Math.max(0, t0 + i * intervalMs - performance.now()));
    };
    setTimeout(loop, 5);
  });

  const cpu = process.cpuUsage(cpu0);
  for (const c of clients) c.close();
  const completed = allowed + denied;
  const durationS = (lastDone - firstMeasured) / 1000;
  return {
    rate: o.rate,
    requested: total - warmup,
    completed,
    allowed,
    denied,
    errors,
    errorCodes,
    errorSamples: [...errorSamples],
    durationS: Math.round(durationS * 1000) / 1000,
    achievedRate: Math.round(completed / durationS),
    latencyUs: us(latency),
    serviceUs: us(service),
    sendLagUs: us(lag),
    maxInFlight,
    cpuPercent: Math.round(((cpu.user + cpu.system) / 1000 / (lastDone - t0)) * 100),
    ...(o.perMessage ? { deniedPerMessage } : {}),
  };
}

export interface OpenLoopChild {
  run(o: OpenLoopOptions): Promise<OpenLoopResult>;
  /** Ends the run in progress after what it has sent so far is answered (run() then resolves). */
  stopRun(): Promise<void>;
  stop(): Promise<void>;
}

/** A generator in its own process, so it never shares an event loop with a server or the orchestrator. */
export async function startOpenLoopChild(): Promise<OpenLoopChild> {
  const { child } = await forkTs<object>('bench/lib/open-loop.ts');
  return { run: (o) => child.call<OpenLoopResult>('run', o), stopRun: () => child.call<void>('stopRun'), stop: () => child.stop() };
}

/** One run in a fresh generator process. */
export async function openLoopInChild(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const generator = await startOpenLoopChild();
  try {
    return await generator.run(o);
  } finally {
    await generator.stop();
  }
}

if (process.send && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  serveParent({ run: (o) => runOpenLoop(o as OpenLoopOptions), stopRun: () => void (stopRequested = true) }, {});
}
