// Checks while a large access-log stream is learned (issue 11 item 9, issue 15 item 6): Portcullis in its own
// process (bench/lib/als-portcullis-child.ts, which watches its own event loop and GC), a real grpc-js client
// (its own process) streaming `entries` ALS entries in messages of 50k, and h2load sending Checks at a fixed
// rate (--rps). Each transport first gets the same Checks with no ingestion: the two rows are same-run figures,
// and the load average is printed with them.
// Run alone: node --import tsx bench/als-ingest.ts [--quick] [--transport http2] [--server-args='--cpu-prof --cpu-prof-dir=/tmp/p']
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startAlsSender, type AlsPlan, type AlsSender } from './lib/als-sender.ts';
import type { AlsServerWatch } from './lib/als-portcullis-child.ts';
import { forkTs, type ChildHandle } from './lib/child.ts';
import { H2LOAD, h2loadAvailable, percentilesOf, runH2load, type H2loadResult } from './lib/h2load.ts';
import { machineCpu, waitForQuiet } from './lib/machine.ts';
import { CHECK_PATH, grpcFrame, requestPool } from './lib/requests.ts';
import { markdownTable } from './lib/table.ts';

/** The config both ALS benchmarks serve: the sender's proxy trusted, and a blocking policy. */
export const ALS_CONFIG = `
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

type Transport = 'grpc-js' | 'http2';

export interface AlsIngestRow extends AlsServerWatch {
  readonly transport: Transport;
  readonly phase: 'no ingestion' | 'during ingestion';
  /** Checks answered in the phase (during ingestion: those sent between the stream's first write and its answer). */
  readonly checks: number;
  /** Checks h2load counted as failed or errored over the phase's runs. */
  readonly errors: number;
  /** h2load: actual send → end of response. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** during ingestion: entries learned per second, from the first write to the server's answer. */
  readonly entriesPerSecond?: number;
  readonly learned?: number;
  readonly shed?: number;
  /** Whole-machine CPU during the phase, % of one core (200 = both cores); the server's own share. */
  readonly machineCpu: number | undefined;
  readonly serverCpu: number;
  readonly quietWaitS: number;
  readonly loadAvg: readonly number[];
}

export interface AlsIngestReport {
  readonly entries: number;
  readonly perMessage: number;
  readonly rate: number;
  readonly clients: number;
  readonly streams: number;
  readonly rows: readonly AlsIngestRow[];
}

const ms = (us: number): number => Math.round(us / 10) / 100;
const loadAvg = (): number[] => loadavg().map((x) => Math.round(x * 100) / 100);

interface Server { child: ChildHandle; port: number }

/** Checks at `rate` for as long as `until` is pending, in back-to-back h2load runs of chunkS; all their requests. */
async function checksWhile(run: (seconds: number) => Promise<H2loadResult>, until: Promise<unknown>, chunkS: number): Promise<H2loadResult[]> {
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  const runs: H2loadResult[] = [];
  while (!done) runs.push(await run(chunkS));
  return runs;
}

export async function runAlsIngest(quick: boolean, progress: (line: string) => void, opts: { transports?: readonly Transport[]; serverArgs?: string[] } = {}): Promise<AlsIngestReport> {
  if (!h2loadAvailable()) throw new Error(`h2load not found at ${H2LOAD}: apt-get install nghttp2-client (node scripts/provision.mjs installs it)`);
  const plan: AlsPlan = { entries: quick ? 200_000 : 1_000_000, perMessage: 50_000, distinct: 20_000 };
  const rate = 1000;
  // Enough streams that a stalled server queues h2load's sends in flight rather than delaying them unmeasured.
  const clients = 2;
  const streams = 64;
  const baselineS = quick ? 3 : 10;
  const chunkS = quick ? 2 : 4;
  const quietWaitMs = quick ? 5_000 : 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-als-'));
  writeFileSync(join(dir, 'config.yaml'), ALS_CONFIG);
  // One sign-in POST (requestPool: i % 4 === 3 is a GET) from a client the stream never names.
  const body = join(dir, 'check.grpc');
  writeFileSync(body, grpcFrame(requestPool([], 1).messages[0]!));
  const sender = await startAlsSender();
  const rows: AlsIngestRow[] = [];
  try {
    progress(`als ingest: serializing ${plan.entries} entries in messages of ${plan.perMessage}`);
    await sender.prepare(plan);
    for (const transport of opts.transports ?? (['grpc-js', 'http2'] as const)) {
      const pc = await forkTs<{ port: number }>('bench/lib/als-portcullis-child.ts', {
        env: { PORTCULLIS_BENCH_CONFIG: dir, PORTCULLIS_BENCH_TRANSPORT: transport },
        ...(opts.serverArgs ? { execArgv: opts.serverArgs } : {}),
      });
      const server: Server = { child: pc.child, port: pc.ready.port };
      try {
        const h2 = (seconds: number, samples = false): Promise<H2loadResult> => runH2load({
          url: `http://127.0.0.1:${server.port}${CHECK_PATH}`, bodyFile: body, clients, streams, rate, durationS: seconds, warmupS: 0, samples,
        });
        // Warm-up: the JIT of the Check path, not measured.
        await h2(2);

        progress(`als ingest (${transport}): ${rate} Checks/s for ${baselineS} s, no ingestion`);
        let start = await phaseStart(server, quietWaitMs);
        const base = await h2(baselineS);
        let end = await phaseEnd(server, start);
        rows.push({
          transport, phase: 'no ingestion', checks: base.succeeded, errors: base.failed + base.errored + base.timeout,
          p50Ms: ms(base.latencyUs.p50), p99Ms: ms(base.latencyUs.p99), p999Ms: ms(base.latencyUs.p999), maxMs: ms(base.latencyUs.max),
          ...end, quietWaitS: start.quietWaitS, loadAvg: loadAvg(),
        });

        progress(`als ingest (${transport}): ${rate} Checks/s while ${plan.entries} entries are streamed`);
        const learned0 = await server.child.call<number>('counter', 'portcullis_outcomes_total');
        start = await phaseStart(server, quietWaitMs);
        // The stream starts once the first h2load run is under way; only Checks sent while it runs count.
        let fromUs = 0;
        let toUs = 0;
        let entriesPerSecond = 0;
        const streamed = (async () => {
          await new Promise((r) => setTimeout(r, 300));
          fromUs = Date.now() * 1000;
          const sent = await sender.send(`127.0.0.1:${server.port}`);
          toUs = Date.now() * 1000;
          entriesPerSecond = Math.round(sent.entries / (sent.wallMs / 1000));
        })();
        const runs = await checksWhile((s) => h2(s, true), streamed, chunkS);
        await streamed;
        end = await phaseEnd(server, start);
        const durations: number[] = [];
        for (const r of runs) {
          const { startUs, durationUs } = r.samples!;
          for (let i = 0; i < startUs.length; i++) if (startUs[i]! >= fromUs && startUs[i]! <= toUs) durations.push(durationUs[i]!);
        }
        const during = percentilesOf(durations);
        const learned = (await server.child.call<number>('counter', 'portcullis_outcomes_total')) - learned0;
        const shed = await server.child.call<number>('counter', 'portcullis_outcomes_shed_total');
        rows.push({
          transport, phase: 'during ingestion', checks: durations.length, errors: runs.reduce((n, r) => n + r.failed + r.errored + r.timeout, 0),
          p50Ms: ms(during.p50), p99Ms: ms(during.p99), p999Ms: ms(during.p999), maxMs: ms(during.max),
          ...end, entriesPerSecond, learned, shed, quietWaitS: start.quietWaitS, loadAvg: loadAvg(),
        });
        progress(`als ingest (${transport}): p99 ${rows.at(-2)!.p99Ms} → ${rows.at(-1)!.p99Ms} ms, GC ${end.gcMs} ms (longest ${end.gcMaxMs}), load ${loadAvg().join(' ')}`);
      } finally {
        await server.child.call('shutdown').catch(() => undefined);
        await server.child.stop();
      }
    }
  } finally {
    await sender.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return { entries: plan.entries, perMessage: plan.perMessage, rate, clients, streams, rows };
}

