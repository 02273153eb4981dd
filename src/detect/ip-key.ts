import { fmix32 } from './hash.ts';

/**
 * Tracking key of a client IP, a plain number so that it is free to pass, compare and use as a Map key:
 * - IPv4: the address as an integer in [0, 2^32): exact, reversible.
 * - IPv6: 2^52 + a 52-bit mix of the address truncated to the prefix (and the prefix length), so in
 *   [2^52, 2^53): exact doubles, disjoint from IPv4. Two different prefixes merge only on a 52-bit
 *   collision (~2^-52 per pair, deterministic across processes so stored keys stay valid).
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) is keyed as the IPv4 address.
 */
export type IpKey = number;

const TWO32 = 4294967296;
const V6_BASE = 4503599627370496; // 2^52

function maskWord(w: number, wordIndex: number, prefix: number): number {
  const keep = prefix - wordIndex * 32;
  if (keep >= 32) return w | 0;
  if (keep <= 0) return 0;
  return w & (-1 << (32 - keep));
}

/** Key an IP for tracking. Input is the 4-word form: family 4|6, w0..w3 big-endian uint32 words, IPv4 in w0. */
export function ipKey(family: 4 | 6, w0: number, w1: number, w2: number, w3: number, v6Prefix = 64): IpKey {
  if (family === 4) return w0 >>> 0;
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return w3 >>> 0;
  const a = maskWord(w0, 0, v6Prefix);
  const b = maskWord(w1, 1, v6Prefix);
  const c = maskWord(w2, 2, v6Prefix);
  const d = maskWord(w3, 3, v6Prefix);
  const h1 = fmix32(a ^ fmix32(b ^ fmix32(c ^ fmix32(d ^ Math.imul(v6Prefix, 0x9e3779b1)))));
  const h2 = fmix32(d ^ fmix32(c ^ fmix32(b ^ fmix32(a ^ h1 ^ 0x7f4a7c15))));
  return V6_BASE + (h2 & 0xfffff) * TWO32 + h1;
}

export function isIpv6Key(key: IpKey): boolean {
  return key >= V6_BASE;
}

/** Printable form for explain/admin output: dotted quad, or `v6/<13 hex digits>` (a hash, not reversible). */
export function formatIpKey(key: IpKey): string {
  if (!isIpv6Key(key)) {
    return `${key >>> 24}.${(key >>> 16) & 255}.${(key >>> 8) & 255}.${key & 255}`;
  }
  return `v6/${(key - V6_BASE).toString(16).padStart(13, '0')}`;
}

/** IPv6 clients are tracked per /64 (one subscriber's allocation): the one place this prefix is set. */
export const IPV6_TRACKING_PREFIX = 64;


const NET_V6_PREFIX = 48;

/**
 * Key of the network a client is in, for the per-network aggregates: the IPv4 /24 (address >>> 8, in
 * [0, 2^24)) or the IPv6 /48 (keyed like ipKey with prefix 48, in [2^52, 2^53)). IPv4-mapped IPv6 is IPv4.
 */
export function networkKey(family: 4 | 6, w0: number, w1: number, w2: number, w3: number): number {
  if (family === 4) return w0 >>> 8;
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return w3 >>> 8;
  return ipKey(6, w0, w1, w2, w3, NET_V6_PREFIX);
}
