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
