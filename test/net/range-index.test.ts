import { describe, expect, it } from 'vitest';
import { mixedQueries, prng, randomV4Cidrs } from '../../bench/net-fixtures.ts';
import { addressFromV4, addressFromWords, parseAddress, parseRange, type Address, type AddressRange } from '../../src/net/address.ts';
import { RangeIndex } from '../../src/net/range-index.ts';

function range(entry: string): AddressRange {
  const r = parseRange(entry);
  if ('error' in r) throw new Error(r.error);
  return r;
}

function index<T>(pairs: [string, T][]): RangeIndex<T> {
  return RangeIndex.build(pairs.map(([entry, value]) => ({ range: range(entry), value })));
}

const ip = (text: string): Address => parseAddress(text)!;

/** IPv6 as a bigint, for the brute-force reference. */
function big(a: Address): bigint {
  return (BigInt(a.w0) << 96n) | (BigInt(a.w1) << 64n) | (BigInt(a.w2) << 32n) | BigInt(a.w3);
}
function fromBig(v: bigint): Address {
  const w = (shift: bigint) => Number((v >> shift) & 0xffffffffn);
  return addressFromWords(w(96n), w(64n), w(32n), w(0n));
}
function contains(r: AddressRange, a: Address): boolean {
  if (r.family !== a.family) return false;
  if (a.family === 4) return r.start.w0 <= a.w0 && a.w0 <= r.end.w0;
  const x = big(a);
  return big(r.start) <= x && x <= big(r.end);
}

/** The reference: scan every entry; covering values listed in order of first appearance among all entries. */
function bruteForce<T>(entries: { range: AddressRange; value: T }[]): (a: Address) => T[] {
  const firstSeen = new Map<T, number>();
  entries.forEach((e, i) => firstSeen.has(e.value) || firstSeen.set(e.value, i));
  return (a) => {
    const out = new Set<T>();
    for (const { range: r, value } of entries) if (contains(r, a)) out.add(value);
    return [...out].sort((x, y) => firstSeen.get(x)! - firstSeen.get(y)!);
  };
}

