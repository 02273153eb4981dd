// Seeded data for the src/net benchmarks and tests, shared so both exercise the same shapes of input.
import { addressFromV4, addressFromWords, parseRange, type Address, type AddressRange } from '../src/net/address.ts';

/** mulberry32: tiny, fast, good enough for test data; the same seed gives the same run. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function mustRange(text: string): AddressRange {
  const r = parseRange(text);
  if ('error' in r) throw new Error(r.error);
  return r;
}

/** Host-bit mask of a prefix inside one 32-bit word. */
function wordMask(len: number): number {
  return len <= 0 ? 0 : len >= 32 ? 0xffffffff : (0xffffffff << (32 - len)) >>> 0;
}

/** IPv4 CIDRs shaped like blocklists: 30% /32, 40% /24, the rest /16-/23. */
export function randomV4Cidrs(count: number, rand: () => number): AddressRange[] {
  const out: AddressRange[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand() % 100;
    const len = r < 30 ? 32 : r < 70 ? 24 : 16 + (rand() % 8);
    const base = (rand() & wordMask(len)) >>> 0;
    out.push(mustRange(`${addressFromV4(base).text}/${len}`));
  }
  return out;
}

/** IPv6 CIDRs /32-/64 (plus some /128) under 2000::/4, i.e. in global unicast space. */
export function randomV6Cidrs(count: number, rand: () => number): AddressRange[] {
  const out: AddressRange[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand() % 100;
    const len = r < 10 ? 128 : 32 + (rand() % 33);
    const w0 = ((0x20000000 | (rand() & 0x0fffffff)) & wordMask(len)) >>> 0;
    const w1 = (rand() & wordMask(len - 32)) >>> 0;
    const w2 = (rand() & wordMask(len - 64)) >>> 0;
    const w3 = (rand() & wordMask(len - 96)) >>> 0;
    out.push(mustRange(`${addressFromWords(w0, w1, w2, w3).text}/${len}`));
  }
  return out;
}

/** A random address inside a range (IPv4: uniform; IPv6: uniform in the last differing word). */
export function addressInside(range: AddressRange, rand: () => number): Address {
  const { start, end } = range;
  if (range.family === 4) return addressFromV4(start.w0 + (rand() % (end.w0 - start.w0 + 1)));
  const pick = (a: number, b: number): number => (a === b ? a : a + (rand() % (b - a + 1)));
  return addressFromWords(pick(start.w0, end.w0), pick(start.w1, end.w1), pick(start.w2, end.w2), pick(start.w3, end.w3));
}

/** Half hits (inside a random range), half uniformly random addresses of the same family (mostly misses). */
export function mixedQueries(ranges: readonly AddressRange[], count: number, rand: () => number): Address[] {
  const out: Address[] = [];
  const family = ranges[0]?.family ?? 4;
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0 && ranges.length > 0) out.push(addressInside(ranges[rand() % ranges.length]!, rand));
    else if (family === 4) out.push(addressFromV4(rand()));
    else out.push(addressFromWords(0x20000000 | (rand() & 0x0fffffff), rand(), rand(), rand()));
  }
  return out;
}
