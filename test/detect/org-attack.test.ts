import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { DEFAULT_ORG_ATTACK, OrgAttackDetector, type AttackTransition } from '../../src/detect/org-attack.ts';
import { HOUR, MIN, poisson, rng, SEC, T0, v4 } from './helpers.ts';

interface Traffic {
  /** failures and successes per 10 s bucket (means) */
  failures: number;
  successes: number;
  /** distinct client pool the failures come from */
  ipPool: number;
  unknownShare: number;
}
const NORMAL: Traffic = { failures: 8, successes: 72, ipPool: 3000, unknownShare: 0.1 };

/** Drives `ms` of simulated traffic through the detector; returns the transitions with their times. */
function run(
  det: OrgAttackDetector,
  clock: ManualClock,
  rand: () => number,
  ms: number,
  traffic: (t: number) => Traffic,
  onTransition: (tr: AttackTransition) => void = () => {},
): AttackTransition[] {
  const out: AttackTransition[] = [];
  const end = clock.nowMs() + ms;
  while (clock.nowMs() < end) {
    const tr = traffic(clock.nowMs());
    const f = poisson(rand, tr.failures);
    const s = poisson(rand, tr.successes);
    const n = f + s;
    for (let i = 0; i < n; i++) {
      const at = clock.nowMs() + Math.floor((i / n) * 10 * SEC);
      if (rand() < f / n) {
        const clientKey = v4(100, 64, 0, 0) + Math.floor(rand() * tr.ipPool);
        det.record('failure', { clientKey, unknownUser: rand() < tr.unknownShare }, at);
      } else det.record('success', {}, at);
    }
    clock.advance(10 * SEC);
    for (const t of det.tick()) {
      out.push(t);
      onTransition(t);
    }
  }
  return out;
}

