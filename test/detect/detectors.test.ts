import { describe, expect, it } from 'vitest';
import { ipKey } from '../../src/detect/ip-key.ts';
import { DEFAULT_THRESHOLDS } from '../../src/detect/thresholds.ts';
import { fail, IP, IP2, isolated, MIN, SEC, HOUR, setup, T0 } from './helpers.ts';

const levelOf = (e: ReturnType<typeof setup>['engine'], key = IP) => e.evaluate(key);

describe('brute force, short window (CrowdSec http-bf: 5 failures in 10 s)', () => {
  const thresholds = isolated({ bruteForceShort: DEFAULT_THRESHOLDS.bruteForceShort });

  it('crosses LOW, MEDIUM and HIGH at 3, 5 and 10 failures', () => {
    const { engine, clock } = setup({ thresholds });
    const seen: string[] = [];
    for (let i = 1; i <= 10; i++) {
      fail(engine, clock, 1, 100);
      seen.push(levelOf(engine).level);
    }
    expect(seen).toEqual(['NONE', 'NONE', 'LOW', 'LOW', 'MEDIUM', 'MEDIUM', 'MEDIUM', 'MEDIUM', 'MEDIUM', 'HIGH']);
    expect(levelOf(engine).detections).toEqual({ brute_force: 'HIGH' });
  });

  it('counts exactly: 5 failures in 7 s straddling an old bucket edge are 5 in 10 s', () => {
    const { engine, clock } = setup({ thresholds });
    // T0 is aligned to 10 s: the old two-bucket window put 4 of these in [0, 10 s) and 1 in [10 s, 20 s).
    clock.advance(6 * SEC);
    for (const gap of [0, 1500, 1500, 1000, 3000]) fail(engine, clock, 1, gap); // 6.0 .. 13.0 s
    expect(engine.inspect(IP)!.counters.failuresShort).toBe(5);
    expect(levelOf(engine).level).toBe('MEDIUM');
    // Wherever the burst starts within 10 s, it is seen whole.
    for (let start = 0; start < 10_000; start += 700) {
      const e = setup({ thresholds });
      e.clock.advance(start);
      fail(e.engine, e.clock, 5, 1750);
      expect(e.engine.inspect(IP)!.counters.failuresShort, `start ${start} ms`).toBe(5);
    }
  });

  it('forgets each failure between 10 and 11 s after it, one sub-bucket at a time', () => {
    const { engine, clock } = setup({ thresholds });
    clock.advance(9 * SEC);
    fail(engine, clock, 4); // at 9 s
    clock.advance(2 * SEC);
    fail(engine, clock, 1); // at 11 s
    expect(engine.inspect(IP)!.counters.failuresShort).toBe(5);
    clock.set(T0 + 18_999);
    expect(engine.inspect(IP)!.counters.failuresShort).toBe(5); // 9 s .. 18.999 s: still inside
    clock.set(T0 + 20_000); // the 9 s sub-bucket is now 11 s old
    expect(engine.inspect(IP)!.counters.failuresShort).toBe(1);
    clock.set(T0 + 22_000);
    expect(engine.inspect(IP)!.counters.failuresShort).toBe(0);
    // A write after the gap rotates the ring: nothing old comes back.
    fail(engine, clock, 1);
    expect(engine.inspect(IP)!.counters.failuresShort).toBe(1);
    clock.advance(HOUR);
    fail(engine, clock, 1);
    expect(engine.inspect(IP)!.counters.failuresShort).toBe(1);
  });

  it('a 60 s short window is counted in 6 s sub-buckets: never less than the last 60 s', () => {
    const t = isolated({ bruteForceShort: { windowMs: 60_000, low: 0, medium: 4, high: 0 } });
    const { engine, clock } = setup({ thresholds: t });
    clock.advance(5 * SEC);
    fail(engine, clock, 4, 19_000); // 24, 43, 62, 81 s: 4 within 57 s
    expect(levelOf(engine).level).toBe('MEDIUM');
    clock.set(T0 + 24_000 + 72_000); // the 24 s failure is 72 s old (> 60 + 2 x 6): gone
    expect(engine.inspect(IP)!.counters.failuresShort).toBe(3);
  });
});

