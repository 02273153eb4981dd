// New settings on running detectors (a reload of spec.detection): what applies at once, what is kept, what waits
// for the tables to be rebuilt.
import { describe, expect, it } from 'vitest';
import { AccountSources } from '../../src/detect/accounts.ts';
import { DEFAULT_ORG_ATTACK, OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { SprayPasswords } from '../../src/detect/spray-passwords.ts';
import { DEFAULT_AGGRESSIVE_THRESHOLDS, DEFAULT_THRESHOLDS } from '../../src/detect/thresholds.ts';
import { fail, IP, IP2, MIN, SEC, setup, T0 } from './helpers.ts';

const withShort = (medium: number, windowMs = 10_000) => ({ ...DEFAULT_THRESHOLDS, bruteForceShort: { windowMs, low: 2, medium, high: 10 } });

describe('DetectionEngine.reconfigure', () => {
  it('new levels apply to what was already counted; blocks, offences and the aggressive switch are kept', () => {
    const { clock, engine } = setup({ blocking: true });
    fail(engine, clock, 11, SEC, IP2); // HIGH: 11 failures in 10 min
    expect(engine.evaluate(IP2).blockLevel).toBe('HIGH');
    fail(engine, clock, 3, SEC); // 3 in 10 s: LOW by default
    expect(engine.evaluate(IP).level).toBe('LOW');
    engine.setAggressive(true);
    expect(engine.reconfigure(withShort(3), DEFAULT_AGGRESSIVE_THRESHOLDS)).toEqual([]);
    expect(engine.aggressive).toBe(true);
    engine.setAggressive(false);
    expect(engine.evaluate(IP).level).toBe('MEDIUM'); // the same 3 failures, the new medium
    expect(engine.evaluate(IP2)).toMatchObject({ blockLevel: 'HIGH' });
    expect(engine.inspect(IP2)!.counters.offences).toBe(1);
    expect(engine.activeBlockCount).toBe(1);
  });

  it('windows and caps wait for the next build, unless reshaping (at start): then blocks are carried over', () => {
    const { clock, engine } = setup({ blocking: true });
    fail(engine, clock, 11, SEC, IP2);
    const wider = { ...withShort(3, 20_000), maxTrackedIps: 5000 };
    expect(engine.reconfigure(wider, DEFAULT_AGGRESSIVE_THRESHOLDS)).toEqual(['bruteForceShort.windowMs', 'maxTrackedIps']);
    expect(engine.thresholds.bruteForceShort).toEqual({ windowMs: 10_000, low: 2, medium: 3, high: 10 });
    expect(engine.aggressiveThresholds.bruteForceShort.windowMs).toBe(10_000);
    const bytes = engine.ipTableBytes;
    expect(engine.reconfigure(wider, DEFAULT_AGGRESSIVE_THRESHOLDS, true)).toEqual([]);
    expect(engine.thresholds.bruteForceShort.windowMs).toBe(20_000);
    expect(engine.aggressiveThresholds.bruteForceShort.windowMs).toBe(20_000); // the aggressive profile follows
    expect(engine.ipTableBytes).toBeLessThan(bytes / 100);
    expect(engine.evaluate(IP2).blockLevel).toBe('HIGH');
    expect(engine.activeBlockCount).toBe(1);
    // Counted in the 20 s ring now: failures 8 s apart add up.
    fail(engine, clock, 3, 8 * SEC);
    expect(engine.evaluate(IP).blockLevel).toBe('MEDIUM');
  });

  it('invalid settings throw and change nothing', () => {
    const { engine } = setup();
    expect(() => engine.reconfigure({ ...DEFAULT_THRESHOLDS, rateLimitMs: 2 * 86_400_000 }, DEFAULT_AGGRESSIVE_THRESHOLDS)).toThrow(expect.objectContaining({ code: 'CONFIG_SCHEMA' }));
    expect(engine.thresholds).toBe(DEFAULT_THRESHOLDS);
  });
});

describe('OrgAttackDetector.reconfigure', () => {
  it('thresholds apply at once and the baseline is kept; the bucket width waits unless reshaping', () => {
    let now = T0;
    const org = new OrgAttackDetector({ clock: { nowMs: () => now } });
    for (let i = 0; i < 120; i++) {
      for (let k = 0; k < 5; k++) org.record(k === 0 ? 'failure' : 'success', {}, now);
      now += 10 * SEC;
      org.tick(now);
    }
    const learnt = org.state.baseline.failures.mean;
    expect(learnt).toBeCloseTo(1, 5);
    expect(org.reconfigure({ minFailures: 5, bucketMs: 5000 })).toEqual(['bucketMs']);
    expect(org.options).toMatchObject({ minFailures: 5, bucketMs: 10_000, scoreThreshold: DEFAULT_ORG_ATTACK.scoreThreshold });
    expect(org.state.baseline.failures.mean).toBe(learnt);
    expect(org.state.warmingUp).toBe(false);
    expect(org.reconfigure({ minFailures: 5, bucketMs: 5000 }, true)).toEqual([]);
    expect(org.options.bucketMs).toBe(5000);
    expect(org.state.warmingUp).toBe(true); // afresh at the new width
    expect(() => org.reconfigure({ sketchBits: 1000 })).toThrow(RangeError);
  });
});

describe('account and spray options', () => {
  it('windows and rules apply at once; the bounds only while the tables are empty', () => {
    const accounts = new AccountSources();
    expect(accounts.reconfigure({ ...accounts.options, attackSources: 3, maxAccounts: 100 })).toEqual([]); // empty: all of it
    expect(accounts.options).toMatchObject({ attackSources: 3, maxAccounts: 100 });
    for (const net of [1, 2, 3]) accounts.recordFailure(42, net, T0);
    expect(accounts.underAttack(42, T0)).toBe(true); // at the new 3 sources
    expect(accounts.reconfigure({ ...accounts.options, attackSources: 4, maxAccounts: 10 })).toEqual(['maxAccounts']);
    expect(accounts.options).toMatchObject({ attackSources: 4, maxAccounts: 100 });
    const spray = new SprayPasswords();
    for (let a = 1; a <= 3; a++) spray.recordFailure(7, a, IP, T0);
    expect(spray.reconfigure({ ...spray.options, accounts: 3, maxSources: 16 })).toEqual(['maxSources']);
    expect(spray.recordFailure(7, 3, IP, T0 + MIN)).toBe(true); // the three accounts counted before make it a spray password now
  });
});
