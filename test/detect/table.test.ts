import { describe, expect, it } from 'vitest';
import { ipKey } from '../../src/detect/ip-key.ts';
import { DEFAULT_THRESHOLDS, type Thresholds } from '../../src/detect/thresholds.ts';
import { fail, HOUR, MIN, rng, SEC, setup } from './helpers.ts';

const capped = (maxTrackedIps: number): Thresholds => ({ ...DEFAULT_THRESHOLDS, maxTrackedIps });
const key = (i: number): number => ipKey(4, (0x0a000000 + i) >>> 0, 0, 0, 0, 64);

describe('bounded per-IP table', () => {
  it('stays under the cap and evicts the least risky entries first', () => {
    const { engine, clock } = setup({ thresholds: capped(64), blocking: true });
    for (let i = 0; i < 8; i++) fail(engine, clock, 10, 0, key(i)); // blocked
    engine.setBlocking(false);
    for (let i = 8; i < 16; i++) fail(engine, clock, 5, 0, key(i)); // hot, not blocked
    clock.advance(SEC);
    for (let i = 16; i < 2000; i++) {
      clock.advance(10);
      engine.recordOutcome(key(i), 'failure');
    }
    expect(engine.trackedCount).toBe(64);
    expect(engine.evictions).toBe(2000 - 64);
    for (let i = 0; i < 16; i++) expect(engine.inspect(key(i)), `key ${i}`).toBeDefined();
    engine.setBlocking(true);
    expect(engine.activeBlockCount).toBe(8);
    for (let i = 0; i < 8; i++) expect(engine.evaluate(key(i)).blockLevel).toBe('HIGH');
  });

  it('never evicts an actively blocked key while an unblocked one exists', () => {
    const { engine, clock } = setup({ thresholds: capped(16), blocking: true });
    for (let i = 0; i < 15; i++) fail(engine, clock, 10, 0, key(i));
    engine.recordOutcome(key(15), 'success');
    expect(engine.activeBlockCount).toBe(15);
    engine.recordOutcome(key(100), 'failure');
    expect(engine.inspect(key(15))).toBeUndefined();
    for (let i = 0; i < 15; i++) expect(engine.inspect(key(i))).toBeDefined();
    // All 16 blocked: the block ending soonest goes.
    fail(engine, clock, 10, 0, key(100));
    clock.advance(SEC);
    fail(engine, clock, 10, 0, key(101));
    expect(engine.activeBlockCount).toBe(16);
    expect(engine.trackedCount).toBe(16);
  });

  it('reclaims idle entries with sweep(budget) and keeps keys with a remembered offence', () => {
    const thresholds = { ...capped(1024), offenceMemoryMs: 7 * 24 * HOUR };
    const { engine, clock } = setup({ thresholds, blocking: true });
    for (let i = 0; i < 500; i++) engine.recordOutcome(key(i), 'failure');
    fail(engine, clock, 10, 0, key(9999));
    clock.advance(47 * HOUR);
    expect(engine.sweep(10_000)).toBe(0);
    clock.advance(2 * HOUR);
    let removed = 0;
    for (let k = 0; k < 10; k++) removed += engine.sweep(64);
    expect(removed).toBe(500);
    expect(engine.trackedCount).toBe(1); // remembered offence
    expect(engine.inspect(key(9999))!.counters.offences).toBe(1);
    clock.advance(7 * 24 * HOUR);
    engine.sweep();
    expect(engine.trackedCount).toBe(0);
    expect(engine.activeBlockCount).toBe(0);
  });

  it('uses 59 bytes per tracked IP at the cap (the bound is 64)', () => {
    const { engine } = setup({ thresholds: capped(100_000) });
    expect(engine.ipTableBytes / 100_000).toBeLessThanOrEqual(59.001);
    // The (IP, username) table is separate and bounded by its own cap.
    expect((engine.memoryBytes - engine.ipTableBytes) / DEFAULT_THRESHOLDS.maxTrackedPairs).toBeLessThanOrEqual(18.001);
  });

  it('collapses an IPv6 spray inside one /64 to one key and a spray of IPv4 to the cap', () => {
    const { engine, clock } = setup({ thresholds: capped(5000) });
    const r = rng(3);
    for (let i = 0; i < 20_000; i++) {
      engine.recordOutcome(ipKey(6, 0x20010db8, 0x12345678, (r() * 2 ** 32) >>> 0, (r() * 2 ** 32) >>> 0, 64), 'failure');
      engine.recordOutcome(key(i * 7), 'failure');
      if (i % 100 === 0) clock.advance(MIN);
    }
    expect(engine.trackedCount).toBe(5000);
    const v6 = engine.inspect(ipKey(6, 0x20010db8, 0x12345678, 1, 2, 64))!;
    expect(v6.counters.failuresLong).toBeGreaterThanOrEqual(250); // one-byte counter, saturated
    expect(v6.level).toBe('HIGH');
  });
});