describe('Org Under Attack', () => {
  it('declares within 60 s of a 10x surge, switches the engine to aggressive, and ends after the cool-down', () => {
    const clock = new ManualClock(T0);
    const rand = rng(11);
    const det = new OrgAttackDetector({ clock });
    const engine = new DetectionEngine({ clock });
    const wire = (t: AttackTransition): void => engine.setAggressive(t.type === 'start');
    expect(run(det, clock, rand, 1 * HOUR, () => NORMAL, wire)).toEqual([]);
    const baselineBefore = det.state.baseline.failures.mean;
    expect(baselineBefore).toBeGreaterThan(6);
    expect(baselineBefore).toBeLessThan(10);

    const surgeAt = clock.nowMs() + 3 * SEC; // not bucket-aligned
    clock.advance(3 * SEC);
    const surge: Traffic = { failures: 80, successes: 72, ipPool: 40_000, unknownShare: 0.6 };
    const during = run(det, clock, rand, 10 * MIN, () => surge, wire);
    expect(during.map((t) => t.type)).toEqual(['start']);
    expect(during[0]!.atMs - surgeAt).toBeLessThanOrEqual(60 * SEC);
    expect(during[0]!.score).toBeGreaterThan(6);
    expect(det.state.underAttack).toBe(true);
    expect(det.state.since).toBe(during[0]!.atMs);
    expect(engine.aggressive).toBe(true);

    const calmAt = clock.nowMs();
    const after = run(det, clock, rand, 20 * MIN, () => NORMAL, wire);
    expect(after.map((t) => t.type)).toEqual(['end']);
    const clearedIn = after[0]!.atMs - calmAt;
    expect(clearedIn).toBeGreaterThanOrEqual(5 * MIN);
    expect(clearedIn).toBeLessThanOrEqual(5 * MIN + 20 * SEC);
    expect(engine.aggressive).toBe(false);
    // The attack did not leak into the baseline.
    expect(det.state.baseline.failures.mean).toBeLessThan(baselineBefore * 1.2);
  });

  it('does not flap on hours of noisy but normal traffic with a daily-like swing', () => {
    const clock = new ManualClock(T0);
    const rand = rng(12);
    const det = new OrgAttackDetector({ clock });
    let anomalous = 0;
    const swing = (t: number): Traffic => {
      const k = 1 + 0.5 * Math.sin(((t - T0) / (4 * HOUR)) * 2 * Math.PI);
      // Overdispersed: the rate itself wobbles bucket to bucket.
      const w = 0.7 + 0.6 * rand();
      return { failures: 10 * k * w, successes: 120 * k * w, ipPool: 2000, unknownShare: 0.15 };
    };
    const transitions = run(det, clock, rand, 8 * HOUR, (t) => {
      if (det.state.score > 6) anomalous++;
      return swing(t);
    });
    expect(transitions).toEqual([]);
    expect(anomalous).toBeLessThan(8 * 360 * 0.005); // stray high buckets happen; three in a row do not
  });

  it('cold start: an attack one minute after a fresh start is declared within 30 s, on absolute rules', () => {
    const clock = new ManualClock(T0);
    const rand = rng(13);
    const det = new OrgAttackDetector({ clock });
    expect(run(det, clock, rand, 1 * MIN, () => NORMAL)).toEqual([]);
    const surge: Traffic = { failures: 200, successes: 70, ipPool: 5000, unknownShare: 0.7 };
    const attackAt = clock.nowMs();
    const during = run(det, clock, rand, 5 * MIN, () => surge);
    expect(det.state.warmingUp).toBe(true);
    expect(during.map((t) => t.type)).toEqual(['start']);
    expect(during[0]!.atMs - attackAt).toBeLessThanOrEqual(30 * SEC);
    // It ends once, after the cool-down, when the attack stops.
    const after = run(det, clock, rand, 10 * MIN, () => NORMAL);
    expect(after.map((t) => t.type)).toEqual(['end']);
    expect(after[0]!.atMs - (attackAt + 5 * MIN)).toBeLessThanOrEqual(DEFAULT_ORG_ATTACK.cooldownMs + 10 * SEC);
  });

  it('cold start: ordinary start-up traffic, even a bad morning (30 % failing) or one failing script, is not an attack', () => {
    for (const [seed, traffic] of [
      [21, NORMAL],
      [22, { failures: 30, successes: 70, ipPool: 3000, unknownShare: 0.1 }],
      // 30 failures a bucket, all failing, but from 3 addresses: per-IP detectors' business, not the org's.
      [23, { failures: 30, successes: 5, ipPool: 3, unknownShare: 0.5 }],
    ] as const) {
      const clock = new ManualClock(T0);
      const det = new OrgAttackDetector({ clock });
      expect(run(det, clock, rng(seed), 10 * MIN, () => traffic)).toEqual([]);
    }
  });

  it('needs the absolute failure floor: a quiet org jumping from 0.5 to 10 failures per bucket is not an attack', () => {
    const clock = new ManualClock(T0);
    const rand = rng(14);
    const det = new OrgAttackDetector({ clock });
    run(det, clock, rand, 1 * HOUR, () => ({ failures: 0.5, successes: 5, ipPool: 50, unknownShare: 0.1 }));
    let maxScore = 0;
    const bump = run(det, clock, rand, 10 * MIN, () => {
      maxScore = Math.max(maxScore, det.state.score);
      return { failures: 10, successes: 5, ipPool: 50, unknownShare: 0.1 };
    });
    expect(bump).toEqual([]);
    expect(maxScore).toBeGreaterThan(6); // anomalous, but under the floor
  });

  it('the floor holds on average over the streak: a surge right at it is declared in 30 s, one at half of it never', () => {
    // The simulator's cold-start: ~2.3 failures a bucket, then ~21 (10x), Poisson-noisy around the floor of 20.
    const base: Traffic = { failures: 2.3, successes: 58, ipPool: 8000, unknownShare: 0.05 };
    let declaredIn = 0;
    for (const seed of [31, 32, 33, 34, 35, 36, 37, 38]) {
      const clock = new ManualClock(T0);
      const det = new OrgAttackDetector({ clock });
      run(det, clock, rng(seed), 1 * MIN, () => base);
      const attackAt = clock.nowMs();
      const during = run(det, clock, rng(seed + 100), 3 * MIN, () => ({ failures: 23, successes: 58, ipPool: 600, unknownShare: 0.2 }));
      if (during[0]?.type === 'start' && during[0].atMs - attackAt <= 30 * SEC) declaredIn++;
    }
    // Every bucket above the floor used to be needed: P(3 Poisson(23) >= 20 in a row) is about 0.5.
    expect(declaredIn).toBeGreaterThanOrEqual(7);
    for (const seed of [41, 42, 43]) {
      const clock = new ManualClock(T0);
      const det = new OrgAttackDetector({ clock });
      run(det, clock, rng(seed), 1 * HOUR, () => base);
      expect(run(det, clock, rng(seed + 100), 10 * MIN, () => ({ failures: 10, successes: 58, ipPool: 600, unknownShare: 0.2 }))).toEqual([]);
    }
  });

  it('exposes its state and closes idle buckets as zeros', () => {
    const clock = new ManualClock(T0);
    const det = new OrgAttackDetector({ clock });
    det.record('failure', { clientKey: 1, unknownUser: true });
    det.record('failure', { clientKey: 2 });
    det.record('success');
    clock.advance(10 * SEC);
    expect(det.tick()).toEqual([]);
    expect(det.state.lastBucket).toMatchObject({
      startMs: T0,
      failures: 2,
      successes: 1,
      distinctFailingIps: 2,
      unknownUserRatio: 0.5,
    });
    clock.advance(HOUR);
    det.tick();
    expect(det.state.lastBucket!.failures).toBe(0);
    expect(det.state.warmingUp).toBe(false);
    expect(det.state.underAttack).toBe(false);
  });
});
