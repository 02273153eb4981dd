// Familiar sources and spray passwords through Check (Gate) and the outcome path (Learner), fake clock only.
import { describe, expect, it } from 'vitest';
import { MIN, wire } from './wire.ts';

const SPRAY = ['Winter2026!', 'Password1', 'Welcome123'];

describe('spray passwords through Gate + Learner', () => {
  it('refuses a wide spray (one attempt per IP, 3 passwords) after its first few, and never the owner at home', () => {
    const t = wire({ passwordSignals: { enabled: true } });
    // Owners of some of the sprayed accounts signed in from home before.
    for (let u = 0; u < 400; u += 40) expect(t.signIn(`203.0.113.${u / 40 + 1}`, `user${u}`, 200, `own-${u}`).verdict).toBe('allow');
    t.clock.advance(MIN);
    let refused = 0;
    const owners: number[] = [];
    for (let i = 0; i < 400; i++) {
      const ip = `${100 + (i % 50)}.${(i * 7) % 250}.${i % 200}.${1 + (i % 250)}`;
      const d = t.signIn(ip, `user${i}`, 401, SPRAY[i % 3]!);
      if (d.verdict !== 'allow') {
        refused++;
        expect(d.threat?.detections.spray_password).toBe('MEDIUM');
        expect(d.httpStatus).toBe(429);
      }
      t.clock.advance(1000);
      if (i % 40 === 0) {
        // The owner of a sprayed account, at home; even a mistyped password from there is not refused.
        owners.push(t.signIn(`203.0.113.${i / 40 + 1}`, `user${i}`, 401, SPRAY[0]!).httpStatus);
        owners.push(t.signIn(`203.0.113.${i / 40 + 1}`, `user${i}`, 200, `own-${i}`).httpStatus);
      }
    }
    // 5 distinct accounts per password make it a spray password: 15 attempts at most get through.
    expect(refused).toBeGreaterThanOrEqual(400 - 15);
    expect(owners.every((s) => s === 200)).toBe(true);
    // A password that is not sprayed goes on from a stranger.
    expect(t.signIn('198.51.100.77', 'newcomer', 401, 'my-own-secret').verdict).toBe('allow');
    expect(t.signals.spray.fingerprints).toBeLessThanOrEqual(4);
  });

  it('a source that failed with a spray password is refused (403) on its next sign-ins, whatever the password', () => {
    const t = wire({ passwordSignals: { enabled: true } });
    for (let i = 0; i < 5; i++) t.signIn(`192.0.2.${i + 1}`, `victim${i}`, 401, SPRAY[0]!);
    // The 6th source fails with it: allowed? no — it already is a spray password, so the attempt itself is 429.
    const first = t.signIn('198.18.0.9', 'victim9', 401, SPRAY[0]!);
    expect(first.httpStatus).toBe(429);
    // The 5th source did fail with it once it had become one: it is marked, and refused for another password too.
    const next = t.signIn('192.0.2.5', 'someone-else', 401, 'different');
    expect(next.httpStatus).toBe(403);
    expect(next.threat?.detections.spray_password).toBe('HIGH');
    // Refusals emit events; no password (nor its fingerprint) is in any of them.
    const text = JSON.stringify(t.events.events);
    expect(t.events.events.length).toBeGreaterThan(0);
    expect(text).not.toContain(SPRAY[0]);
    expect(text).not.toContain(String(first.passwordFingerprint));
  });

  it('with passwordSignals off, passwords are not read: the same spray is not refused by that rule', () => {
    const t = wire();
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const d = t.signIn(`${100 + (i % 50)}.1.${i}.${1 + i}`, `user${i}`, 401, SPRAY[i % 3]!);
      if (d.threat?.detections.spray_password) refused++;
      t.clock.advance(1000);
    }
    expect(refused).toBe(0);
    expect(t.signals.spray.fingerprints).toBe(0);
  });
});

describe('account under attack through Gate + Learner', () => {
  it('refuses strangers on an account failing from many unfamiliar networks; its owner at home goes on', () => {
    const t = wire();
    expect(t.signIn('203.0.113.10', 'ceo', 200).verdict).toBe('allow');
    t.clock.advance(MIN);
    const answers: number[] = [];
    for (let i = 0; i < 8; i++) {
      answers.push(t.signIn(`198.51.${i}.20`, 'ceo', 401).httpStatus);
      t.clock.advance(10_000);
    }
    // Five distinct unfamiliar /24s fail: the account is under attack from then on.
    expect(answers.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.slice(5)).toEqual([429, 429, 429]);
    // The owner, at home, mistyping then succeeding: never refused.
    expect(t.signIn('203.0.113.10', 'ceo', 401).httpStatus).toBe(200);
    const owner = t.signIn('203.0.113.10', 'ceo', 200);
    expect(owner.httpStatus).toBe(200);
    // Another account from one of those strangers is judged as usual.
    expect(t.signIn('198.51.7.20', 'intern', 401).httpStatus).toBe(200);
  });

  it('accountProtection off: no such refusal', () => {
    const t = wire({ accountProtection: { enabled: false } });
    const answers: number[] = [];
    for (let i = 0; i < 8; i++) {
      answers.push(t.signIn(`198.51.${i}.20`, 'ceo', 401).httpStatus);
      t.clock.advance(10_000);
    }
    expect(answers.every((s) => s === 200)).toBe(true);
  });
});

