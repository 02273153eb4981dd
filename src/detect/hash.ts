/** Small integer hashing and linear-counting helpers shared by the tables and sketches. */

/** murmur3 finaliser: full avalanche of a 32-bit value, no allocation. Returns uint32. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const TWO32 = 4294967296;

/** 32-bit hash of a table key (an integer double below 2^53). */
export function keyHash(key: number): number {
  const hi = (key / TWO32) | 0;
  return fmix32((key >>> 0) ^ Math.imul(hi ^ 0x5bd1e995, 0x9e3779b1));
}

/** Key of an (IP key, username hash) pair: 52 mixed bits as an exact double; collisions ~2^-52 per pair. */
export function pairKey(key: number, usernameHash: number): number {
  const a = fmix32((key >>> 0) ^ Math.imul(usernameHash | 0, 0xcc9e2d51));
  const b = fmix32(((key / TWO32) | 0) ^ a ^ Math.imul(usernameHash ^ 0x1b873593, 0x85ebca6b));
  return (b & 0xfffff) * TWO32 + a;
}

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

/**
 * Linear counting (Whang et al.): distinct items from the number of set bits z in an m-bit map.
 * Table indexed by z; a full map reports m*ln(m), the sketch's ceiling.
 */
export function linearCountTable(m: number): Float64Array {
  const t = new Float64Array(m + 1);
  for (let z = 0; z < m; z++) t[z] = -m * Math.log(1 - z / m);
  t[m] = m * Math.log(m);
  return t;
}

/** Next state of a xorshift32 generator (non-zero int32 in, non-zero int32 out): cheap sampling, not secrets. */
export function xorshift32(x: number): number {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x | 0;
}

/*
 * Keyed SipHash-2-4 (Aumasson & Bernstein, 2012): a PRF for short inputs, for usernames (and any other secret
 * the detectors must tell apart without storing it). Written here rather than taken from npm: the packages
 * that exist (siphash, @posthog/siphash, siphash24) take strings or copy into WebAssembly memory per call and
 * return fresh objects, where the Check path needs bytes already in a Buffer hashed without allocation, in
 * plain JS. 64-bit words are kept as (hi, lo) uint32 pairs; checked against the paper's 64 reference vectors
 * (test/detect/siphash.test.ts).
 */

/** A SipHash key as four little-endian uint32 words (k0 lo, k0 hi, k1 lo, k1 hi), from 16 key bytes. */
export function sipKey(key: Uint8Array): Uint32Array {
  if (key.length !== 16) throw new Error(`SipHash key must be 16 bytes, got ${key.length}`);
  const dv = new DataView(key.buffer, key.byteOffset, 16);
  return Uint32Array.of(dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true));
}

// State: v0..v3 as hi/lo halves (v0h v0l v1h v1l v2h v2l v3h v3l) in a typed array: module-level `let`s
// holding uint32 values above 2^30 are boxed as heap numbers on every store, which made a hash ~1 µs.
// Rounds run on locals, loaded and stored once per call. Synchronous use only.
const V = new Uint32Array(8);

function sipRounds(n: number): void {
  let v0h = V[0]!, v0l = V[1]!, v1h = V[2]!, v1l = V[3]!, v2h = V[4]!, v2l = V[5]!, v3h = V[6]!, v3l = V[7]!;
  let lo: number, t: number;
  for (let r = 0; r < n; r++) {
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    lo = (v0l + v1l) >>> 0;
    v0h = (v0h + v1h + (lo < v0l ? 1 : 0)) >>> 0;
    v0l = lo;
    t = v1h;
    v1h = ((v1h << 13) | (v1l >>> 19)) >>> 0;
    v1l = ((v1l << 13) | (t >>> 19)) >>> 0;
    v1h = (v1h ^ v0h) >>> 0;
    v1l = (v1l ^ v0l) >>> 0;
    t = v0h;
    v0h = v0l;
    v0l = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    lo = (v2l + v3l) >>> 0;
    v2h = (v2h + v3h + (lo < v2l ? 1 : 0)) >>> 0;
    v2l = lo;
    t = v3h;
    v3h = ((v3h << 16) | (v3l >>> 16)) >>> 0;
    v3l = ((v3l << 16) | (t >>> 16)) >>> 0;
    v3h = (v3h ^ v2h) >>> 0;
    v3l = (v3l ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    lo = (v0l + v3l) >>> 0;
    v0h = (v0h + v3h + (lo < v0l ? 1 : 0)) >>> 0;
    v0l = lo;
    t = v3h;
    v3h = ((v3h << 21) | (v3l >>> 11)) >>> 0;
    v3l = ((v3l << 21) | (t >>> 11)) >>> 0;
    v3h = (v3h ^ v0h) >>> 0;
    v3l = (v3l ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    lo = (v2l + v1l) >>> 0;
    v2h = (v2h + v1h + (lo < v2l ? 1 : 0)) >>> 0;
    v2l = lo;
    t = v1h;
    v1h = ((v1h << 17) | (v1l >>> 15)) >>> 0;
    v1l = ((v1l << 17) | (t >>> 15)) >>> 0;
    v1h = (v1h ^ v2h) >>> 0;
    v1l = (v1l ^ v2l) >>> 0;
    t = v2h;
    v2h = v2l;
    v2l = t;
  }
  V[0] = v0h; V[1] = v0l; V[2] = v1h; V[3] = v1l; V[4] = v2h; V[5] = v2l; V[6] = v3h; V[7] = v3l;
}

function compress(mh: number, ml: number): void {
  V[6]! ^= mh;
  V[7]! ^= ml;
  sipRounds(2);
  V[0]! ^= mh;
  V[1]! ^= ml;
}

/** High and low 32 bits of the last siphash24() result. */
export let sipHi = 0;
export let sipLo = 0;

/** SipHash-2-4 of bytes [start, end) of b; returns the low 32 bits, sipHi/sipLo hold all 64. */
export function siphash24(k: Uint32Array, b: Uint8Array, start = 0, end = b.length): number {
  const k0l = k[0]!, k0h = k[1]!, k1l = k[2]!, k1h = k[3]!;
  V[0] = k0h ^ 0x736f6d65; V[1] = k0l ^ 0x70736575;
  V[2] = k1h ^ 0x646f7261; V[3] = k1l ^ 0x6e646f6d;
  V[4] = k0h ^ 0x6c796765; V[5] = k0l ^ 0x6e657261;
  V[6] = k1h ^ 0x74656462; V[7] = k1l ^ 0x79746573;
  const len = end - start;
  const whole = start + (len & ~7);
  let i = start;
  for (; i < whole; i += 8) {
    const ml = (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
    const mh = (b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24)) >>> 0;
    compress(mh, ml);
  }
  // Last block: the 0..7 remaining bytes, and the length's low byte in the top byte.
  let ml = 0;
  let mh = (len & 0xff) << 24;
  const rest = end - i;
  for (let j = 0; j < rest; j++) {
    if (j < 4) ml |= b[i + j]! << (8 * j);
    else mh |= b[i + j]! << (8 * (j - 4));
  }
  compress(mh >>> 0, ml >>> 0);
  V[5]! ^= 0xff;
  sipRounds(4);
  sipHi = (V[0]! ^ V[2]! ^ V[4]! ^ V[6]!) >>> 0;
  sipLo = (V[1]! ^ V[3]! ^ V[5]! ^ V[7]!) >>> 0;
  return sipLo;
}
