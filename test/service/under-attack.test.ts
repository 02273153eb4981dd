// The aggressive rule while Org Under Attack is declared (spec.detection.underAttack), through Check (Gate) and the
// outcome path (Learner), fake clock only.
import { describe, expect, it } from 'vitest';
import { SEC, wire } from './wire.ts';

type Wired = ReturnType<typeof wire>;

/** A cold-start surge: three 10 s buckets of 30 failures from 30 fresh IPs each (other /24s than the checks'). */
function declare(t: Wired): void {
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i < 30; i++) t.signIn(`100.${64 + b}.${i}.9`, `victim${b * 30 + i}`, 401, `guess-${b}-${i}`);
    t.clock.advance(10 * SEC);
    t.learner.tick();
  }
  t.clock.advance(SEC);
  t.learner.tick();
}

function setUp(underAttack?: Record<string, unknown>): Wired {
  const t = wire(underAttack ? { detection: { underAttack } } : {});
  // The owner of `ceo` signs in from home; a colleague's address has succeeded on another account.
  expect(t.signIn('203.0.113.10', 'ceo', 200).verdict).toBe('allow');
  expect(t.signIn('198.51.100.20', 'colleague', 200).verdict).toBe('allow');
  t.clock.advance(SEC);
  declare(t);
  return t;
}

describe('Org Under Attack, aggressive rule (Gate + Learner)', () => {
  it('refuseUnproven: a source never seen to succeed gets 429 (org_under_attack), then persistence; familiar and proven sources pass', () => {
    const t = setUp({ refuseUnproven: true, retryAfter: '30s' });
    const stranger = t.signIn('192.0.2.77', 'ceo', 200);
    expect(stranger.httpStatus).toBe(429);
    expect(stranger.retryAfterSeconds).toBe(30);
    expect(stranger.threat?.detections.org_under_attack).toBe('MEDIUM');
    // Never seen to succeed on any account: a new account is refused too.
    expect(t.signIn('192.0.2.77', 'someone', 200).httpStatus).toBe(429);
    // It carries on through its 429: three refused attempts in 10 min are persistence (403).
    t.signIn('192.0.2.77', 'ceo', 401);
    expect(t.signIn('192.0.2.77', 'ceo', 401).httpStatus).toBe(403);
    // The owner at home, even mistyping, and a source proven on another account, go on.
    expect(t.signIn('203.0.113.10', 'ceo', 401).httpStatus).toBe(200);
    expect(t.signIn('203.0.113.10', 'ceo', 200).httpStatus).toBe(200);
    expect(t.signIn('198.51.100.20', 'ceo', 200).httpStatus).toBe(200);
  });

  it('refuseUnfamiliar: every source unfamiliar to the account is refused, proven or not; the owner passes', () => {
    const t = setUp({ refuseUnfamiliar: true });
    const proven = t.signIn('198.51.100.20', 'ceo', 200);
    expect(proven.httpStatus).toBe(429);
    expect(proven.retryAfterSeconds).toBe(60);
    expect(proven.threat?.detections.org_under_attack).toBe('MEDIUM');
    // ... but not on the account it is familiar to.
    expect(t.signIn('198.51.100.20', 'colleague', 200).httpStatus).toBe(200);
    expect(t.signIn('203.0.113.10', 'ceo', 200).httpStatus).toBe(200);
  });

  it('the defaults refuse neither (the spray-password rule and the aggressive thresholds still apply)', () => {
    const t = setUp();
    const stranger = t.signIn('192.0.2.77', 'ceo', 200);
    expect(stranger.httpStatus).toBe(200);
    expect(stranger.threat?.detections.org_under_attack).toBeUndefined();
  });

  it('nothing is refused by the rule before an attack is declared', () => {
    const t = wire({ detection: { underAttack: { refuseUnproven: true, refuseUnfamiliar: true } } });
    expect(t.signIn('192.0.2.77', 'ceo', 200).httpStatus).toBe(200);
    expect(t.signIn('192.0.2.78', 'ceo', 401).httpStatus).toBe(200);
  });
});