describe('password signals on one account through Gate + Learner', () => {
  it('a stale client (the same wrong password again from a familiar network) is one failure, not a guess each time', () => {
    const t = wire({ passwordSignals: { enabled: true } });
    expect(t.signIn('203.0.113.10', 'pat', 200, 'new-secret').verdict).toBe('allow');
    t.clock.advance(MIN);
    // A phone at home still holding the old password retries every 5 s for ten minutes.
    const answers = new Set<number>();
    for (let i = 0; i < 120; i++) {
      answers.add(t.signIn('203.0.113.10', 'pat', 401, 'old-secret').httpStatus);
      t.clock.advance(5000);
    }
    expect([...answers]).toEqual([200]);
    const c = t.engine.inspect(t.keyOf('203.0.113.10'))!.counters;
    expect(c.failuresMedium).toBeLessThanOrEqual(1);
    expect(c.maxAccountFailures).toBe(1);
    // A different wrong password from there is counted as usual; the same one from a stranger too.
    t.signIn('203.0.113.10', 'pat', 401, 'another-guess');
    expect(t.engine.inspect(t.keyOf('203.0.113.10'))!.counters.maxAccountFailures).toBe(2);
    for (let i = 0; i < 3; i++) t.signIn('198.51.100.9', 'pat', 401, 'old-secret');
    expect(t.engine.inspect(t.keyOf('198.51.100.9'))!.counters.maxAccountFailures).toBe(3);
  });

  it('many distinct wrong passwords on one account (account_brute_force): strangers get 429, the owner goes on', () => {
    const t = wire({ passwordSignals: { enabled: true }, detection: { accounts: { distinctPasswords: 8 } } });
    expect(t.signIn('203.0.113.10', 'cfo', 200, 'own').verdict).toBe('allow');
    t.clock.advance(MIN);
    // Two strangers in two networks (too few for account_under_attack), 4 guesses each, 30 s apart.
    const answers: number[] = [];
    for (let i = 0; i < 8; i++) {
      answers.push(t.signIn(i % 2 ? '198.51.100.9' : '192.0.2.44', 'cfo', 401, `guess-${i}`).httpStatus);
      t.clock.advance(30_000);
    }
    expect(answers).toEqual([200, 200, 200, 200, 200, 200, 200, 200]);
    // The 8th distinct wrong password made the account guessed: a third stranger is refused at once.
    const next = t.signIn('100.64.7.7', 'cfo', 401, 'guess-9');
    expect(next.httpStatus).toBe(429);
    expect(next.retryAfterSeconds).toBe(60);
    expect(next.threat?.detections.account_brute_force).toBe('MEDIUM');
    // The owner at home, mistyping then succeeding, is never refused; other accounts are judged as usual.
    expect(t.signIn('203.0.113.10', 'cfo', 401, 'typo').httpStatus).toBe(200);
    expect(t.signIn('203.0.113.10', 'cfo', 200, 'own').httpStatus).toBe(200);
    expect(t.signIn('100.64.7.8', 'intern', 401, 'x').httpStatus).toBe(200);
    // The same wrong password eight times is not eight guesses.
    const u = wire({ passwordSignals: { enabled: true }, detection: { accounts: { distinctPasswords: 8 } } });
    for (let i = 0; i < 8; i++) u.signIn(`198.51.${100 + (i % 2)}.9`, 'cfo', 401, 'same');
    expect(u.signIn('100.64.7.7', 'cfo', 401, 'other').httpStatus).toBe(200);
  });

  it('without passwordSignals neither rule applies (no fingerprints): every failure counts', () => {
    const t = wire();
    t.signIn('203.0.113.10', 'pat', 200);
    for (let i = 0; i < 4; i++) t.signIn('203.0.113.10', 'pat', 401, 'old-secret');
    expect(t.engine.inspect(t.keyOf('203.0.113.10'))!.counters.maxAccountFailures).toBe(4);
  });
});
