/**
 * Cost of a new key when the tracked-IP table is at its cap (issue 11 item 4), whatever the table holds:
 *   node --import tsx bench/evict-micro.ts [cap]
 * Each scenario fills the table, then times a spray of fresh keys. Figures are µs per new key; the same-run
 * baseline is a new key inserted below the cap (no eviction), so the ratio says what eviction adds.
 */
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ManualClock } from '../src/clock.ts';
import { DetectionEngine } from '../src/detect/engine.ts';
import { ipKey } from '../src/detect/ip-key.ts';
import { DEFAULT_THRESHOLDS } from '../src/detect/thresholds.ts';

const key = (i: number): number => ipKey(4, Math.imul(i + 1, 0x9e3779b1) >>> 0, 0, 0, 0, 64);
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

type Fill = (engine: DetectionEngine, clock: ManualClock, cap: number) => void;

const FILLS: Record<string, Fill> = {
  // Every key rate-limited (5 failures in 10 s: MEDIUM), plus one real attacker with 3 failures.
  'rate-limited': (e, c, cap) => {
    for (let i = 0; i < cap - 1; i++) for (let k = 0; k < 5; k++) e.recordOutcome(key(i), 'failure');
    c.advance(100);
    for (let k = 0; k < 3; k++) e.recordOutcome(key(cap + 7), 'failure');
  },
  // Attempts and successes only: the first class to go.
  'no-failures': (e, _c, cap) => {
    for (let i = 0; i < cap; i++) e.recordAttempt(key(i));
  },
  // Half rate-limited, half single failures (the spray's own class).
  mixed: (e, _c, cap) => {
    for (let i = 0; i < cap; i++) {
      if (i % 2 === 0) for (let k = 0; k < 5; k++) e.recordOutcome(key(i), 'failure');
      else e.recordOutcome(key(i), 'failure');
    }
  },
};

/** µs per recordOutcome('failure') of a never-seen key, over `n` keys starting at `base`. */
function sprayUs(engine: DetectionEngine, base: number, n: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) engine.recordOutcome(key(base + i), 'failure');
  return Number(process.hrtime.bigint() - t0) / 1000 / n;
}

export async function runEvictMicro(opts: { cap?: number; spray?: number } = {}): Promise<Record<string, number>> {
  const cap = opts.cap ?? 1_000_000;
  const n = opts.spray ?? 200_000;
  const out: Record<string, number> = { cap, 'loadavg.1m': round(loadavg()[0] ?? 0, 2) };
  // Baseline: a new key below the cap (same table size, half empty).
  {
    const clock = new ManualClock(1_700_000_000_000);
    const engine = new DetectionEngine({ clock, thresholds: { ...DEFAULT_THRESHOLDS, maxTrackedIps: cap + n }, blocking: true });
    FILLS['no-failures']!(engine, clock, cap);
    sprayUs(engine, 50_000_000, Math.min(n, 20_000)); // warm-up
    out['below-cap.us'] = round(sprayUs(engine, 60_000_000, n - Math.min(n, 20_000)));
  }
  for (const [name, fill] of Object.entries(FILLS)) {
    const clock = new ManualClock(1_700_000_000_000);
    const engine = new DetectionEngine({ clock, thresholds: { ...DEFAULT_THRESHOLDS, maxTrackedIps: cap }, blocking: true });
    fill(engine, clock, cap);
    const evicted0 = engine.evictions;
    const untracked0 = engine.untrackedNewKeys;
    // Worst of three slices, each a fresh range of keys: the cost must not grow as the spray goes on.
    let worst = 0;
    let sum = 0;
    for (let s = 0; s < 3; s++) {
      const us = sprayUs(engine, 100_000_000 + s * n, n);
      worst = Math.max(worst, us);
      sum += us;
    }
    out[`${name}.us`] = round(sum / 3);
    out[`${name}.worst-slice.us`] = round(worst);
    out[`${name}.ratio-to-below-cap`] = round(sum / 3 / out['below-cap.us']!, 2);
    out[`${name}.evicted`] = engine.evictions - evicted0;
    out[`${name}.untracked`] = engine.untrackedNewKeys - untracked0;
    if (name === 'rate-limited') out['rate-limited.attacker-kept'] = engine.inspect(key(cap + 7)) ? 1 : 0;
    if (name !== 'no-failures') out[`${name}.active-blocks`] = engine.activeBlockCount;
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cap = Number(process.argv[2]) || undefined;
  console.log(JSON.stringify(await runEvictMicro({ cap }), null, 2));
}
