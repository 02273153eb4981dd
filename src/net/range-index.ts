import type { Address, AddressRange } from './address.ts';

const EMPTY: readonly never[] = Object.freeze([]);
const MAX = 0xffffffff;
/** Event indices packed below the key in one float64 for a comparator-free IPv4 sort (2^32 * 2^21 = 2^53). */
const PACK = 2 ** 21;

/**
 * Disjoint sorted segments of one family; keys are `stride` big-endian words (1 for IPv4, 4 for IPv6).
 * A bucket table over the first word narrows the binary search to a few segments: bucket b covers an
 * equal slice of [lo, hi] (the first words of the first start and last end) and table[b] is the first
 * segment starting in bucket >= b. Skewed data just means longer searches inside a bucket.
 */
interface Segments {
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly sets: Int32Array;
  readonly count: number;
  readonly lo: number;
  readonly hi: number;
  readonly scale: number;
  readonly buckets: number;
  readonly table: Int32Array;
}

const MAX_BUCKETS = 65536;

function withTable(starts: Uint32Array, ends: Uint32Array, sets: Int32Array, count: number, stride: number): Segments {
  const lo = count > 0 ? starts[0]! : 0;
  const hi = count > 0 ? ends[(count - 1) * stride]! : 0;
  const buckets = Math.min(MAX_BUCKETS, Math.max(1, count));
  const scale = buckets / (hi - lo + 1);
  const table = new Int32Array(buckets + 1);
  let b = 0;
  for (let i = 0; i < count; i++) {
    const bi = Math.min(buckets - 1, Math.floor((starts[i * stride]! - lo) * scale));
    while (b <= bi) table[b++] = i;
  }
  while (b <= buckets) table[b++] = count;
  return { starts, ends, sets, count, lo, hi, scale, buckets, table };
}

/** Ranges of one family collected before the sweep. */
class Pending {
  readonly starts: number[] = [];
  readonly ends: number[] = [];
  readonly ids: number[] = [];
  constructor(readonly stride: 1 | 4) {}

  add(range: AddressRange, id: number): void {
    const { start, end } = range;
    if (this.stride === 1) {
      this.starts.push(start.w0);
      this.ends.push(end.w0);
    } else {
      this.starts.push(start.w0, start.w1, start.w2, start.w3);
      this.ends.push(end.w0, end.w1, end.w2, end.w3);
    }
    this.ids.push(id);
  }
}

