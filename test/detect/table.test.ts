import { describe, expect, it } from 'vitest';
import { ipKey } from '../../src/detect/ip-key.ts';
import { EVICT_CLASSES, EvictionQueues } from '../../src/detect/ip-table.ts';
import { KeyIndex } from '../../src/detect/key-index.ts';
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
    fail(engine, clock, 10, 0, key(100));
    clock.advance(SEC);
    // All 16 blocked: a new key is not tracked rather than lift a block...
    fail(engine, clock, 10, 0, key(101));
    expect(engine.inspect(key(101))).toBeUndefined();
    expect(engine.untrackedNewKeys).toBe(10);
    expect(engine.activeBlockCount).toBe(16);
    // ...but a block learnt from the shared store always gets a place (the least recently used block goes).
    engine.loadBlock(key(102), clock.nowMs() + 60_000, 'HIGH');
    expect(engine.evaluate(key(102)).blockLevel).toBe('HIGH');
    expect(engine.inspect(key(0))).toBeUndefined();
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

  // 59 of counters, ring and index + 9 of eviction queues: over the 64 B the detection issue set (said so in
  // docs/detection.md); the test pins the figure so growth is a decision, not an accident.
  it('uses 68 bytes per tracked IP at the cap (59 of counters, ring and index, 9 of eviction queues)', () => {
    const { engine } = setup({ thresholds: capped(100_000) });
    expect(engine.ipTableBytes / 100_000).toBeLessThanOrEqual(68.001);
    // The (IP, username) and network tables are separate and bounded by their own caps: 18 and 29 bytes an entry.
    const t = DEFAULT_THRESHOLDS;
    expect(engine.memoryBytes - engine.ipTableBytes).toBeLessThanOrEqual(18.001 * t.maxTrackedPairs + 29.001 * t.maxTrackedNetworks);
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

  describe('eviction at the cap (issue 11 item 4)', () => {
    const CAP = 1024;
    const attacker = ipKey(4, 0xc6120707, 0, 0, 0, 64); // 198.18.7.7
    const spray = (engine: ReturnType<typeof setup>['engine'], clock: ReturnType<typeof setup>['clock'], n: number, stepMs = 1) => {
      for (let i = 0; i < n; i++) {
        clock.advance(stepMs);
        engine.recordOutcome(key(100_000 + i), 'failure');
      }
    };

    it('a real attacker survives a spray of new keys at a cap full of rate-limited keys', () => {
      const { engine, clock } = setup({ thresholds: capped(CAP), blocking: true });
      for (let i = 0; i < CAP - 1; i++) fail(engine, clock, 5, 0, key(i)); // MEDIUM: rate-limited for 60 s
      expect(engine.activeBlockCount).toBe(CAP - 1);
      fail(engine, clock, 3, 100, attacker); // failing, not (yet) limited
      expect(engine.trackedCount).toBe(CAP);
      spray(engine, clock, 10_000, 0);
      expect(engine.inspect(attacker)?.counters.failuresShort).toBeGreaterThan(2);
      expect(engine.activeBlockCount).toBe(CAP - 1); // no rate limit lifted either
      expect(engine.untrackedNewKeys).toBe(10_000);
      // The attacker's evidence is intact: two more failures within the window make it MEDIUM.
      fail(engine, clock, 2, 100, attacker);
      expect(engine.evaluate(attacker).blockLevel).toBe('MEDIUM');
    });

    it('keys without failures go first, then the spray displaces only its own keys', () => {
      const { engine, clock } = setup({ thresholds: capped(CAP), blocking: true });
      for (let i = 0; i < CAP - 2; i++) engine.recordAttempt(key(i)); // no failures
      fail(engine, clock, 2, 100, attacker);
      fail(engine, clock, 5, 0, key(5000)); // rate-limited
      spray(engine, clock, 3 * CAP);
      expect(engine.trackedCount).toBe(CAP);
      expect(engine.inspect(attacker)?.counters.failuresShort).toBeGreaterThanOrEqual(1.5);
      expect(engine.evaluate(key(5000)).blockLevel).toBe('MEDIUM');
      for (let i = 0; i < CAP - 2; i++) expect(engine.inspect(key(i))).toBeUndefined();
      // The newest spray keys are the ones tracked: least recently used first within a class.
      expect(engine.inspect(key(100_000 + 3 * CAP - 1))).toBeDefined();
      expect(engine.inspect(key(100_000))).toBeUndefined();
      expect(engine.untrackedNewKeys).toBe(0);
    });

    it('an attempt never displaces a key with a failure, and a failure never one with more', () => {
      const { engine, clock } = setup({ thresholds: capped(16) });
      for (let i = 0; i < 16; i++) fail(engine, clock, 1 + (i % 2), 10, key(i)); // 1 or 2 failures each
      engine.recordAttempt(key(500));
      expect(engine.inspect(key(500))).toBeUndefined();
      engine.recordOutcome(key(501), 'failure'); // displaces the oldest 1-failure key (key 0)
      expect(engine.inspect(key(501))).toBeDefined();
      expect(engine.inspect(key(0))).toBeUndefined();
      for (let i = 0; i < 100; i++) engine.recordOutcome(key(600 + i), 'failure');
      for (let i = 1; i < 16; i += 2) expect(engine.inspect(key(i)), `key ${i}`).toBeDefined(); // the 2-failure keys
      expect(engine.untrackedNewKeys).toBe(1);
    });

    it('sweeps move keys whose failures aged out down to the first class to go', () => {
      const { engine, clock } = setup({ thresholds: capped(16) });
      for (let i = 0; i < 8; i++) fail(engine, clock, 3, 0, key(i)); // old failures
      clock.advance(47 * HOUR); // their day window has (all but) passed; not idle long enough to be swept away
      for (let i = 8; i < 16; i++) fail(engine, clock, 1, 0, key(i)); // fresh single failures
      engine.sweep(64);
      for (let i = 0; i < 8; i++) engine.recordOutcome(key(700 + i), 'failure');
      for (let i = 0; i < 8; i++) expect(engine.inspect(key(i)), `key ${i}`).toBeUndefined();
      for (let i = 8; i < 16; i++) expect(engine.inspect(key(i)), `key ${i}`).toBeDefined();
    });
  });
});