describe('RangeIndex', () => {
  it('an empty index returns one shared frozen empty array', () => {
    const idx = RangeIndex.build<string>([]);
    const a = idx.lookup(ip('10.0.0.1'));
    expect(a).toEqual([]);
    expect(Object.isFrozen(a)).toBe(true);
    expect(idx.lookup(ip('::1'))).toBe(a);
    expect(idx.segmentCount).toBe(0);
  });

  it('finds nested ranges and their boundaries', () => {
    const idx = index([
      ['10.0.0.0/8', 'A'],
      ['10.1.2.0/24', 'B'],
    ]);
    expect(idx.lookup(ip('10.1.2.3'))).toEqual(['A', 'B']);
    expect(idx.lookup(ip('10.1.2.0'))).toEqual(['A', 'B']);
    expect(idx.lookup(ip('10.1.2.255'))).toEqual(['A', 'B']);
    expect(idx.lookup(ip('10.1.3.0'))).toEqual(['A']);
    expect(idx.lookup(ip('10.0.0.0'))).toEqual(['A']);
    expect(idx.lookup(ip('10.255.255.255'))).toEqual(['A']);
    expect(idx.lookup(ip('9.255.255.255'))).toEqual([]);
    expect(idx.lookup(ip('11.0.0.0'))).toEqual([]);
    expect(idx.segmentCount).toBe(3);
  });

  it('interns identical covering sets as one frozen array', () => {
    const idx = index([
      ['10.0.0.0/8', 'A'],
      ['10.1.2.0/24', 'B'],
      ['10.9.0.0/16', 'B'],
    ]);
    const low = idx.lookup(ip('10.0.0.1'));
    expect(idx.lookup(ip('10.200.0.0'))).toBe(low);
    expect(idx.lookup(ip('10.1.2.3'))).toBe(idx.lookup(ip('10.9.9.9')));
    expect(Object.isFrozen(low)).toBe(true);
  });

  it('deduplicates values and lists them in order of first appearance', () => {
    const idx = index([
      ['192.0.2.0/24', 'late'],
      ['10.0.0.0/8', 'A'],
      ['10.0.0.0/8', 'A'],
      ['10.0.0.0/16', 'A'],
      ['10.0.0.0/24', 'late'],
    ]);
    expect(idx.lookup(ip('10.0.0.1'))).toEqual(['late', 'A']);
    expect(idx.lookup(ip('10.0.1.1'))).toEqual(['A']);
  });

  it('handles a range overlapping two CIDRs', () => {
    const idx = index([
      ['10.0.0.0/24', 'A'],
      ['10.0.1.0/24', 'B'],
      ['10.0.0.128-10.0.1.127', 'C'],
    ]);
    expect(idx.lookup(ip('10.0.0.127'))).toEqual(['A']);
    expect(idx.lookup(ip('10.0.0.128'))).toEqual(['A', 'C']);
    expect(idx.lookup(ip('10.0.1.127'))).toEqual(['B', 'C']);
    expect(idx.lookup(ip('10.0.1.128'))).toEqual(['B']);
  });

  it('merges adjacent ranges with the same values into one segment', () => {
    const idx = index([
      ['10.0.0.0/25', 'A'],
      ['10.0.0.128/25', 'A'],
      ['10.0.1.0-10.0.1.9', 'A'],
    ]);
    expect(idx.segmentCount).toBe(1);
    expect(idx.lookup(ip('10.0.1.9'))).toEqual(['A']);
    expect(idx.lookup(ip('10.0.1.10'))).toEqual([]);
  });

  it('covers the full spaces 0.0.0.0/0 and ::/0, each for its own family only', () => {
    const v4 = index([['0.0.0.0/0', 'all4']]);
    expect(v4.lookup(ip('0.0.0.0'))).toEqual(['all4']);
    expect(v4.lookup(ip('255.255.255.255'))).toEqual(['all4']);
    expect(v4.lookup(ip('::'))).toEqual([]);
    const both = index([
      ['::/0', 'all6'],
      ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120', 'top'],
      ['0.0.0.0/0', 'all4'],
      ['255.255.255.255', 'top4'],
    ]);
    expect(both.lookup(ip('::'))).toEqual(['all6']);
    expect(both.lookup(ip('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'))).toEqual(['all6', 'top']);
    expect(both.lookup(ip('255.255.255.255'))).toEqual(['all4', 'top4']);
    expect(both.lookup(ip('::ffff:1.2.3.4'))).toEqual(['all4']); // mapped addresses are IPv4
  });

  it('matches IPv6 ranges across 32-bit word boundaries', () => {
    const idx = index([['2001:db8::ffff:fff0-2001:db8::1:0:f', 'X']]);
    expect(idx.lookup(ip('2001:db8::ffff:ffef'))).toEqual([]);
    expect(idx.lookup(ip('2001:db8::ffff:ffff'))).toEqual(['X']);
    expect(idx.lookup(ip('2001:db8::1:0:0'))).toEqual(['X']);
    expect(idx.lookup(ip('2001:db8::1:0:10'))).toEqual([]);
  });

  // Sizes on both sides of the radix-sort threshold (1024 events).
  it.each([
    [1, 300],
    [2, 300],
    [3, 300],
    [4, 1500],
    [5, 1500],
  ])('agrees with brute force on heavily overlapping random IPv4 ranges (seed %i, %i ranges)', (seed, size) => {
    const rand = prng(seed);
    const base = 0x0a000000;
    const span = 1 << 16; // everything inside 10.0.0.0/16, so ranges overlap heavily
    const entries: { range: AddressRange; value: string }[] = [];
    for (let i = 0; i < size; i++) {
      const value = `v${rand() % 25}`;
      const kind = rand() % 10;
      if (kind === 0) {
        entries.push({ range: range(['0.0.0.0/0', '10.0.0.0/8', '10.0.0.0/16'][rand() % 3]!), value });
      } else if (kind < 6) {
        const len = 16 + (rand() % 17);
        const size = 2 ** (32 - len);
        const start = base + Math.floor((rand() % span) / size) * size;
        entries.push({ range: range(`${addressFromV4(start).text}/${len}`), value });
      } else {
        const a = base + (rand() % span);
        const b = Math.min(base + span - 1, a + (rand() % (rand() % 2 ? 64 : 4096)));
        entries.push({ range: range(`${addressFromV4(a).text}-${addressFromV4(b).text}`), value });
      }
    }
    entries.push(entries[7]!, entries[8]!); // exact duplicates
    const idx = RangeIndex.build(entries);
    const expected = bruteForce(entries);
    const probes = new Set<number>([0, 0xffffffff, base - 1, base + span]);
    for (const { range: r } of entries) for (const d of [-1, 0, 1]) probes.add((r.start.w0 + d) >>> 0).add((r.end.w0 + d) >>> 0);
    for (let i = 0; i < 500; i++) probes.add(base + (rand() % span));
    let hits = 0;
    for (const p of probes) {
      const a = addressFromV4(p);
      expect(idx.lookup(a), a.text).toEqual(expected(a));
      if (idx.lookup(a).length > 1) hits++;
    }
    expect(hits).toBeGreaterThan(100); // the probes do exercise overlaps
  });

  it.each([
    [1, 300],
    [2, 300],
    [3, 1500],
  ])('agrees with brute force on heavily overlapping random IPv6 ranges (seed %i, %i ranges)', (seed, size) => {
    const rand = prng(seed);
    const r64 = () => (BigInt(rand()) << 32n) | BigInt(rand());
    // A 2^40 window straddling a carry between w2 and w3.
    const base = (0x20010db8n << 96n) + (0xffffffffn << 32n) - (1n << 39n);
    const span = 1n << 40n;
    const entries: { range: AddressRange; value: number }[] = [];
    for (let i = 0; i < size; i++) {
      const value = rand() % 25;
      const kind = rand() % 10;
      if (kind === 0) {
        entries.push({ range: range(['::/0', '2001:db8::/32', '2000::/3'][rand() % 3]!), value });
      } else if (kind < 6) {
        const len = 88 + (rand() % 41);
        const size = 1n << BigInt(128 - len);
        const start = ((base + (r64() % span)) / size) * size;
        entries.push({ range: range(`${fromBig(start).text}/${len}`), value });
      } else {
        const a = base + (r64() % span);
        const b = a + (r64() % (rand() % 2 ? 1n << 36n : 300n));
        entries.push({ range: range(`${fromBig(a).text}-${fromBig(b).text}`), value });
      }
    }
    const idx = RangeIndex.build(entries);
    const expected = bruteForce(entries);
    const probes: bigint[] = [0n, (1n << 128n) - 1n, base - 1n, base + span];
    for (const { range: r } of entries) for (const d of [-1n, 0n, 1n]) probes.push(big(r.start) + d, big(r.end) + d);
    for (let i = 0; i < 500; i++) probes.push(base + (r64() % span));
    let hits = 0;
    for (const p of probes.filter((_, i) => i % Math.ceil(probes.length / 2500) === 0)) {
      const a = fromBig(((p % (1n << 128n)) + (1n << 128n)) % (1n << 128n));
      if (a.family === 4) continue; // values in ::ffff:0:0/96 are IPv4 by definition
      expect(idx.lookup(a), a.text).toEqual(expected(a));
      if (idx.lookup(a).length > 1) hits++;
    }
    expect(hits).toBeGreaterThan(100);
  });

  it('agrees with brute force on 5000 blocklist-shaped CIDRs, distinct values', () => {
    const rand = prng(99);
    const ranges = randomV4Cidrs(5000, rand);
    const entries = ranges.map((r, i) => ({ range: r, value: i }));
    const idx = RangeIndex.build(entries);
    const expected = bruteForce(entries);
    for (const a of mixedQueries(ranges, 2000, rand)) expect(idx.lookup(a), a.text).toEqual(expected(a));
  });
});