function compareKeys(keys: Uint32Array, a: number, b: number, stride: number): number {
  for (let w = 0; w < stride; w++) {
    const x = keys[a + w]!;
    const y = keys[b + w]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Sorted order of the events by key. IPv4 packs key and index into a float64 and sorts natively. */
function sortEvents(keys: Uint32Array, m: number, stride: number): Uint32Array {
  const order = new Uint32Array(m);
  if (stride === 1 && m < PACK) {
    const packed = new Float64Array(m);
    for (let e = 0; e < m; e++) packed[e] = keys[e]! * PACK + e;
    packed.sort();
    for (let e = 0; e < m; e++) order[e] = packed[e]! % PACK;
    return order;
  }
  for (let e = 0; e < m; e++) order[e] = e;
  return order.sort((a, b) => compareKeys(keys, a * stride, b * stride, stride));
}

/**
 * Sweep: every range contributes +value at its start and -value just past its end (none when it reaches
 * the top of the space). Between consecutive event keys the covering set is constant; adjacent segments
 * with the same interned set are merged, gaps produce no segment.
 */
function sweep(p: Pending, valueCount: number, intern: (active: readonly number[]) => number): Segments {
  const { stride } = p;
  const n = p.ids.length;
  const keys = new Uint32Array(2 * n * stride);
  const deltas = new Int32Array(2 * n);
  let m = 0;
  for (let r = 0; r < n; r++) {
    const base = r * stride;
    for (let w = 0; w < stride; w++) keys[m * stride + w] = p.starts[base + w]!;
    deltas[m++] = p.ids[r]! + 1;
    // end + 1 with carry; a range ending at the top of the space never closes.
    let carry = 1;
    for (let w = stride - 1; w >= 0; w--) {
      const v = p.ends[base + w]! + carry;
      carry = v > MAX ? 1 : 0;
      keys[m * stride + w] = v;
    }
    if (carry === 0) deltas[m++] = -(p.ids[r]! + 1);
  }
  const order = sortEvents(keys, m, stride);

  const starts = new Uint32Array(m * stride);
  const ends = new Uint32Array(m * stride);
  const sets = new Int32Array(m);
  const counts = new Int32Array(valueCount);
  const active: number[] = [];
  let count = 0;
  let extendable = false;
  for (let k = 0; k < m; ) {
    const groupKey = order[k]! * stride;
    let j = k;
    for (; j < m && (stride === 1 ? keys[order[j]!] === keys[groupKey] : compareKeys(keys, order[j]! * stride, groupKey, stride) === 0); j++) {
      const d = deltas[order[j]!]!;
      const id = Math.abs(d) - 1;
      const before = counts[id]!;
      counts[id] = before + (d > 0 ? 1 : -1);
      if (d > 0 && before === 0) insertSorted(active, id);
      else if (d < 0 && before === 1) active.splice(active.indexOf(id), 1);
    }
    if (active.length === 0) {
      extendable = false;
    } else {
      const set = intern(active);
      if (!extendable || sets[count - 1] !== set) {
        for (let w = 0; w < stride; w++) starts[count * stride + w] = keys[groupKey + w]!;
        sets[count++] = set;
      }
      // This segment ends just before the next event key, or at the top of the space.
      const at = (count - 1) * stride;
      if (j < m) {
        const next = order[j]! * stride;
        let borrow = 1;
        for (let w = stride - 1; w >= 0; w--) {
          const v = keys[next + w]! - borrow;
          borrow = v < 0 ? 1 : 0;
          ends[at + w] = v; // Uint32Array wraps -1 to MAX
        }
      } else {
        ends.fill(MAX, at, at + stride);
      }
      extendable = true;
    }
    k = j;
  }
  return withTable(starts.slice(0, count * stride), ends.slice(0, count * stride), sets.slice(0, count), count, stride);
}

function insertSorted(list: number[], id: number): void {
  let i = list.length;
  while (i > 0 && list[i - 1]! > id) i--;
  list.splice(i, 0, id);
}

/**
 * Immutable index from address to the set of values whose ranges contain it. Overlapping ranges are
 * allowed: build() sweeps them into disjoint segments, each carrying the (deduplicated, interned) array of
 * covering values. Values are deduplicated by identity (SameValueZero) and listed in order of first
 * appearance in the entries. IPv6 ranges never match IPv4 addresses (mapped addresses parse as IPv4).
 */
export class RangeIndex<T> {
  readonly segmentCount: number;

  private constructor(
    private readonly v4: Segments,
    private readonly v6: Segments,
    private readonly sets: readonly (readonly T[])[],
  ) {
    this.segmentCount = v4.count + v6.count;
  }

  static build<T>(entries: Iterable<{ range: AddressRange; value: T }>): RangeIndex<T> {
    const ids = new Map<T, number>();
    const values: T[] = [];
    const v4 = new Pending(1);
    const v6 = new Pending(4);
    for (const { range, value } of entries) {
      let id = ids.get(value);
      if (id === undefined) {
        id = values.length;
        ids.set(value, id);
        values.push(value);
      }
      (range.family === 4 ? v4 : v6).add(range, id);
    }
    // Interning: identical covering sets share one frozen array, so lookups never allocate.
    const sets: (readonly T[])[] = [];
    const single = new Int32Array(values.length).fill(-1);
    const multi = new Map<string, number>();
    const intern = (active: readonly number[]): number => {
      if (active.length === 1) {
        const id = active[0]!;
        if (single[id]! < 0) {
          single[id] = sets.length;
          sets.push(Object.freeze([values[id]!]));
        }
        return single[id]!;
      }
      const key = active.join(',');
      let set = multi.get(key);
      if (set === undefined) {
        set = sets.length;
        multi.set(key, set);
        sets.push(Object.freeze(active.map((id) => values[id]!)));
      }
      return set;
    };
    return new RangeIndex<T>(sweep(v4, values.length, intern), sweep(v6, values.length, intern), sets);
  }

  /** Values covering `a`; returns a shared frozen empty array when none (no allocation per lookup). */
  lookup(a: Address): readonly T[] {
    if (a.family !== 4) return this.lookup6(a);
    const { starts, ends, sets, lo: first, hi: last, scale, buckets, table } = this.v4;
    const x = a.w0;
    if (x < first || x > last) return EMPTY;
    const b = Math.min(buckets - 1, Math.floor((x - first) * scale));
    // Last segment whose start <= x: it is in this bucket, or else the one just before it.
    let lo = table[b]!;
    let hi = table[b + 1]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid]! <= x) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && ends[hi]! >= x ? this.sets[sets[hi]!]! : EMPTY;
  }

  private lookup6(a: Address): readonly T[] {
    const { starts, ends, sets, lo: first, hi: last, scale, buckets, table } = this.v6;
    const x = a.w0;
    if (x < first || x > last) return EMPTY;
    const b = Math.min(buckets - 1, Math.floor((x - first) * scale));
    let lo = table[b]!;
    let hi = table[b + 1]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (compareWords(starts, mid * 4, a) <= 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && compareWords(ends, hi * 4, a) >= 0 ? this.sets[sets[hi]!]! : EMPTY;
  }
}

/** Sign of key(at) - a over four words. */
function compareWords(keys: Uint32Array, at: number, a: Address): number {
  let x = keys[at]!;
  if (x !== a.w0) return x < a.w0 ? -1 : 1;
  x = keys[at + 1]!;
  if (x !== a.w1) return x < a.w1 ? -1 : 1;
  x = keys[at + 2]!;
  if (x !== a.w2) return x < a.w2 ? -1 : 1;
  x = keys[at + 3]!;
  return x === a.w3 ? 0 : x < a.w3 ? -1 : 1;
}