interface PhaseStart { quietWaitS: number; cpu: () => number | undefined; serverCpu0: number; t0: number }

/** Waits (bounded) for a quiet machine, then starts watching the server's loop and GC and the machine's CPU. */
async function phaseStart(s: Server, quietWaitMs: number): Promise<PhaseStart> {
  const { waitedS } = await waitForQuiet(quietWaitMs);
  await s.child.call('watchStart');
  return { quietWaitS: waitedS, cpu: machineCpu(), serverCpu0: await s.child.cpuMs(), t0: performance.now() };
}

async function phaseEnd(s: Server, p: PhaseStart): Promise<AlsServerWatch & { machineCpu: number | undefined; serverCpu: number }> {
  const watched = await s.child.call<AlsServerWatch>('watchStop');
  const serverMs = (await s.child.cpuMs()) - p.serverCpu0;
  return { ...watched, machineCpu: p.cpu(), serverCpu: Math.round((serverMs / (performance.now() - p.t0)) * 100) };
}

export function renderAlsIngest(r: AlsIngestReport): string {
  const lines = [
    `${r.entries} ALS entries streamed in messages of ${r.perMessage} on one grpc-js client stream; Checks from h2load --rps ${r.rate} (${r.clients} connections × ${r.streams} streams), actual send → end of response. Target: p99 ≤ 5 ms during ingestion.`,
    'Loop delay, GC and heap: the server\'s process (its own). Machine CPU: the whole machine during the phase, % of one core (200 = both).',
    '',
    markdownTable(
      ['transport', 'phase', 'checks', 'errors', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms', 'loop delay p99 / max ms', 'GC ms (longest)', 'scavenges (ms)', 'mark-compacts (ms, longest)', 'heap MB', 'entries/s', 'learned', 'shed', 'server CPU %', 'machine CPU %', 'load average'],
      r.rows.map((x) => [x.transport, x.phase, x.checks, x.errors, x.p50Ms, x.p99Ms, x.p999Ms, x.maxMs, `${x.loopDelayP99Ms} / ${x.loopDelayMaxMs}`, `${x.gcMs} (${x.gcMaxMs})`,
        `${x.scavenges} (${x.scavengeMs})`, `${x.markCompacts} (${x.markCompactMs}, ${x.markCompactMaxMs})`, x.heapUsedMb, x.entriesPerSecond, x.learned, x.shed, x.serverCpu, x.machineCpu, x.loadAvg.join(' ')]),
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, transport: { type: 'string' }, 'server-args': { type: 'string' } } });
  const report = await runAlsIngest(values.quick, (l) => console.error(`  ${l}`), {
    ...(values.transport ? { transports: [values.transport as Transport] } : {}),
    ...(values['server-args'] ? { serverArgs: values['server-args'].split(' ').filter(Boolean) } : {}),
  });
  console.log(renderAlsIngest(report));
}
