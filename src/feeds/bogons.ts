// Guard rail: a feed that lists private/bogon space, or space covering our own proxies,
// would block our own hops (FireHOL level1 ships 10.0.0.0/8). Flag those entries so the
// caller can warn loudly; decide() already never blocks a trusted proxy.
import { compareAddress, parseRange, type AddressRange } from '../net/address.ts';
import { parsePrefix } from './prefix.ts';

export type OverlapKind = 'private' | 'bogon' | 'protected';
export const OVERLAP_KINDS: readonly OverlapKind[] = ['private', 'bogon', 'protected'];

export interface SensitiveOverlap {
  entry: string;
  overlaps: string;
  kind: OverlapKind;
}

// 'private': space that may be your own infrastructure. 'bogon': never a real client.
const SPECIAL: readonly [string, Exclude<OverlapKind, 'protected'>][] = [
  ['10.0.0.0/8', 'private'],
  ['172.16.0.0/12', 'private'],
  ['192.168.0.0/16', 'private'],
  ['100.64.0.0/10', 'private'], // CGNAT (RFC 6598)
  ['127.0.0.0/8', 'private'], // loopback
  ['169.254.0.0/16', 'private'], // link-local
  ['fc00::/7', 'private'], // unique local
  ['::1/128', 'private'],
  ['fe80::/10', 'private'],
  ['0.0.0.0/8', 'bogon'],
  ['192.0.0.0/24', 'bogon'], // IETF protocol assignments
  ['192.0.2.0/24', 'bogon'], // TEST-NET-1
  ['198.18.0.0/15', 'bogon'], // benchmarking
  ['198.51.100.0/24', 'bogon'], // TEST-NET-2
  ['203.0.113.0/24', 'bogon'], // TEST-NET-3
  ['224.0.0.0/4', 'bogon'], // multicast
  ['240.0.0.0/4', 'bogon'], // reserved + broadcast
  ['::/128', 'bogon'],
  ['100::/64', 'bogon'], // discard-only
  ['2001:db8::/32', 'bogon'], // documentation
  ['ff00::/8', 'bogon'], // multicast
];

/** A range to check against, with the text reported when it overlaps. */
export interface LabelledRange {
  readonly range: AddressRange;
  readonly label: string;
}

function special(): LabelledRange[] {
  return SPECIAL.map(([cidr]) => {
    const r = parsePrefix(cidr);
    if (!r.ok) throw new Error(`bad built-in range ${cidr}`);
    return { range: r.prefix.range, label: cidr };
  });
}
const SPECIAL_RANGES = special();

/** Either contains the other, or they share any address. */
export function rangesOverlap(a: AddressRange, b: AddressRange): boolean {
  return a.family === b.family && compareAddress(a.start, b.end) <= 0 && compareAddress(b.start, a.end) <= 0;
}

/**
 * Calls fn for every (entry, range) overlap: protected ranges first, then the built-in ones, per entry.
 * O(entries x ranges): 100k entries against ~25 ranges is a few tens of ms, off the request path.
 */
export function forEachSensitiveOverlap(
  entries: readonly AddressRange[],
  protectedRanges: readonly LabelledRange[],
  fn: (entry: AddressRange, overlaps: string, kind: OverlapKind) => void,
): void {
  for (const entry of entries) {
    for (const p of protectedRanges) if (rangesOverlap(entry, p.range)) fn(entry, p.label, 'protected');
    for (let i = 0; i < SPECIAL_RANGES.length; i++) {
      if (rangesOverlap(entry, SPECIAL_RANGES[i]!.range)) fn(entry, SPECIAL_RANGES[i]!.label, SPECIAL[i]![1]);
    }
  }
}

/**
 * Entries overlapping a protected range (IP, CIDR or "a-b", as in zone lists) or a private/bogon range.
 * One result per (entry, range) pair. Unparseable entries are skipped: the format parsers already reported
 * them. Throws RangeError for an invalid protected range: dropping it silently would switch the guard off.
 */
export function findSensitiveOverlaps(entries: string[], protectedCidrs: string[]): SensitiveOverlap[] {
  const prot = protectedCidrs.map((text) => {
    const r = parseRange(text);
    if ('error' in r) throw new RangeError(`invalid protected CIDR ${JSON.stringify(text)}: ${r.error}`);
    return { range: r, label: text.trim() };
  });
  const ranges: AddressRange[] = [];
  const texts = new Map<AddressRange, string>();
  for (const entry of entries) {
    const r = parsePrefix(entry.trim());
    if (!r.ok) continue;
    ranges.push(r.prefix.range);
    texts.set(r.prefix.range, entry);
  }
  const out: SensitiveOverlap[] = [];
  forEachSensitiveOverlap(ranges, prot, (e, overlaps, kind) => out.push({ entry: texts.get(e)!, overlaps, kind }));
  return out;
}