describe('IPv6 CIDRs that span the IPv4-mapped block', () => {
  it('"::/80" stays an IPv6 range and does not cover other IPv6 addresses or IPv4', () => {
    const r = parseRange('::/80');
    if ('error' in r) throw new Error(r.error);
    expect(r.end.family).toBe(6);
    const index = RangeIndex.build([{ range: r, value: 'z' }]);
    expect(index.lookup(parseAddress('2001:db8::1')!)).toEqual([]);
    expect(index.lookup(parseAddress('::1')!)).toEqual(['z']);
    expect(index.lookup(parseAddress('1.2.3.4')!)).toEqual([]);
  });
});

describe('RangeIndex across threads (toParts / fromParts)', () => {
  it('survives a structured clone with its arrays transferred: same answers, frozen sets, arrays moved not copied', () => {
    const rand = prng(7);
    const ranges = [...randomV4Cidrs(2000, rand), range('2001:db8::/32'), range('2001:db8:1::/48'), range('::ffff:0:0/96')];
    const entries = ranges.map((r, i) => ({ range: r, value: { zone: `z${i % 5}`, role: i % 3 === 0 ? 'proxy' : 'gateway' } }));
    const original = RangeIndex.build(entries);
    const parts = original.toParts();
    const transfer = RangeIndex.transferList(parts);
    expect(transfer.length).toBe(8);
    const copy = RangeIndex.fromParts(structuredClone(parts, { transfer }));
    expect(transfer.every((b) => b.byteLength === 0)).toBe(true); // detached here: moved to the clone

    const reference = bruteForce(entries);
    for (const q of [...mixedQueries(ranges, 3000, rand), ip('2001:db8:1::5'), ip('2001:db9::1'), ip('::ffff:10.0.0.1')]) {
      const got = copy.lookup(q);
      expect(got.map((v) => `${v.zone}/${v.role}`)).toEqual(reference(q).map((v) => `${v.zone}/${v.role}`));
      expect(Object.isFrozen(got)).toBe(true);
    }
    expect(copy.segmentCount).toBe(original.segmentCount);
  });
});