describe('EvictionQueues', () => {
  it('agrees with a model of per-class LRU lists under pushes, touches, reclassing and dense removals', () => {
    const cap = 300;
    const q = new EvictionQueues(cap);
    const idx = new KeyIndex(cap, (from, to) => q.move(from, to));
    const model: number[][] = Array.from({ length: EVICT_CLASSES }, () => []); // keys, oldest first
    const classOfKey = new Map<number, number>();
    const r = rng(11);
    const pick = (): number => Math.floor(r() * EVICT_CLASSES);
    for (let step = 0; step < 6000; step++) {
      const k = Math.floor(r() * 600);
      const id = idx.find(k);
      const op = r();
      if (id < 0) {
        if (idx.size === cap) continue;
        const c = pick();
        q.push(idx.insert(k), c);
        model[c]!.push(k);
        classOfKey.set(k, c);
      } else if (op < 0.4) {
        const c = pick();
        q.touch(id, c);
        const old = classOfKey.get(k)!;
        model[old]!.splice(model[old]!.indexOf(k), 1);
        model[c]!.push(k);
        classOfKey.set(k, c);
      } else if (op < 0.6) {
        const c = pick();
        q.reclass(id, c);
        const old = classOfKey.get(k)!;
        if (old !== c) {
          model[old]!.splice(model[old]!.indexOf(k), 1);
          model[c]!.push(k);
          classOfKey.set(k, c);
        }
      } else {
        q.unlink(id);
        idx.remove(id);
        const old = classOfKey.get(k)!;
        model[old]!.splice(model[old]!.indexOf(k), 1);
        classOfKey.delete(k);
      }
      const lowest = model.find((l) => l.length > 0);
      const v = q.victim();
      expect(v < 0 ? undefined : idx.keys[v]).toBe(lowest?.[0]);
      if (step % 16 === 0) expect(model.map((_, c) => q.size(c))).toEqual(model.map((l) => l.length));
    }
  });
});
