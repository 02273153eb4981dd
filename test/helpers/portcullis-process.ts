// Portcullis in its own process (its own event loop, gRPC server and store connections), driven over IPC:
// replicas for the shared-store tests. The child is startTestInstance() in a forked tsx process.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { forkTs, serveParent, type ChildHandle } from '../../bench/lib/child.ts';
import { ManualClock } from '../../src/clock.ts';
import type { SecurityEvent } from '../../src/telemetry/events.ts';
import { startTestInstance } from './portcullis.ts';

export interface ProcessInstance {
  readonly pid: number;
  readonly grpcTarget: string;
  readonly httpBase: string;
  /** Moves the child's ManualClock (started with clockStartMs). */
  advance(ms: number): Promise<void>;
  /** threats.tick() (the 1 s interval's work), then waits for the store. */
  tick(): Promise<void>;
  /** Waits until every write the child issued is answered and every published row it should have seen is in. */
  settled(): Promise<void>;
  events(): Promise<SecurityEvent[]>;
  metric(name: string): Promise<number>;
  /** The child's event-loop delay since the last call (ms): what any Check waited behind other work. */
  loopDelay(): Promise<{ p50: number; p99: number; max: number }>;
  /** CPU time the child has used, ms. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

interface ChildSpec {
  readonly files: Record<string, string>;
  readonly flags: Record<string, string>;
  readonly clockStartMs?: number;
}

export async function startProcessInstance(files: Record<string, string>, flags: Record<string, string> = {}, clockStartMs?: number): Promise<ProcessInstance> {
  const spec: ChildSpec = { files, flags, ...(clockStartMs !== undefined ? { clockStartMs } : {}) };
  const { child, ready } = await forkTs<{ grpcTarget: string; httpBase: string }>('test/helpers/portcullis-process.ts', {
    env: { PORTCULLIS_TEST_CHILD: JSON.stringify(spec) },
  });
  return instance(child, ready);
}

function instance(child: ChildHandle, ready: { grpcTarget: string; httpBase: string }): ProcessInstance {
  return {
    pid: child.pid,
    ...ready,
    advance: (ms) => child.call('advance', ms),
    tick: () => child.call('tick'),
    settled: () => child.call('settled'),
    events: () => child.call('events'),
    metric: (name) => metricValue(ready.httpBase, name),
    loopDelay: () => child.call('loopDelay'),
    cpuMs: () => child.cpuMs(),
    async stop() {
      await child.call('stop').catch(() => undefined);
      await child.stop();
    },
  };
}

/** One sample from /metrics, e.g. `portcullis_outcomes_total{result="failure"}`; NaN when absent. */
export async function metricValue(httpBase: string, name: string): Promise<number> {
  const text = await (await fetch(`${httpBase}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"[\]()*+?.\\^$|]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

// Child side.
if (process.send && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const spec = JSON.parse(process.env.PORTCULLIS_TEST_CHILD ?? '{}') as ChildSpec;
  const clock = spec.clockStartMs !== undefined ? new ManualClock(spec.clockStartMs) : undefined;
  const inst = await startTestInstance(spec.files, spec.flags, clock);
  const store = inst.running.store;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  serveParent({
    loopDelay: () => {
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      const r = { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) };
      delay.reset();
      return r;
    },
    advance: (ms) => clock!.advance(ms as number),
    tick: async () => {
      inst.running.learner.tick();
      await store.settled();
    },
    settled: () => store.settled(),
    events: () => inst.events.events,
    stop: () => inst.stop(),
  }, { grpcTarget: inst.grpcTarget, httpBase: inst.httpBase });
}

/** The ports of a `portcullis serve` child, from its "portcullis listening" log line; rejects if it exits first. */
export function listeningPorts<P = { grpcPort: number; httpPort: number }>(proc: import('node:child_process').ChildProcess): Promise<P> {
  return new Promise((resolve, reject) => {
    let err = '';
    proc.stderr!.on('data', (d) => {
      err += d;
      const line = err.split('\n').find((l) => l.includes('"portcullis listening"'));
      if (line) resolve(JSON.parse(line) as P);
    });
    proc.on('exit', (code) => reject(new Error(`serve exited ${code}:\n${err}`)));
  });
}
