import { KeyIndex } from './key-index.ts';
import { linearCountTable, popcount32 } from './hash.ts';
import type { Thresholds } from './thresholds.ts';

/**
 * Per-IP counters in typed arrays: no JS object per IP. Layout per tracked key (59 bytes):
 *   key f64 (8) + index slot (5) + u32 row (20) + u8 row (26)
 *   u32 row: lastSec | blockedUntilSec | spray sketch cur | spray sketch prev | stuffing sketch cur:prev (16+16)
 *   u8 row:  7 counter pairs (cur, prev) | flags | short-window ring (11 slots)
 * Every counter pair is an approximate sliding window: two fixed buckets as wide as the window, the
 * previous one weighted by how much of it still overlaps the window. The short brute-force window is exact
 * instead (a ring of RING_SLOTS sub-buckets, see ringCount): a burst is counted whole wherever bucket edges
 * fall. One `lastSec` serves every window: bucket indices are floor(sec / width), so rotation happens lazily
 * on the next write.
 */
export const U32_STRIDE = 5;
export const U8_STRIDE = 26;

export const U_LAST = 0;
export const U_BLOCKED = 1;
export const U_SPRAY = 2; // cur at +0, prev at +1
export const U_STUFF_USERS = 4;

/** Refused sign-in attempts (persistence), window `wRef`. Offset 0 held the short pair before the ring. */
export const B_REF = 0;
export const B_MID = 2;
export const B_SUCC = 4;
export const B_LONG = 6;
export const B_UNK = 8;
export const B_ATT = 10;
export const B_TGT = 12;
export const B_FLAGS = 14;
/** Short-window ring: RING_SLOTS one-byte sub-buckets of `gShort` seconds, slot = floor(sec / gShort) % RING_SLOTS. */
export const B_RING = 15;
export const RING_SLOTS = 11;

export const F_OFFENCES = 0x0f; // remembered HIGH blocks, 0..15
export const F_BLOCK_LEVEL_SHIFT = 4; // 2 bits: level of the current/last block
export const F_PROVEN = 0x40; // a success was seen from this key
export const F_BLOCK_COUNTED = 0x80; // counted in activeBlockCount until seen expired

/** Bytes of one row in the shared-store format (src/store): the u32 row little-endian, then the u8 row. */
export const ROW_BYTES = U32_STRIDE * 4 + U8_STRIDE;
const O_FLAGS = U32_STRIDE * 4 + B_FLAGS;

const SPRAY_LC = linearCountTable(32);
const STUFF_LC = linearCountTable(16);

export class IpTable {
  readonly index: KeyIndex;
  readonly u32: Uint32Array;
  readonly u8: Uint8Array;
  // Window widths in seconds.
  readonly wShort: number;
  /** Short ring: sub-bucket width (s) and the number of whole sub-buckets behind the current one that are counted. */
  readonly gShort: number;
  readonly kShort: number;
  /** Refused-attempt window (s). */
  readonly wRef: number;
  readonly wMid: number;
  readonly wLong: number;
  readonly wUnk: number;
  readonly wSpray: number;
  readonly wStuff: number;
  readonly wTgt: number;
  /** Longest window: an entry idle for twice this holds nothing but block/offence state. */
  readonly wMax: number;

  constructor(t: Thresholds) {
    const cap = t.maxTrackedIps;
    this.u32 = new Uint32Array(cap * U32_STRIDE);
    this.u8 = new Uint8Array(cap * U8_STRIDE);
    this.index = new KeyIndex(cap, (from, to) => this.copyRow(from, to));
    this.wShort = t.bruteForceShort.windowMs / 1000;
    this.gShort = Math.ceil(this.wShort / (RING_SLOTS - 1));
    this.kShort = Math.ceil(this.wShort / this.gShort);
    this.wRef = t.bruteForce.windowMs / 1000;
    this.wMid = t.bruteForce.windowMs / 1000;
    this.wLong = t.bruteForceLong.windowMs / 1000;
    this.wUnk = t.unknownUserSpray.windowMs / 1000;
    this.wSpray = t.passwordSpray.windowMs / 1000;
    this.wStuff = t.credentialStuffing.windowMs / 1000;
    this.wTgt = t.accountTargeted.windowMs / 1000;
    this.wMax = Math.max(this.wShort + 2 * this.gShort, this.wRef, this.wMid, this.wLong, this.wUnk, this.wSpray, this.wStuff, this.wTgt);
  }

  get byteLength(): number {
    return this.index.byteLength + this.u32.byteLength + this.u8.byteLength;
  }

  private copyRow(from: number, to: number): void {
    this.u32.copyWithin(to * U32_STRIDE, from * U32_STRIDE, (from + 1) * U32_STRIDE);
    this.u8.copyWithin(to * U8_STRIDE, from * U8_STRIDE, (from + 1) * U8_STRIDE);
  }

