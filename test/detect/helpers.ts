import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine, type EngineOptions } from '../../src/detect/engine.ts';
import { ipKey } from '../../src/detect/ip-key.ts';
import { DEFAULT_THRESHOLDS, type LevelCounts, type Thresholds } from '../../src/detect/thresholds.ts';

/** A day-aligned start, so every window's buckets start at T0 (2023-11-14T00:00:00Z). */
export const T0 = 1_699_920_000_000;
export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;

const OFF: LevelCounts = { low: 0, medium: 0, high: 0 };

/** Defaults with every detector off except those overridden: one detector under test at a time. */
export function isolated(over: Partial<Thresholds>, base: Thresholds = DEFAULT_THRESHOLDS): Thresholds {
  return {
    ...base,
    bruteForceShort: { ...base.bruteForceShort, ...OFF },
    bruteForce: { ...base.bruteForce, ...OFF },
    bruteForceLong: { ...base.bruteForceLong, ...OFF },
    passwordSpray: { ...base.passwordSpray, ...OFF },
    unknownUserSpray: { ...base.unknownUserSpray, ...OFF },
    credentialStuffing: { ...base.credentialStuffing, ...OFF },
    accountTargeted: { ...base.accountTargeted, ...OFF },
    repeatOffender: OFF,
    persistence: { ...base.persistence, ...OFF },
    network: { ...base.network, ...OFF },
    bruteForceLongUnproven: OFF,
    ...over,
  };
}

export function setup(opts: Partial<EngineOptions> = {}): { clock: ManualClock; engine: DetectionEngine } {
  const clock = new ManualClock(T0);
  const engine = new DetectionEngine({ clock, ...opts });
  return { clock, engine };
}

export const v4 = (a: number, b: number, c: number, d: number): number =>
  ipKey(4, ((a << 24) | (b << 16) | (c << 8) | d) >>> 0, 0, 0, 0, 64);

export const IP = v4(203, 0, 113, 7);
export const IP2 = v4(198, 51, 100, 9);

/** Records n failures, advancing the clock by stepMs before each. */
export function fail(
  engine: DetectionEngine,
  clock: ManualClock,
  n: number,
  stepMs = 0,
  key = IP,
  facts: { usernameHash?: number; unknownUser?: boolean } = {},
): void {
  for (let i = 0; i < n; i++) {
    clock.advance(stepMs);
    engine.recordOutcome(key, 'failure', facts);
  }
}

/** Seeded PRNG (mulberry32) for reproducible noise. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Poisson sample (Knuth for small means, normal approximation above 50). */
export function poisson(rand: () => number, mean: number): number {
  if (mean > 50) {
    const u = Math.max(rand(), 1e-12);
    const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * g));
  }
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= rand();
  } while (p > l);
  return k - 1;
}
