import { xorshift32 } from './hash.ts';
import { KeyIndex } from './key-index.ts';

/**
 * Failures per (IP key, username hash) since the pair's last success, in a bounded table
 * (key f64 + slot 5 B + lastSec u32 + count u8 = 18 bytes per pair). A pair idle for `windowSec` is
 * forgotten. When full, the entry with the lowest live count among a few random samples is replaced.
 */
export class PairTable {
  private readonly index: KeyIndex;
  private readonly last: Uint32Array;
  private readonly counts: Uint8Array;
  private rng = 0x2545f491;

  constructor(
    capacity: number,
    private readonly windowSec: number,
  ) {
    this.last = new Uint32Array(capacity);
    this.counts = new Uint8Array(capacity);
    this.index = new KeyIndex(capacity, (from, to) => {
      this.last[to] = this.last[from]!;
      this.counts[to] = this.counts[from]!;
    });
  }

  get size(): number {
    return this.index.size;
  }

  get byteLength(): number {
    return this.index.byteLength + this.last.byteLength + this.counts.byteLength;
  }

  private live(id: number, nowSec: number): number {
    return nowSec - this.last[id]! >= this.windowSec ? 0 : this.counts[id]!;
  }

  /** Current failure count of a pair (0 if unknown or expired). */
  get(key: number, nowSec: number): number {
    const id = this.index.find(key);
    return id < 0 ? 0 : this.live(id, nowSec);
  }

  /** Records a failure; returns the pair's count after it. */
  fail(key: number, nowSec: number): number {
    let id = this.index.find(key);
    if (id < 0) {
      if (this.index.size < this.index.capacity) id = this.index.insert(key);
      else {
        id = this.victim(nowSec);
        this.index.rekey(id, key);
      }
      this.counts[id] = 0;
    } else if (this.live(id, nowSec) === 0) {
      this.counts[id] = 0;
    }
    const c = Math.min(this.counts[id]! + 1, 255);
    this.counts[id] = c;
    this.last[id] = Math.max(nowSec, this.last[id]!);
    return c;
  }

  /** Sets a pair's count as a shared store holds it (0 forgets the pair). */
  set(key: number, count: number, nowSec: number): void {
    if (count === 0) return this.succeed(key);
    let id = this.index.find(key);
    if (id < 0) {
      if (this.index.size < this.index.capacity) id = this.index.insert(key);
      else {
        id = this.victim(nowSec);
        this.index.rekey(id, key);
      }
    }
    this.counts[id] = Math.min(count, 255);
    this.last[id] = nowSec;
  }

  /** A success resets the pair (Auth0 counts consecutive failures). */
  succeed(key: number): void {
    const id = this.index.find(key);
    if (id >= 0) this.index.remove(id);
  }

  /** Drops up to `budget` expired pairs starting at a rotating cursor; returns how many were dropped. */
  sweep(budget: number, nowSec: number, cursor: number): { removed: number; cursor: number } {
    let removed = 0;
    let i = cursor;
    for (let n = 0; n < budget && this.index.size > 0; n++) {
      if (i >= this.index.size) i = 0;
      if (this.live(i, nowSec) === 0) {
        this.index.remove(i);
        removed++;
      } else i++;
    }
    return { removed, cursor: i };
  }

  private victim(nowSec: number): number {
    let best = 0;
    let bestCount = 256;
    for (let k = 0; k < 8; k++) {
      this.rng = xorshift32(this.rng);
      const id = (this.rng >>> 0) % this.index.size;
      const c = this.live(id, nowSec);
      if (c < bestCount) {
        best = id;
        bestCount = c;
        if (c === 0) break;
      }
    }
    return best;
  }
}
