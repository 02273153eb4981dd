import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../../src/detect/key-index.ts';
import { rng } from './helpers.ts';

describe('KeyIndex', () => {
  it.each([undefined, 1, 2])('agrees with a Map under random inserts, removals and re-keys, keeping entries dense (distance bits %s)', (distanceBits) => {
    const cap = 500;
    const vals = new Float64Array(cap); // a column owned by the caller, moved on removal
    const idx = new KeyIndex(cap, (from, to) => (vals[to] = vals[from]!), distanceBits);
    const model = new Map<number, number>();
    const r = rng(7);
    const randKey = (): number => (r() < 0.5 ? Math.floor(r() * 2000) : 2 ** 52 + Math.floor(r() * 2000));
    for (let step = 0; step < 50000; step++) {
      const key = randKey();
      const id = idx.find(key);
      expect(id >= 0).toBe(model.has(key));
      if (id >= 0) {
        expect(vals[id]).toBe(model.get(key));
        if (r() < 0.5) {
          idx.remove(id);
          model.delete(key);
        }
      } else if (idx.size < cap) {
        const nid = idx.insert(key);
        vals[nid] = step;
        model.set(key, step);
      } else {
        const victim = Math.floor(r() * idx.size);
        model.delete(idx.keys[victim]!);
        idx.rekey(victim, key);
        vals[victim] = step;
        model.set(key, step);
      }
      expect(idx.size).toBe(model.size);
    }
    for (const [k, v] of model) expect(vals[idx.find(k)]).toBe(v);
  });

  it('stays exact at full load under an eviction churn (re-key of the oldest entry, as the detectors do)', () => {
    const cap = 20_000;
    const idx = new KeyIndex(cap, () => undefined, 2); // saturates at distance 3: long clusters go through the key
    const keyAt = new Map<number, number>(); // id -> key
    for (let i = 0; i < cap; i++) keyAt.set(idx.insert(i * 7 + 0.25), i * 7 + 0.25);
    const r = rng(5);
    const wrong = (): number => {
      let n = 0;
      for (const [i, key] of keyAt) if (idx.find(key) !== i) n++;
      return n;
    };
    let stale = 0;
    for (let step = 0; step < 40_000; step++) {
      const id = Math.floor(r() * cap);
      const k = 1e9 + step;
      const old = keyAt.get(id)!;
      idx.rekey(id, k);
      keyAt.set(id, k);
      if (idx.find(old) !== -1) stale++;
      if (step % 5000 === 0) expect(wrong(), `step ${step}`).toBe(0);
    }
    expect(stale).toBe(0);
    expect(wrong()).toBe(0);
  });
});
