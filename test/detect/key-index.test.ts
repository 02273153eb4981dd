import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../../src/detect/key-index.ts';
import { rng } from './helpers.ts';

describe('KeyIndex', () => {
  it('agrees with a Map under random inserts, removals and re-keys, keeping entries dense', () => {
    const cap = 500;
    const vals = new Float64Array(cap); // a column owned by the caller, moved on removal
    const idx = new KeyIndex(cap, (from, to) => (vals[to] = vals[from]!));
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
});
