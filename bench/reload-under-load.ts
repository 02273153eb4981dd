// Check latency while the 100k-CIDR file is reloaded under a steady 2,000 checks/s (h2load --rps), same run:
// Portcullis as it runs (files parsed and indexed on a worker thread) against the same process reading the
// files on the event loop (FileSource without offThread), each measured without and with a reload. Reports
// p99 and max latency, the longest event-loop stall, the main thread's share of the reload (compile + swap)
// and the time from the file write to the new snapshot in force. Run alone: node --import tsx bench/reload-under-load.ts
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bigConfig } from './lib/big-config.ts';
import { forkTs, type ChildHandle } from './lib/child.ts';
import { runH2load, type H2loadResult } from './lib/h2load.ts';
import { openLoopInChild } from './lib/open-loop.ts';
import { CHECK_PATH, grpcFrame, requestPool } from './lib/requests.ts';
import { markdownTable } from './lib/table.ts';

export interface ReloadRow {
  readonly mode: 'worker thread' | 'event loop';
  readonly reload: boolean;
  readonly achieved: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly loopStallMs: number;
  /** With a reload: compile (from the worker's parts, or all of it) and swap on the main thread; file parsing is apart. */
  readonly mainThreadMs?: number;
  /** With a reload: file written → new snapshot in force. */
  readonly writeToSwapMs?: number;
}