describe('brute force, 10 min (AWS WAF ATP: >10 per 10 min) and 1 day (Auth0: 100 per day)', () => {
  it('10 failures in 9 minutes are MEDIUM, the 11th is HIGH', () => {
    const { engine, clock } = setup({ thresholds: isolated({ bruteForce: DEFAULT_THRESHOLDS.bruteForce }) });
    fail(engine, clock, 10, 50 * SEC);
    expect(levelOf(engine).level).toBe('MEDIUM');
    fail(engine, clock, 1, 1 * SEC);
    expect(levelOf(engine).detections).toEqual({ brute_force: 'HIGH' });
    clock.advance(30 * MIN);
    expect(levelOf(engine).level).toBe('NONE');
  });

  it('100 failures spread over a day are HIGH, 99 are MEDIUM', () => {
    const { engine, clock } = setup({ thresholds: isolated({ bruteForceLong: DEFAULT_THRESHOLDS.bruteForceLong }) });
    fail(engine, clock, 99, 12 * MIN);
    expect(levelOf(engine).level).toBe('MEDIUM');
    fail(engine, clock, 1, 1 * MIN);
    expect(levelOf(engine).level).toBe('HIGH');
  });

  it('aggregates IPv6 by /64 and keeps IPv4 keys apart', () => {
    const { engine, clock } = setup({ thresholds: isolated({ bruteForce: DEFAULT_THRESHOLDS.bruteForce }) });
    for (let i = 0; i < 11; i++) {
      clock.advance(SEC);
      engine.recordOutcome(ipKey(6, 0x20010db8, 0xaaaa0001, i * 7919, i, 64), 'failure');
    }
    expect(engine.trackedCount).toBe(1);
    expect(engine.evaluate(engine.keyOf(6, 0x20010db8, 0xaaaa0001, 0xdead, 0xbeef)).level).toBe('HIGH');
    expect(engine.evaluate(ipKey(6, 0x20010db8, 0xaaaa0002, 0, 1, 64)).level).toBe('NONE');
    fail(engine, clock, 3, SEC, IP2);
    expect(levelOf(engine, IP2).level).toBe('NONE');
    expect(engine.trackedCount).toBe(2);
  });
});

describe('password spraying and unknown users', () => {
  it('counts distinct failing usernames, not repeated ones', () => {
    const { engine, clock } = setup({ thresholds: isolated({ passwordSpray: DEFAULT_THRESHOLDS.passwordSpray }) });
    for (let i = 0; i < 20; i++) fail(engine, clock, 1, SEC, IP, { usernameHash: 0x1234 });
    expect(engine.inspect(IP)!.counters.distinctFailedUsernames).toBeCloseTo(1, 0);
    expect(levelOf(engine).level).toBe('NONE');
    const levels: string[] = [];
    for (let u = 1; u <= 12; u++) {
      fail(engine, clock, 1, SEC, IP2, { usernameHash: u * 0x9e3779b1 });
      levels.push(levelOf(engine, IP2).level);
    }
    expect(levels.slice(0, 3)).toEqual(['NONE', 'NONE', 'NONE']);
    expect(levels.indexOf('LOW')).toBeGreaterThanOrEqual(2);
    expect(levels[11]).toBe('HIGH');
    expect(levelOf(engine, IP2).detections).toEqual({ password_spray: 'HIGH' });
    // Estimate from a 32-bit linear-counting sketch: close, not exact.
    expect(engine.inspect(IP2)!.counters.distinctFailedUsernames).toBeGreaterThan(9);
    expect(engine.inspect(IP2)!.counters.distinctFailedUsernames).toBeLessThan(16);
    clock.advance(25 * MIN);
    expect(levelOf(engine, IP2).level).toBe('NONE');
  });

  it('counts failures for unknown users only', () => {
    const { engine, clock } = setup({ thresholds: isolated({ unknownUserSpray: DEFAULT_THRESHOLDS.unknownUserSpray }) });
    fail(engine, clock, 20, SEC);
    expect(levelOf(engine).level).toBe('NONE');
    const seen: string[] = [];
    for (let i = 0; i < 10; i++) {
      fail(engine, clock, 1, SEC, IP, { unknownUser: true, usernameHash: i });
      seen.push(levelOf(engine).level);
    }
    expect([seen[1], seen[2], seen[4], seen[8], seen[9]]).toEqual(['NONE', 'LOW', 'MEDIUM', 'MEDIUM', 'HIGH']);
    expect(levelOf(engine).detections).toEqual({ unknown_user_spray: 'HIGH' });
  });
});

