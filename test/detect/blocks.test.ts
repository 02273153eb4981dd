import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS } from '../../src/detect/thresholds.ts';
import { fail, HOUR, IP, IP2, isolated, MIN, SEC, setup } from './helpers.ts';

const thresholds = isolated({
  bruteForceShort: DEFAULT_THRESHOLDS.bruteForceShort,
  repeatOffender: DEFAULT_THRESHOLDS.repeatOffender,
});

describe('blocks', () => {
  it('blocks HIGH for blockMs, reports newlyBlocked once, then expires', () => {
    const { engine, clock } = setup({ thresholds, blocking: true });
    const newly: boolean[] = [];
    for (let i = 0; i < 10; i++) newly.push(engine.recordOutcome(IP, 'failure').newlyBlocked);
    // 5th failure: MEDIUM rate limit; 10th: raised to HIGH.
    expect(newly.map((b, i) => (b ? i + 1 : 0)).filter(Boolean)).toEqual([5, 10]);
    const v = engine.evaluate(IP);
    expect(v.blockLevel).toBe('HIGH');
    expect(v.blockedUntilMs).toBe(clock.nowMs() + 15 * MIN);
    expect(engine.activeBlockCount).toBe(1);
    clock.advance(15 * MIN - 1);
    expect(engine.evaluate(IP).blockLevel).toBe('HIGH');
    clock.advance(1);
    expect(engine.evaluate(IP)).toMatchObject({ blockedUntilMs: 0, blockLevel: 'NONE' });
    expect(engine.evaluate(IP).detections).toEqual({ repeat_offender: 'LOW' });
    engine.sweep();
    expect(engine.activeBlockCount).toBe(0);
  });

  it('learnOutcome gives the verdict only when a block starts, the one recordOutcome gives', () => {
    const a = setup({ thresholds, blocking: true });
    const b = setup({ thresholds, blocking: true });
    for (let i = 0; i < 12; i++) {
      const outcome = i === 7 ? 'unknown' : 'failure';
      const recorded = a.engine.recordOutcome(IP, outcome);
      const learned = b.engine.learnOutcome(IP, outcome);
      expect(learned, `outcome ${i + 1}`).toEqual(recorded.newlyBlocked ? recorded.verdict : undefined);
      expect(b.engine.evaluate(IP)).toEqual(a.engine.evaluate(IP));
      a.clock.advance(SEC);
      b.clock.advance(SEC);
    }
    expect(b.engine.evaluate(IP).blockLevel).toBe('HIGH');
  });

  it('rate-limits MEDIUM for rateLimitMs without counting an offence', () => {
    const { engine, clock } = setup({ thresholds, blocking: true });
    fail(engine, clock, 4);
    const r = engine.recordOutcome(IP, 'failure');
    expect(r.newlyBlocked).toBe(true);
    expect(r.verdict).toMatchObject({ level: 'MEDIUM', blockLevel: 'MEDIUM', blockedUntilMs: clock.nowMs() + 60 * SEC });
    clock.advance(61 * SEC);
    expect(engine.inspect(IP)!.counters.offences).toBe(0);
    expect(engine.evaluate(IP).blockLevel).toBe('NONE');
  });

  it('escalates x2 for repeat offenders up to the max, and forgets after the offence memory', () => {
    const { engine, clock } = setup({ thresholds, blocking: true });
    const durations: number[] = [];
    for (let round = 0; round < 9; round++) {
      clock.advance(2 * MIN);
      fail(engine, clock, 10);
      const v = engine.evaluate(IP);
      expect(v.blockLevel).toBe('HIGH');
      durations.push((v.blockedUntilMs - clock.nowMs()) / MIN);
      clock.set(v.blockedUntilMs);
    }
    expect(durations).toEqual([15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
    expect(engine.inspect(IP)!.counters.offences).toBe(9);
    clock.advance(24 * HOUR);
    expect(engine.inspect(IP)!.counters.offences).toBe(0);
    fail(engine, clock, 10);
    expect(engine.evaluate(IP).blockedUntilMs - clock.nowMs()).toBe(15 * MIN);
  });

  it('never blocks with setBlocking(false), and blocks on the next record once enabled', () => {
    const { engine, clock } = setup({ thresholds });
    expect(engine.blockingEnabled).toBe(false);
    for (let i = 0; i < 50; i++) expect(engine.recordOutcome(IP, 'failure').newlyBlocked).toBe(false);
    expect(engine.evaluate(IP)).toMatchObject({ level: 'HIGH', blockedUntilMs: 0, blockLevel: 'NONE' });
    expect(engine.activeBlockCount).toBe(0);
    engine.setBlocking(true);
    clock.advance(SEC);
    const r = engine.recordAttempt(IP, {});
    expect(r.newlyBlocked).toBe(true);
    expect(engine.evaluate(IP).blockLevel).toBe('HIGH');
    engine.setBlocking(false);
    expect(engine.evaluate(IP).blockedUntilMs).toBe(0);
  });

  it('aggressive mode lowers thresholds and blocks on the next attempt', () => {
    const { engine, clock } = setup({ blocking: true });
    fail(engine, clock, 6, 60 * SEC, IP); // normal: 10-min LOW (5..7)
    expect(engine.evaluate(IP)).toMatchObject({ level: 'LOW', blockLevel: 'NONE' });
    engine.setAggressive(true);
    expect(engine.aggressive).toBe(true);
    // aggressive 10-min HIGH is 7, and ceil(7 x 0.6) = 5 for an IP never seen to succeed.
    expect(engine.evaluate(IP).level).toBe('HIGH');
    clock.advance(SEC);
    expect(engine.recordAttempt(IP).newlyBlocked).toBe(true);
    expect(engine.evaluate(IP).blockedUntilMs - clock.nowMs()).toBe(30 * MIN);
    engine.setAggressive(false);
    expect(engine.evaluate(IP).blockLevel).toBe('HIGH'); // existing blocks are kept
    expect(engine.evaluate(IP2).level).toBe('NONE');
  });
});