export interface ReloadReport {
  readonly rate: number;
  readonly durationS: number;
  readonly loadAvg: readonly number[];
  readonly rows: readonly ReloadRow[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number): number => Math.round(x * 100) / 100;

interface Child { child: ChildHandle; port: number }
interface ConfigState { version: number; accepted: boolean; compileMs: number }

export async function runReloadUnderLoad(quick: boolean, log: (line: string) => void = () => undefined): Promise<ReloadReport> {
  const rate = 2000;
  const durationS = quick ? 4 : 8;
  const rounds = quick ? 1 : 2;
  const config = bigConfig();
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-reload-'));
  const original = config.yaml;
  // A reload swaps one entry for another (and back): the allowed benchmark client stays allowed.
  const changed = original.replace(`    - ${config.cidrs[0]}\n`, '    - 192.0.2.0/24\n');
  const rows: ReloadRow[] = [];
  const children: ChildHandle[] = [];
  try {
    const modes = [['worker thread', 'worker'], ['event loop', 'loop']] as const;
    const started: Array<[typeof modes[number][0], Child, string]> = [];
    for (const [mode, source] of modes) {
      const file = join(dir, `${source}.yaml`);
      writeFileSync(file, original);
      const pc = await forkTs<{ port: number }>('bench/lib/portcullis-child.ts', { env: { PORTCULLIS_BENCH_CONFIG: file, PORTCULLIS_BENCH_SOURCE: source, PORTCULLIS_BENCH_LOOP_DELAY: '1' } });
      children.push(pc.child);
      started.push([mode, { child: pc.child, port: pc.ready.port }, file]);
    }
    // One allowed sign-in POST (requestPool: every 10th client is planted in the blocklist, i % 4 === 3 is a GET).
    const pool = requestPool(config.cidrs, 40);
    const probe = await openLoopInChild({ target: `127.0.0.1:${started[0]![1].port}`, rate: 200, count: 40, messages: pool.messages.map((m) => m.toString('base64')), perMessage: true });
    const pick = (probe.deniedPerMessage ?? []).findIndex((d, i) => d === 0 && i % 10 !== 0 && i % 4 !== 3);
    if (pick < 0) throw new Error('no allowed sign-in request in the pool');
    const body = join(dir, 'check.grpc');
    writeFileSync(body, grpcFrame(pool.messages[pick]!));

    const h2 = (port: number, seconds: number): Promise<H2loadResult> =>
      runH2load({ url: `http://127.0.0.1:${port}${CHECK_PATH}`, bodyFile: body, clients: 2, streams: 16, durationS: seconds, warmupS: 0, rate });
    for (const [, c] of started) await h2(c.port, 2); // warm-up, unmeasured

    for (let r = 0; r < rounds; r++) {
      for (const [mode, c, file] of started) {
        await c.child.call('loopDelayMax');
        const quiet = await h2(c.port, durationS);
        rows.push({ mode, reload: false, achieved: quiet.achievedRate, p99Ms: round(quiet.latencyUs.p99 / 1000), maxMs: round(quiet.latencyUs.max / 1000), loopStallMs: await c.child.call<number>('loopDelayMax') });

        const before = await c.child.call<ConfigState>('config');
        const loaded = h2(c.port, durationS);
        await sleep(durationS * 250);
        const written = performance.now();
        writeFileSync(file, readFileSync(file, 'utf8') === original ? changed : original);
        let after = before;
        while (after.version === before.version && performance.now() - written < durationS * 1000) {
          await sleep(5);
          after = await c.child.call<ConfigState>('config');
        }
        const writeToSwapMs = performance.now() - written;
        const busy = await loaded;
        if (after.version === before.version) throw new Error(`${mode}: the reload did not land within the run`);
        rows.push({
          mode, reload: true, achieved: busy.achievedRate, p99Ms: round(busy.latencyUs.p99 / 1000), maxMs: round(busy.latencyUs.max / 1000),
          loopStallMs: await c.child.call<number>('loopDelayMax'), mainThreadMs: round(after.compileMs), writeToSwapMs: Math.round(writeToSwapMs),
        });
        log(`reload: ${mode}: p99 ${rows.at(-2)!.p99Ms} → ${rows.at(-1)!.p99Ms} ms, max ${rows.at(-2)!.maxMs} → ${rows.at(-1)!.maxMs} ms, stall ${rows.at(-1)!.loopStallMs} ms, main thread ${rows.at(-1)!.mainThreadMs} ms, write → swap ${writeToSwapMs.toFixed(0)} ms`);
      }
    }
    return { rate, durationS, loadAvg: loadavg(), rows };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

export function renderReloadUnderLoad(r: ReloadReport): string {
  const out = [`h2load --rps ${r.rate} (2 connections × 16 streams), ${r.durationS} s per run, POST /login on the 100k-CIDR config; load average ${r.loadAvg.map((x) => x.toFixed(2)).join(' ')}.`, ''];
  out.push(markdownTable(
    ['reload read on', 'reload during the run', 'checks/s', 'p99 ms', 'max ms', 'longest event-loop stall ms', 'compile + swap on the main thread ms', 'file write → swap ms'],
    r.rows.map((x) => [x.mode, x.reload ? 'yes' : 'no', x.achieved, x.p99Ms, x.maxMs, x.loopStallMs, x.mainThreadMs, x.writeToSwapMs]),
  ));
  // Target: no Check slower than 2× the p99 without a reload; swap ≤ 200 ms.
  const verdicts: string[] = [];
  for (const mode of ['worker thread', 'event loop'] as const) {
    const quiet = r.rows.filter((x) => x.mode === mode && !x.reload);
    const busy = r.rows.filter((x) => x.mode === mode && x.reload);
    if (quiet.length === 0 || busy.length === 0) continue;
    const p99 = Math.max(...quiet.map((x) => x.p99Ms));
    const worst = Math.max(...busy.map((x) => x.maxMs));
    verdicts.push(`- ${mode}: slowest Check during a reload ${worst} ms = ${round(worst / p99)}× the p99 without one (${p99} ms; target ≤ 2×); main thread ${Math.max(...busy.map((x) => x.mainThreadMs ?? 0))} ms (target ≤ 200 ms)`);
  }
  return [...out, '', ...verdicts].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await runReloadUnderLoad(process.argv.includes('--quick'), (l) => console.error(l));
  console.log(renderReloadUnderLoad(report));
}
