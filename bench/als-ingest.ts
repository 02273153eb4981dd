// Checks while a large access-log stream is learned (issue 11, item 9): Portcullis in this process, a real
// grpc-js client (its own process) streaming `entries` ALS entries in messages of 50k, and an open-loop
// generator (its own process) sending Checks at a fixed rate. The same generator first runs with no ingestion:
// the two rows are same-run figures, and the load average is printed with them.
// Run alone: node --import tsx bench/als-ingest.ts [--quick]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { startPortcullis, type Running } from '../src/main.ts';
import { readSettings } from '../src/settings.ts';
import { startAlsSender, type AlsPlan, type AlsSender } from './lib/als-sender.ts';
import { machineCpu, waitForQuiet } from './lib/machine.ts';
import { startOpenLoopChild, type OpenLoopResult } from './lib/open-loop.ts';
import { requestPool } from './lib/requests.ts';
import { markdownTable } from './lib/table.ts';

const CONFIG = `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: edge }
spec: { usage: Policy, proxies: [10.0.0.0/8] }
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatPolicy
metadata: { name: default }
spec: { action: Block }
`;

export interface AlsIngestRow {
  readonly transport: 'grpc-js' | 'http2';
  readonly phase: 'no ingestion' | 'during ingestion';
  readonly checks: number;
  readonly errors: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** Actual send → answer p99 (without the generator's own lateness), and how late the generator sent, p99. */
  readonly serviceP99Ms: number;
  readonly sendLagP99Ms: number;
  /** The server's event loop (this process): how late a 1 ms timer ran, p99 and max; and time in GC. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly gcMs: number;
  readonly gcMaxMs: number;
  /** during ingestion: entries learned per second, from the first write to the server's answer. */
  readonly entriesPerSecond?: number;
  readonly learned?: number;
  readonly shed?: number;
  /** Whole-machine CPU during the phase, % of one core (200 = both cores), and the wait for a quiet machine before it. */
  readonly machineCpu: number | undefined;
  /** The machine's CPU not used by the server, the generator or the sender: neighbours on this shared machine. */
  readonly othersCpu: number | undefined;
  readonly quietWaitS: number;
  readonly loadAvg: readonly number[];
}

export interface AlsIngestReport {
  readonly entries: number;
  readonly perMessage: number;
  readonly rate: number;
  readonly rows: readonly AlsIngestRow[];
}

/** Sum of a counter's series in the server's registry. */
async function counter(running: Running, name: string): Promise<number> {
  const text = await running.metrics.registry.metrics();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

const ms = (us: number): number => Math.round(us / 10) / 100;

/** Watches this process's event loop and GC from now until the returned function is called. */
function watchLoop(): () => { loopDelayP99Ms: number; loopDelayMaxMs: number; gcMs: number; gcMaxMs: number } {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  let gcMs = 0;
  let gcMaxMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      gcMaxMs = Math.max(gcMaxMs, e.duration);
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  return () => {
    delay.disable();
    gc.disconnect();
    const round = (x: number): number => Math.round(x * 100) / 100;
    return { loopDelayP99Ms: round(delay.percentile(99) / 1e6), loopDelayMaxMs: round(delay.max / 1e6), gcMs: Math.round(gcMs), gcMaxMs: round(gcMaxMs) };
  };
}

type Watched = ReturnType<ReturnType<typeof watchLoop>> & { machineCpu: number | undefined; ownCpu: number; quietWaitS: number };

/**
 * Waits (bounded) for a quiet machine, then watches the event loop, GC and machine CPU until the call; ownCpu
 * is this process's and the sender's CPU over the phase, % of one core (the generator reports its own).
 */
async function phase(quietWaitMs: number, sender: AlsSender): Promise<() => Promise<Watched>> {
  const { waitedS } = await waitForQuiet(quietWaitMs);
  const loop = watchLoop();
  const cpu = machineCpu();
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const sender0 = await sender.cpuMs();
  return async () => {
    const self = process.cpuUsage(self0);
    const wall = performance.now() - t0;
    const senderMs = (await sender.cpuMs()) - sender0;
    return { ...loop(), machineCpu: cpu(), ownCpu: Math.round((((self.user + self.system) / 1000 + senderMs) / wall) * 100), quietWaitS: waitedS };
  };
}

function row(transport: AlsIngestRow['transport'], phase: AlsIngestRow['phase'], r: OpenLoopResult, loop: Watched, extra: Partial<AlsIngestRow> = {}): AlsIngestRow {
  const { ownCpu, ...watched } = loop;
  return {
    transport, phase, checks: r.completed, errors: r.errors,
    p50Ms: ms(r.latencyUs.p50), p99Ms: ms(r.latencyUs.p99), p999Ms: ms(r.latencyUs.p999), maxMs: ms(r.latencyUs.max),
    serviceP99Ms: ms(r.serviceUs.p99), sendLagP99Ms: ms(r.sendLagUs.p99),
    ...watched,
    othersCpu: watched.machineCpu === undefined ? undefined : Math.max(0, watched.machineCpu - ownCpu - r.cpuPercent),
    loadAvg: loadavg().map((x) => Math.round(x * 100) / 100), ...extra,
  };
}

export async function runAlsIngest(quick: boolean, progress: (line: string) => void): Promise<AlsIngestReport> {
  const plan: AlsPlan = { entries: quick ? 200_000 : 1_000_000, perMessage: 50_000, distinct: 20_000 };
  const rate = 1000;
  const baselineS = quick ? 3 : 10;
  const quietWaitMs = quick ? 5_000 : 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-als-'));
  writeFileSync(join(dir, 'config.yaml'), CONFIG);
  const messages = requestPool([], 64).messages.map((m) => m.toString('base64'));
  const generator = await startOpenLoopChild();
  const sender = await startAlsSender();
  const rows: AlsIngestRow[] = [];
  try {
    progress(`als ingest: serializing ${plan.entries} entries in messages of ${plan.perMessage}`);
    await sender.prepare(plan);
    for (const transport of ['grpc-js', 'http2'] as const) {
      const running = await startPortcullis(
        readSettings({ config: [dir], 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '', events: 'none', 'drain-seconds': '1', 'grpc-transport': transport }, {}),
        { logger: pino({ level: 'silent' }) },
      );
      try {
        const target = `127.0.0.1:${running.grpcPort}`;
        // Warm-up: the JIT and the generator's connections, not measured.
        await generator.run({ target, rate, count: rate * 2, messages, connections: 2 });
        progress(`als ingest (${transport}): ${rate} Checks/s for ${baselineS} s, no ingestion`);
        let watch = await phase(quietWaitMs, sender);
        const base = await generator.run({ target, rate, count: rate * baselineS, warmup: 0, messages, connections: 2 });
        rows.push(row(transport, 'no ingestion', base, await watch()));

        progress(`als ingest (${transport}): ${rate} Checks/s while ${plan.entries} entries are streamed`);
        const learned0 = await counter(running, 'portcullis_outcomes_total');
        watch = await phase(quietWaitMs, sender);
        const checks = generator.run({ target, rate, count: rate * 600, warmup: 0, messages, connections: 2 });
        const sent = await sender.send(target);
        await generator.stopRun();
        const during = await checks;
        const learned = (await counter(running, 'portcullis_outcomes_total')) - learned0;
        const shed = await counter(running, 'portcullis_outcomes_shed_total');
        rows.push(row(transport, 'during ingestion', during, await watch(), { entriesPerSecond: Math.round(sent.entries / (sent.wallMs / 1000)), learned, shed }));
      } finally {
        await running.stop();
      }
    }
  } finally {
    await Promise.all([generator.stop(), sender.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
  return { entries: plan.entries, perMessage: plan.perMessage, rate, rows };
}

export function renderAlsIngest(r: AlsIngestReport): string {
  const lines = [
    `${r.entries} ALS entries streamed in messages of ${r.perMessage} on one grpc-js client stream, Checks at ${r.rate}/s (open loop: scheduled send → answer). Target: p99 ≤ 5 ms during ingestion.`,
    'service: actual send → answer; send lag: how late the generator sent (its own share of p99). Loop delay and GC: the server\'s process.',
    'Machine CPU: the whole machine during the phase, % of one core (200 = both); others: what the server, generator and sender did not use (neighbours).',
    '',
    markdownTable(
      ['transport', 'phase', 'checks', 'errors', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'service p99 ms', 'send lag p99 ms', 'loop delay p99 / max ms', 'GC ms (longest)', 'entries/s', 'learned', 'shed', 'machine CPU %', 'others CPU %', 'load average'],
      r.rows.map((x) => [x.transport, x.phase, x.checks, x.errors, x.p50Ms, x.p99Ms, x.p999Ms, x.maxMs, x.serviceP99Ms, x.sendLagP99Ms, `${x.loopDelayP99Ms} / ${x.loopDelayMaxMs}`, `${x.gcMs} (${x.gcMaxMs})`, x.entriesPerSecond, x.learned, x.shed, x.machineCpu, x.othersCpu, x.loadAvg.join(' ')]),
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await runAlsIngest(process.argv.includes('--quick'), (l) => console.error(`  ${l}`));
  console.log(renderAlsIngest(report));
}