  /** Zeroes a row for a new key. */
  resetRow(id: number, nowSec: number): void {
    this.u32.fill(0, id * U32_STRIDE, (id + 1) * U32_STRIDE);
    this.u8.fill(0, id * U8_STRIDE, (id + 1) * U8_STRIDE);
    this.u32[id * U32_STRIDE + U_LAST] = nowSec;
  }

  /** Rotates every window of row `id` to `nowSec` (lazy expiry) and stamps it. */
  touch(id: number, nowSec: number): void {
    const u32 = this.u32;
    const r = id * U32_STRIDE;
    const last = u32[r + U_LAST]!;
    if (nowSec <= last) return;
    const b = id * U8_STRIDE;
    this.shift8(b + B_REF, this.wRef, last, nowSec);
    // Ring: zero the sub-buckets passed over since `last` (all of them after a long gap).
    const li = Math.floor(last / this.gShort);
    const steps = Math.min(Math.floor(nowSec / this.gShort) - li, RING_SLOTS);
    for (let k = 1; k <= steps; k++) this.u8[b + B_RING + ((li + k) % RING_SLOTS)] = 0;
    this.shift8(b + B_MID, this.wMid, last, nowSec);
    this.shift8(b + B_SUCC, this.wMid, last, nowSec);
    this.shift8(b + B_LONG, this.wLong, last, nowSec);
    this.shift8(b + B_UNK, this.wUnk, last, nowSec);
    this.shift8(b + B_ATT, this.wStuff, last, nowSec);
    this.shift8(b + B_TGT, this.wTgt, last, nowSec);
    const ds = Math.floor(nowSec / this.wSpray) - Math.floor(last / this.wSpray);
    if (ds === 1) {
      u32[r + U_SPRAY + 1] = u32[r + U_SPRAY]!;
      u32[r + U_SPRAY] = 0;
    } else if (ds > 1) {
      u32[r + U_SPRAY] = 0;
      u32[r + U_SPRAY + 1] = 0;
    }
    const du = Math.floor(nowSec / this.wStuff) - Math.floor(last / this.wStuff);
    if (du === 1) u32[r + U_STUFF_USERS] = (u32[r + U_STUFF_USERS]! << 16) >>> 0;
    else if (du > 1) u32[r + U_STUFF_USERS] = 0;
    u32[r + U_LAST] = nowSec;
  }

  private shift8(o: number, w: number, last: number, nowSec: number): void {
    const d = Math.floor(nowSec / w) - Math.floor(last / w);
    if (d === 0) return;
    const u8 = this.u8;
    u8[o + 1] = d === 1 ? u8[o]! : 0;
    u8[o] = 0;
  }

  /** Saturating increment of the current bucket of a counter pair. */
  inc(id: number, pair: number): void {
    const o = id * U8_STRIDE + pair;
    const v = this.u8[o]!;
    if (v < 255) this.u8[o] = v + 1;
  }

  /** Saturating increment of the short ring's current sub-bucket (call after touch). */
  incRing(id: number): void {
    const o = id * U8_STRIDE + B_RING + (Math.floor(this.u32[id * U32_STRIDE + U_LAST]! / this.gShort) % RING_SLOTS);
    const v = this.u8[o]!;
    if (v < 255) this.u8[o] = v + 1;
  }

  /**
   * Events in the short window at `nowMs`: the current sub-bucket plus the kShort before it, so every event of
   * the last wShort seconds is counted (kShort × gShort >= wShort) and none older than wShort + 2 gShort.
   * Exact, not an estimate: the answer does not depend on where sub-bucket edges fall inside a burst.
   */
  ringCount(id: number, nowMs: number): number {
    const last = this.u32[id * U32_STRIDE + U_LAST]!;
    const g = this.gShort;
    const li = Math.floor(last / g);
    const ni = Math.max(Math.floor(nowMs / 1000 / g), li);
    const from = ni - this.kShort;
    if (from > li) return 0;
    const o = id * U8_STRIDE + B_RING;
    let n = 0;
    // Sub-buckets after `last` have not been rotated yet but hold nothing newer than `last`: stop at li.
    for (let j = from; j <= li; j++) n += this.u8[o + (j % RING_SLOTS)]!;
    return n;
  }

  /** Raises the current bucket of a counter pair to at least `v` (max-of semantics). */
  raise(id: number, pair: number, v: number): void {
    const o = id * U8_STRIDE + pair;
    if (this.u8[o]! < v) this.u8[o] = Math.min(v, 255);
  }

