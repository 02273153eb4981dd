// Guard rail: a feed that lists private/bogon space, or space covering our own proxies,
// would block our own hops (FireHOL level1 ships 10.0.0.0/8). Flag those entries so the
// caller can warn and keep trusted proxies out of the block set.
import { overlaps, parsePrefix, type Prefix } from './prefix.ts';

export type OverlapKind = 'private' | 'bogon' | 'protected';

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

function mustParse(text: string, what: string): Prefix {
  const r = parsePrefix(text.trim());
  // Protected ranges come from validated config: a bad one is a bug, and silently
  // dropping it would switch the guard rail off.
  if (!r.ok) throw new RangeError(`invalid ${what} ${JSON.stringify(text)}: ${r.reason}`);
  return r.prefix;
}

const SPECIAL_PREFIXES = SPECIAL.map(([cidr, kind]) => ({ prefix: mustParse(cidr, 'special range'), kind }));

/**
 * Entries overlapping a protected range (either containing it or inside it) or a
 * private/bogon range. One result per (entry, range) pair; protected ones first per entry.
 * Unparseable entries are skipped: the format parsers already reported them.
 * O(entries x ranges); throws RangeError only for an invalid protected CIDR.
 */
export function findSensitiveOverlaps(entries: string[], protectedCidrs: string[]): SensitiveOverlap[] {
  const protectedPrefixes = protectedCidrs.map((c) => ({ prefix: mustParse(c, 'protected CIDR'), text: c.trim() }));
  const out: SensitiveOverlap[] = [];
  for (const entry of entries) {
    const r = parsePrefix(entry.trim());
    if (!r.ok) continue;
    for (const p of protectedPrefixes) {
      if (overlaps(r.prefix, p.prefix)) out.push({ entry, overlaps: p.text, kind: 'protected' });
    }
    for (const s of SPECIAL_PREFIXES) {
      if (overlaps(r.prefix, s.prefix)) out.push({ entry, overlaps: s.prefix.text, kind: s.kind });
    }
  }
  return out;
}
