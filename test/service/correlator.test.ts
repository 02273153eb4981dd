import { describe, expect, it } from 'vitest';
import { AttemptCorrelator, ENTRY_OVERHEAD_BYTES } from '../../src/service/correlator.ts';

const remember = (c: AttemptCorrelator<number>, id: string, atMs: number, opts: { key?: number; denied?: boolean; hash?: number } = {}) =>
  c.remember(id, opts.key ?? 1, '192.0.2.1', opts.hash ?? 7, opts.denied ?? false, atMs);

describe('AttemptCorrelator', () => {
  it('returns an attempt once, and not after it aged out', () => {
    const c = new AttemptCorrelator<number>({ maxEntries: 10, maxAgeMs: 1000 });
    remember(c, 'r1', 0);
    remember(c, 'r2', 0);
    expect(c.peek('r1', 500)).toMatchObject({ usernameHash: 7 });
    expect(c.take('r1', 500)).toMatchObject({ usernameHash: 7, reused: false });
    expect(c.take('r1', 500)).toBeUndefined();
    expect(c.take('r2', 1500)).toBeUndefined();
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
  });

  it('is bounded in entries: the oldest entry goes first', () => {
    const c = new AttemptCorrelator<number>({ maxEntries: 3, maxAgeMs: 1000 });
    for (let i = 0; i < 5; i++) remember(c, `r${i}`, i);
    expect(c.size).toBe(3);
    expect(c.dropped.evicted).toBe(2);
    expect(c.take('r0', 10)).toBeUndefined();
    expect(c.take('r4', 10)).toBeDefined();
  });

  it('sweeps old entries without touching young ones', () => {
    const c = new AttemptCorrelator<number>({ maxEntries: 10, maxAgeMs: 100 });
    remember(c, 'old', 0);
    remember(c, 'young', 150);
    c.sweep(200);
    expect(c.size).toBe(1);
    expect(c.peek('young', 200)).toBeDefined();
  });

  it('never overwrites a pending Check: the first wins, the later one is counted and marks the id reused', () => {
    const c = new AttemptCorrelator<number>();
    expect(remember(c, 'same', 0, { key: 1, denied: false, hash: 11 })).toBe(true);
    expect(remember(c, 'same', 5, { key: 2, denied: true, hash: 22 })).toBe(false);
    expect(c.dropped.duplicate_id).toBe(1);
    expect(c.size).toBe(1);
    expect(c.take('same', 10)).toMatchObject({ key: 1, denied: false, usernameHash: 11, atMs: 0, reused: true });
  });

  it('does not remember ids over the length cap, and counts them', () => {
    const c = new AttemptCorrelator<number>({ maxIdLength: 128 });
    expect(remember(c, 'x'.repeat(128), 0)).toBe(true);
    expect(remember(c, 'y'.repeat(129), 0)).toBe(false);
    expect(c.dropped.id_too_long).toBe(1);
    expect(c.size).toBe(1);
  });

  it('4,000 Checks with 60 KB ids hold no id at all, and the bytes held stay under the budget', () => {
    const c = new AttemptCorrelator<number>();
    const huge = 'a'.repeat(60 * 1024);
    for (let i = 0; i < 4000; i++) remember(c, `${i}-${huge}`, i);
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
    expect(c.dropped.id_too_long).toBe(4000);
  });

  it('evicts the oldest to stay within the byte budget, whatever the ids', () => {
    const perEntry = ENTRY_OVERHEAD_BYTES + 2 * (128 + '192.0.2.1'.length);
    const c = new AttemptCorrelator<number>({ maxBytes: 100 * perEntry, maxIdLength: 128 });
    for (let i = 0; i < 1000; i++) remember(c, String(i).padStart(128, '0'), i);
    expect(c.bytes).toBeLessThanOrEqual(100 * perEntry);
    expect(c.size).toBe(100);
    expect(c.dropped.evicted).toBe(900);
    expect(c.peek(String(899).padStart(128, '0'), 1000)).toBeUndefined();
    expect(c.peek(String(900).padStart(128, '0'), 1000)).toBeDefined();
    // Byte accounting returns to zero when everything is taken or swept.
    for (let i = 900; i < 950; i++) c.take(String(i).padStart(128, '0'), 1000);
    c.sweep(10_000_000);
    expect(c.size).toBe(0);
    expect(c.bytes).toBe(0);
  });
});
