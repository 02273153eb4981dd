// A narrow botnet spray (many IPs in a few /24s, a handful of attempts each) through Check and the access log:
// its networks are seen as one and refused, while a user of the same network who signed in before goes on.
import { describe, expect, it } from 'vitest';
import { MIN, wire } from './wire.ts';

describe('network aggregates through Gate + Learner', () => {
  it('refuses most of a narrow spray from a few /24s; a known user of the same /24 still signs in', () => {
    const t = wire();
    // The owner of an account signs in from home, in what becomes an attacked network.
    expect(t.signIn('198.18.1.250', 'owner', 200).verdict).toBe('allow');
    t.clock.advance(MIN);
    let sent = 0;
    let refused = 0;
    const owner: number[] = [];
    // 4 networks x 60 bots, 4 attempts each over 20 min, on many accounts: ~1 attempt/s in all.
    const bots = Array.from({ length: 240 }, (_, i) => `198.18.${1 + (i % 4)}.${1 + Math.floor(i / 4)}`);
    for (let round = 0; round < 4; round++) {
      for (const [i, ip] of bots.entries()) {
        const d = t.signIn(ip, `user${(round * 240 + i) % 700}`, 401);
        sent++;
        if (d.verdict !== 'allow') refused++;
        t.clock.advance(1200);
        if (i % 60 === 0) {
          owner.push(t.signIn('198.18.1.250', 'owner', 200).httpStatus);
          t.learner.tick();
        }
      }
    }
    expect(refused / sent).toBeGreaterThanOrEqual(0.8);
    expect(owner.every((s) => s === 200)).toBe(true);
    // Another network is untouched.
    expect(t.signIn('198.51.100.1', 'someone', 401).verdict).toBe('allow');
  });
});