  /** Weighted sliding-window count of a counter pair at `nowMs` (read-only). */
  count(id: number, pair: number, w: number, nowMs: number): number {
    const last = this.u32[id * U32_STRIDE + U_LAST]!;
    const wms = w * 1000;
    if (nowMs < last * 1000) nowMs = last * 1000;
    const ni = Math.floor(nowMs / wms);
    const d = ni - Math.floor(last / w);
    if (d >= 2) return 0;
    const keepPrev = 1 - (nowMs - ni * wms) / wms;
    const o = id * U8_STRIDE + pair;
    return d === 0 ? this.u8[o]! + this.u8[o + 1]! * keepPrev : this.u8[o]! * keepPrev;
  }

  /** Max of the current and previous bucket (for max-of counters such as per-account failures). */
  peak(id: number, pair: number, w: number, nowMs: number): number {
    const last = this.u32[id * U32_STRIDE + U_LAST]!;
    const d = Math.floor(Math.max(nowMs / 1000, last) / w) - Math.floor(last / w);
    const o = id * U8_STRIDE + pair;
    if (d >= 2) return 0;
    return d === 0 ? Math.max(this.u8[o]!, this.u8[o + 1]!) : this.u8[o]!;
  }

  addSprayUser(id: number, bit: number): void {
    const r = id * U32_STRIDE + U_SPRAY;
    this.u32[r] = (this.u32[r]! | (1 << (bit & 31))) >>> 0;
  }

  addStuffUser(id: number, bit: number): void {
    const r = id * U32_STRIDE + U_STUFF_USERS;
    this.u32[r] = (this.u32[r]! | (1 << (bit & 15))) >>> 0;
  }

  /** Distinct failing usernames, weighted like the counters (linear counting on 32 bits per bucket). */
  sprayUsers(id: number, nowMs: number): number {
    const r = id * U32_STRIDE;
    return this.sketch(r, this.u32[r + U_SPRAY]!, this.u32[r + U_SPRAY + 1]!, this.wSpray, nowMs, SPRAY_LC);
  }

  /** Distinct attempted usernames in the stuffing window (16 bits per bucket). */
  stuffUsers(id: number, nowMs: number): number {
    const r = id * U32_STRIDE;
    const v = this.u32[r + U_STUFF_USERS]!;
    return this.sketch(r, v & 0xffff, v >>> 16, this.wStuff, nowMs, STUFF_LC);
  }

  private sketch(r: number, cur: number, prev: number, w: number, nowMs: number, lc: Float64Array): number {
    const last = this.u32[r + U_LAST]!;
    const wms = w * 1000;
    if (nowMs < last * 1000) nowMs = last * 1000;
    const ni = Math.floor(nowMs / wms);
    const d = ni - Math.floor(last / w);
    if (d >= 2) return 0;
    if (d === 1) {
      prev = cur;
      cur = 0;
    }
    const keepPrev = 1 - (nowMs - ni * wms) / wms;
    const c = lc[popcount32(cur)]!;
    return c + (lc[popcount32(cur | prev)]! - c) * keepPrev;
  }

  /** Row `id` in the shared-store format; F_BLOCK_COUNTED is local bookkeeping and is left out. */
  readRow(id: number, out: Uint8Array): Uint8Array {
    const dv = new DataView(out.buffer, out.byteOffset, ROW_BYTES);
    for (let i = 0; i < U32_STRIDE; i++) dv.setUint32(i * 4, this.u32[id * U32_STRIDE + i]!, true);
    out.set(this.u8.subarray(id * U8_STRIDE, (id + 1) * U8_STRIDE), U32_STRIDE * 4);
    out[O_FLAGS] = out[O_FLAGS]! & ~F_BLOCK_COUNTED;
    return out;
  }

  /** Overwrites row `id` from the shared-store format, keeping the local F_BLOCK_COUNTED bit. */
  writeRow(id: number, row: Uint8Array): void {
    if (row.length !== ROW_BYTES) throw new RangeError(`row must be ${ROW_BYTES} bytes, got ${row.length}`);
    const counted = this.flags(id) & F_BLOCK_COUNTED;
    const dv = new DataView(row.buffer, row.byteOffset, ROW_BYTES);
    for (let i = 0; i < U32_STRIDE; i++) this.u32[id * U32_STRIDE + i] = dv.getUint32(i * 4, true);
    this.u8.set(row.subarray(U32_STRIDE * 4), id * U8_STRIDE);
    this.setFlags(id, (this.flags(id) & ~F_BLOCK_COUNTED) | counted);
  }

  lastSec(id: number): number {
    return this.u32[id * U32_STRIDE + U_LAST]!;
  }

  blockedUntilSec(id: number): number {
    return this.u32[id * U32_STRIDE + U_BLOCKED]!;
  }

  setBlockedUntilSec(id: number, sec: number): void {
    this.u32[id * U32_STRIDE + U_BLOCKED] = sec;
  }

  flags(id: number): number {
    return this.u8[id * U8_STRIDE + B_FLAGS]!;
  }

  setFlags(id: number, f: number): void {
    this.u8[id * U8_STRIDE + B_FLAGS] = f;
  }
}
