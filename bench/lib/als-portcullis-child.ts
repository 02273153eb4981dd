// Child process entry for the ALS ingestion benchmark: Portcullis on the config folder named by
// PORTCULLIS_BENCH_CONFIG and the transport named by PORTCULLIS_BENCH_TRANSPORT, in its own process so its event
// loop and heap hold only the server. The event-loop delay and GC are watched here, where they happen:
// `watchStart` begins a phase, `watchStop` ends it. Node flags (--cpu-prof, --trace-gc) come through forkTs.
import { monitorEventLoopDelay, PerformanceObserver, constants as perf, type IntervalHistogram } from 'node:perf_hooks';
import { pino } from 'pino';
import { startPortcullis } from '../../src/main.ts';
import { readSettings } from '../../src/settings.ts';
import { serveParent } from './child.ts';

export interface AlsServerWatch {
  /** How late a 1 ms timer ran, p99 and max, ms. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  /** Time in GC, ms: all of it, and its longest pause; scavenges and mark-compacts apart. */
  readonly gcMs: number;
  readonly gcMaxMs: number;
  readonly scavenges: number;
  readonly scavengeMs: number;
  readonly markCompacts: number;
  readonly markCompactMs: number;
  readonly markCompactMaxMs: number;
  /** Heap in use at the end of the phase, MB. */
  readonly heapUsedMb: number;
}

const config = process.env.PORTCULLIS_BENCH_CONFIG;
if (!config) throw new Error('PORTCULLIS_BENCH_CONFIG is not set');
const transport = process.env.PORTCULLIS_BENCH_TRANSPORT ?? 'grpc-js';
const running = await startPortcullis(
  readSettings({ config: [config], 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '', events: 'none', 'log-level': 'silent', 'drain-seconds': '1', 'grpc-transport': transport }, {}),
  { events: { emit() {} }, logger: pino({ level: 'silent' }) },
);

const round = (x: number): number => Math.round(x * 100) / 100;
let delay: IntervalHistogram | undefined;
let gc: PerformanceObserver | undefined;
let totals = { gcMs: 0, gcMaxMs: 0, scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, markCompactMaxMs: 0 };

serveParent({
  watchStart: () => {
    delay = monitorEventLoopDelay({ resolution: 1 });
    delay.enable();
    totals = { gcMs: 0, gcMaxMs: 0, scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, markCompactMaxMs: 0 };
    gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
        totals.gcMs += e.duration;
        totals.gcMaxMs = Math.max(totals.gcMaxMs, e.duration);
        if (kind === perf.NODE_PERFORMANCE_GC_MINOR) {
          totals.scavenges++;
          totals.scavengeMs += e.duration;
        } else if (kind === perf.NODE_PERFORMANCE_GC_MAJOR) {
          totals.markCompacts++;
          totals.markCompactMs += e.duration;
          totals.markCompactMaxMs = Math.max(totals.markCompactMaxMs, e.duration);
        }
      }
    });
    gc.observe({ entryTypes: ['gc'] });
    return true;
  },
  watchStop: (): AlsServerWatch => {
    const d = delay!;
    d.disable();
    gc?.disconnect();
    return {
      loopDelayP99Ms: round(d.percentile(99) / 1e6), loopDelayMaxMs: round(d.max / 1e6),
      gcMs: Math.round(totals.gcMs), gcMaxMs: round(totals.gcMaxMs), scavenges: totals.scavenges, scavengeMs: Math.round(totals.scavengeMs),
      markCompacts: totals.markCompacts, markCompactMs: Math.round(totals.markCompactMs), markCompactMaxMs: round(totals.markCompactMaxMs),
      heapUsedMb: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    };
  },
  /** Sum of a counter's series in the server's registry. */
  counter: async (name) => {
    const text = await running.metrics.registry.metrics();
    let sum = 0;
    for (const m of text.matchAll(new RegExp(`^${name as string}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
    return sum;
  },
  /** Stops the server cleanly first, so --cpu-prof writes its profile on exit. */
  shutdown: async () => {
    await running.stop();
    return true;
  },
}, { port: running.grpcPort });
