// Persistence through the real Check path (Gate) and outcome path (Learner), on the memory store, with a fake
// clock: attempts sent while refused escalate; they never count as failed sign-ins.
import { describe, expect, it } from 'vitest';
import { usernameHash } from '../../src/decide/username.ts';
import { HOUR, KEY, MIN, SEC, wire } from './wire.ts';

/** Most attempts let through (guesses) in any 60-minute window. */
function maxPerHour(times: number[]): number {
  let best = 0;
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[i]! - times[j]! >= HOUR) j++;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

describe('persistence escalates (Gate + Learner, fake clock)', () => {
  for (const gapMs of [2 * SEC, 10 * SEC, MIN, 3 * MIN]) {
    it(`an attacker guessing one account every ${gapMs / SEC} s through its rate limit gets <= 10 guesses per hour`, () => {
      const t = wire();
      const guesses: number[] = [];
      const start = t.clock.nowMs();
      while (t.clock.nowMs() - start < 150 * MIN) {
        const d = t.signIn('198.18.7.7', 'victim', 401);
        if (d.verdict === 'allow') guesses.push(t.clock.nowMs());
        t.clock.advance(gapMs);
        if (t.clock.nowMs() % SEC < gapMs) t.learner.tick();
      }
      expect(maxPerHour(guesses), `guesses ${guesses.length} in 2.5 h`).toBeLessThanOrEqual(10);
      expect(t.blocks.some((b) => b.startsWith('HIGH'))).toBe(true);
    });
  }

  it('an attacker spraying many accounts through its rate limit is blocked HIGH for an hour, then longer', () => {
    const t = wire();
    const seen: string[] = [];
    for (let i = 0; i < 40; i++) {
      const d = t.signIn('198.18.9.9', `user${i}`, 401);
      seen.push(d.httpStatus === 200 ? 'ok' : String(d.httpStatus));
      t.clock.advance(SEC);
    }
    // 5 failures in 10 s: 429; three more sign-ins into the 429: 403 for an hour.
    expect(seen.slice(0, 9)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', '429', '429', '429', '403']);
    expect(t.blocks).toEqual(['MEDIUM:1m', 'HIGH:60m']);
    const v = t.engine.inspect(t.keyOf('198.18.9.9'))!;
    expect(v.levels.persistence).toBe('HIGH');
    expect(v.counters.failuresShort + v.counters.failuresMedium).toBeGreaterThan(0);
    // Back after the hour: the next rate limit it earns is a HIGH block, twice as long.
    t.clock.advance(HOUR);
    for (let i = 0; i < 10; i++) {
      t.signIn('198.18.9.9', `user${i}`, 401);
      t.clock.advance(SEC);
    }
    expect(t.blocks.at(-1)).toBe('HIGH:120m');
  });

  it('a refused attempt never counts as a failed sign-in for any account', () => {
    const t = wire();
    const key = t.keyOf('198.18.3.3');
    for (let i = 0; i < 5; i++) t.signIn('198.18.3.3', 'alice', 401);
    expect(t.signIn('198.18.3.3', 'alice', 401).httpStatus).toBe(429);
    const before = t.engine.inspect(key)!.counters;
    const alice = usernameHash(KEY, 'alice');
    const bob = usernameHash(KEY, 'bob');
    const aliceBefore = t.engine.accountFailures(key, alice);
    for (const u of ['alice', 'bob', 'alice']) expect(t.signIn('198.18.3.3', u, 401).verdict).not.toBe('allow');
    const after = t.engine.inspect(key)!.counters;
    expect(after.failuresShort).toBe(before.failuresShort);
    expect(after.failuresMedium).toBe(before.failuresMedium);
    expect(after.failuresLong).toBe(before.failuresLong);
    expect(after.distinctFailedUsernames).toBe(before.distinctFailedUsernames);
    expect(t.engine.accountFailures(key, alice)).toBe(aliceBefore);
    expect(t.engine.accountFailures(key, bob)).toBe(0);
    expect(after.refusedAttempts).toBe(4);
  });

  it('an address seen to succeed (office NAT) whose users retry during a 429 stays at 429', () => {
    const t = wire();
    const nat = '198.18.5.5';
    t.signIn(nat, 'boss', 200);
    t.clock.advance(MIN);
    for (let i = 0; i < 5; i++) t.signIn(nat, 'newbie', 401);
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      seen.push(t.signIn(nat, `staff${i}`, 200).httpStatus);
      t.clock.advance(5 * SEC);
    }
    expect(seen).toEqual([429, 429, 429, 429, 429, 429]);
    expect(t.blocks.every((b) => b.startsWith('MEDIUM'))).toBe(true);
  });
});
