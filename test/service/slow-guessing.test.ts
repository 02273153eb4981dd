// A slow guesser below every short window (bruteForceLongUnproven), through Gate + Learner, fake clock only.
import { describe, expect, it } from 'vitest';
import { HOUR, MIN, wire } from './wire.ts';

describe('slow guessing from an IP never seen to succeed (Gate + Learner)', () => {
  it('one guess every 3 min over many accounts: refused by the 10th, at most 10 guesses in any hour over 6 h', () => {
    const t = wire();
    const allowedAt: number[] = [];
    let firstRefused = 0;
    for (let i = 0; i < 120; i++) {
      const d = t.signIn('198.51.100.66', `user${i % 40}`, 401);
      if (d.verdict === 'allow') allowedAt.push(t.clock.nowMs());
      else if (firstRefused === 0) {
        firstRefused = i + 1;
        expect([429, 403]).toContain(d.httpStatus);
        expect(d.threat?.detections.brute_force).toMatch(/MEDIUM|HIGH/);
      }
      t.clock.advance(3 * MIN);
    }
    expect(firstRefused).toBeGreaterThan(0);
    expect(firstRefused).toBeLessThanOrEqual(10);
    let worst = 0;
    for (let i = 0, j = 0; i < allowedAt.length; i++) {
      while (allowedAt[i]! - allowedAt[j]! >= HOUR) j++;
      worst = Math.max(worst, i - j + 1);
    }
    expect(worst).toBeLessThanOrEqual(10);
  });

  it('an address seen to succeed keeps the day window\'s own counts (a shared NAT with slow typos)', () => {
    const t = wire();
    expect(t.signIn('203.0.113.40', 'someone', 200).verdict).toBe('allow');
    const answers = new Set<number>();
    for (let i = 0; i < 20; i++) {
      answers.add(t.signIn('203.0.113.40', `user${i}`, 401).httpStatus);
      t.clock.advance(10 * MIN);
    }
    expect([...answers]).toEqual([200]);
  });
});
