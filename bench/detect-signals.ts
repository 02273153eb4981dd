// node --import tsx bench/detect-signals.ts
// Check-path cost of the issue-13 signals, same run: what detectorView.facts() read before (evaluate + the
// (IP, account) level) against the same plus the network aggregate (networkKeyOf + networkLevel). The exact
// short window's cost is inside evaluate() in both. Keys are random over a 100k-IP / 10k-network table.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../src/clock.ts';
import { DetectionEngine } from '../src/detect/engine.ts';

export interface SignalsBench {
  readonly baseNsPerCheck: number;
  readonly withNetworkNsPerCheck: number;
  readonly addedNsPerCheck: number;
  readonly loadAvg: number[];
}

export function runDetectSignals(n = 2_000_000): SignalsBench {
  const clock = new ManualClock(1_800_000_000_000);
  const engine = new DetectionEngine({ clock, blocking: true });
  const addrs: { family: 4; w0: number; w1: number; w2: number; w3: number }[] = [];
  for (let i = 0; i < 100_000; i++) {
    const w0 = (0x2d000000 + (i % 10_000) * 256 + Math.floor(i / 10_000)) >>> 0; // 10k /24s, 10 IPs each
    const a = { family: 4 as const, w0, w1: 0, w2: 0, w3: 0 };
    addrs.push(a);
    engine.recordOutcome(engine.keyOfAddress(a), 'failure', { usernameHash: i, netKey: engine.networkKeyOf(a) });
  }
  let x = 0x9e3779b9;
  const pick = (): number => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) % addrs.length;
  };
  let sink = 0;
  const base = (): number => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const a = addrs[pick()]!;
      const k = engine.keyOfAddress(a);
      sink += engine.evaluate(k).blockedUntilMs + engine.accountLevel(k, i & 1023).length;
    }
    return ((performance.now() - t) * 1e6) / n;
  };
  const withNet = (): number => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const a = addrs[pick()]!;
      const k = engine.keyOfAddress(a);
      sink += engine.evaluate(k).blockedUntilMs + engine.accountLevel(k, i & 1023).length + engine.networkLevel(engine.networkKeyOf(a), k).length;
    }
    return ((performance.now() - t) * 1e6) / n;
  };
  // Interleaved rounds, best of each: the load on a shared machine moves both alike.
  let b = Infinity;
  let w = Infinity;
  for (let r = 0; r < 5; r++) {
    b = Math.min(b, base());
    w = Math.min(w, withNet());
  }
  if (sink === -1) console.log(sink);
  return { baseNsPerCheck: round(b), withNetworkNsPerCheck: round(w), addedNsPerCheck: round(w - b), loadAvg: loadavg() };
}

const round = (v: number): number => Math.round(v * 10) / 10;

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(runDetectSignals(), null, 2));