describe('credential stuffing (attempt velocity across usernames)', () => {
  const thresholds = isolated({ credentialStuffing: DEFAULT_THRESHOLDS.credentialStuffing });

  it('flags a fast stream of distinct usernames', () => {
    const { engine, clock } = setup({ thresholds });
    for (let i = 0; i < 40; i++) {
      clock.advance(1 * SEC);
      engine.recordAttempt(IP, { usernameHash: i * 0x85ebca6b });
      if (i === 9) expect(levelOf(engine).level).toBe('LOW');
      if (i === 19) expect(levelOf(engine).level).toBe('MEDIUM');
    }
    expect(levelOf(engine).detections).toEqual({ credential_stuffing: 'HIGH' });
    clock.advance(2 * MIN);
    expect(levelOf(engine).level).toBe('NONE');
  });

  it('ignores velocity on one username and mostly-successful traffic', () => {
    const { engine, clock } = setup({ thresholds });
    for (let i = 0; i < 45; i++) {
      clock.advance(SEC);
      engine.recordAttempt(IP, { usernameHash: 42 });
      engine.recordAttempt(IP2, { usernameHash: i * 0x85ebca6b });
      engine.recordOutcome(IP2, 'success', { usernameHash: i * 0x85ebca6b });
    }
    expect(levelOf(engine).level).toBe('NONE');
    expect(levelOf(engine, IP2).level).toBe('NONE'); // success tolerance
  });
});

describe('account targeted (Auth0: 10 failures per IP + user)', () => {
  const thresholds = isolated({ accountTargeted: DEFAULT_THRESHOLDS.accountTargeted });

  it('counts failures per (IP, username) and resets the pair on success', () => {
    const { engine, clock } = setup({ thresholds });
    fail(engine, clock, 8, 30 * SEC, IP, { usernameHash: 7 });
    fail(engine, clock, 4, 30 * SEC, IP, { usernameHash: 8 });
    fail(engine, clock, 4, 30 * SEC, IP2, { usernameHash: 7 });
    expect(engine.accountFailures(IP, 7)).toBe(8);
    expect(engine.accountFailures(IP, 8)).toBe(4);
    expect(engine.accountFailures(IP2, 7)).toBe(4);
    // Per pair: MEDIUM for account 7 from IP; IP-wide the signal is informational only (LOW), so one
    // targeted account never blocks everyone behind the IP.
    expect(engine.accountLevel(IP, 7)).toBe('MEDIUM');
    expect(engine.accountLevel(IP, 8)).toBe('NONE');
    expect(levelOf(engine).detections).toEqual({ account_targeted: 'LOW' });
    expect(levelOf(engine, IP2).level).toBe('NONE');
    fail(engine, clock, 1, SEC, IP, { usernameHash: 7 });
    expect(engine.accountLevel(IP, 7)).toBe('HIGH');
    expect(levelOf(engine).detections).toEqual({ account_targeted: 'LOW' });
    engine.recordOutcome(IP, 'success', { usernameHash: 7 });
    expect(engine.accountLevel(IP, 7)).toBe('NONE');
    expect(engine.accountFailures(IP, 7)).toBe(0);
    expect(engine.inspect(IP)!.counters.maxAccountFailures).toBe(9); // the IP's record stays for the window
  });

  it('forgets a pair after a day without failures', () => {
    const { engine, clock } = setup({ thresholds });
    fail(engine, clock, 6, MIN, IP, { usernameHash: 7 });
    clock.advance(25 * HOUR);
    expect(engine.accountFailures(IP, 7)).toBe(0);
    fail(engine, clock, 1, MIN, IP, { usernameHash: 7 });
    expect(engine.accountFailures(IP, 7)).toBe(1);
  });
});

describe('NAT tolerance and IPs never seen to succeed', () => {
  it('drops volume detectors two levels for an IP whose sign-ins mostly succeed', () => {
    const { engine, clock } = setup();
    for (let i = 0; i < 60; i++) {
      clock.advance(8 * SEC);
      engine.recordOutcome(IP, 'success', { usernameHash: i });
      if (i % 5 === 0) engine.recordOutcome(IP, 'failure', { usernameHash: 1000 + i });
    }
    // 12 failures in 10 min from 12 users would be HIGH twice over without the successes.
    expect(engine.inspect(IP)!.levels.brute_force).toBe('LOW');
    expect(levelOf(engine).level).toBe('LOW');
    fail(engine, clock, 12, 8 * SEC, IP2);
    expect(levelOf(engine, IP2).level).toBe('HIGH');
  });

  it('holds unproven IPs to scaled thresholds in the aggressive profile', () => {
    const { engine, clock } = setup();
    engine.setAggressive(true);
    engine.recordOutcome(IP, 'success');
    fail(engine, clock, 6, 30 * SEC, IP);
    fail(engine, clock, 5, 30 * SEC, IP2);
    // aggressive 10-min MEDIUM = 6, HIGH = 7; unproven: ceil(7 x 0.6) = 5.
    expect(engine.inspect(IP)!.levels.brute_force).toBe('MEDIUM');
    expect(engine.inspect(IP2)!.levels.brute_force).toBe('HIGH');
    expect(engine.inspect(IP)!.proven).toBe(true);
  });
});
