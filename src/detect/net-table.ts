import { fmix32, linearCountTable, popcount32, xorshift32 } from './hash.ts';
import { KeyIndex } from './key-index.ts';

/**
 * Per-network failure aggregates (IPv4 /24, IPv6 /48; see networkKey): a botnet concentrated in a few networks,
 * each IP trying once or twice, is seen as one source. Typed arrays, no object per network. Per tracked network
 * (29 bytes): key f64 (8) + index slot (5) + u32 row (12: lastSec, distinct-IP sketch cur, prev) + u8 row (4:
 * failures cur, prev; successes cur, prev). Windows are two weighted buckets as wide as the window, like the
 * per-IP 10-min window. A full table replaces the quietest of 4 sampled entries.
 */
const U32 = 3;
const U8 = 4;
const LC = linearCountTable(32);
const IP_SALT = 0x3c6ef372;

export interface NetworkCounts {
  failures: number;
  successes: number;
  distinctIps: number;
}

export class NetTable {
  readonly index: KeyIndex;
  private readonly u32: Uint32Array;
  /** The four counters per entry: one byte each (saturating at 255), or four with `wide` (an ASN's counts). */
  private readonly u8: Uint8Array | Uint32Array;
  private readonly max: number;
  private readonly w: number;
  private rng = 0x6a09e667;

  constructor(capacity: number, windowSec: number, wide = false) {
    this.u32 = new Uint32Array(capacity * U32);
    this.u8 = wide ? new Uint32Array(capacity * U8) : new Uint8Array(capacity * U8);
    this.max = wide ? 0xffffffff : 255;
    this.index = new KeyIndex(capacity, (from, to) => {
      this.u32.copyWithin(to * U32, from * U32, (from + 1) * U32);
      this.u8.copyWithin(to * U8, from * U8, (from + 1) * U8);
    });
    this.w = windowSec;
  }

  get byteLength(): number {
    return this.index.byteLength + this.u32.byteLength + this.u8.byteLength;
  }

  /** Counts one sign-in outcome from `ipKey` in network `net`. */
  record(net: number, ipKey: number, failure: boolean, nowSec: number): void {
    const id = this.upsert(net, nowSec);
    const o = id * U8 + (failure ? 0 : 2);
    if (this.u8[o]! < this.max) this.u8[o]!++;
    if (failure) {
      const r = id * U32 + 1;
      const h = fmix32(((ipKey >>> 0) ^ Math.imul((ipKey / 4294967296) | 0, 0x9e3779b1)) ^ IP_SALT);
      this.u32[r] = (this.u32[r]! | (1 << (h & 31))) >>> 0;
    }
  }

  /** Weighted counts of network `net` at `nowMs` into `out`; false when untracked or idle. Read-only. */
  counts(net: number, nowMs: number, out: NetworkCounts): boolean {
    const id = this.index.find(net);
    if (id < 0) return false;
    const last = this.u32[id * U32]!;
    const wms = this.w * 1000;
    const t = Math.max(nowMs, last * 1000);
    const ni = Math.floor(t / wms);
    const d = ni - Math.floor(last / this.w);
    if (d >= 2) return false;
    const keep = 1 - (t - ni * wms) / wms;
    const b = id * U8;
    const r = id * U32;
    let fc = this.u8[b]!, fp = this.u8[b + 1]!, sc = this.u8[b + 2]!, sp = this.u8[b + 3]!;
    let kc = this.u32[r + 1]!, kp = this.u32[r + 2]!;
    if (d === 1) {
      fp = fc; fc = 0; sp = sc; sc = 0; kp = kc; kc = 0;
    }
    out.failures = fc + fp * keep;
    out.successes = sc + sp * keep;
    const c = LC[popcount32(kc)]!;
    out.distinctIps = c + (LC[popcount32((kc | kp) >>> 0)]! - c) * keep;
    return true;
  }

  /** Drops up to `budget` networks idle for two windows, from a rotating cursor; returns the next cursor. */
  sweep(budget: number, nowSec: number, cursor: number): number {
    let i = cursor;
    for (let n = 0; n < budget && this.index.size > 0; n++) {
      if (i >= this.index.size) i = 0;
      if (nowSec - this.u32[i * U32]! >= 2 * this.w) this.index.remove(i);
      else i++;
    }
    return i;
  }

  private upsert(net: number, nowSec: number): number {
    let id = this.index.find(net);
    if (id >= 0) {
      this.rotate(id, nowSec);
      return id;
    }
    if (this.index.size < this.index.capacity) id = this.index.insert(net);
    else {
      id = this.quietest();
      this.index.rekey(id, net);
    }
    this.u32.fill(0, id * U32, (id + 1) * U32);
    this.u8.fill(0, id * U8, (id + 1) * U8);
    this.u32[id * U32] = nowSec;
    return id;
  }

  private rotate(id: number, nowSec: number): void {
    const r = id * U32;
    const last = this.u32[r]!;
    if (nowSec <= last) return;
    const d = Math.floor(nowSec / this.w) - Math.floor(last / this.w);
    if (d > 0) {
      const b = id * U8;
      const u8 = this.u8;
      u8[b + 1] = d === 1 ? u8[b]! : 0;
      u8[b + 3] = d === 1 ? u8[b + 2]! : 0;
      u8[b] = 0;
      u8[b + 2] = 0;
      this.u32[r + 2] = d === 1 ? this.u32[r + 1]! : 0;
      this.u32[r + 1] = 0;
    }
    this.u32[r] = nowSec;
  }

  private quietest(): number {
    let best = 0;
    let bestScore = Infinity;
    for (let k = 0; k < 4; k++) {
      this.rng = xorshift32(this.rng);
      const id = (this.rng >>> 0) % this.index.size;
      const score = this.u8[id * U8]! + this.u8[id * U8 + 1]! + this.u32[id * U32]! / 1e9;
      if (score < bestScore) {
        best = id;
        bestScore = score;
      }
    }
    return best;
  }
}
