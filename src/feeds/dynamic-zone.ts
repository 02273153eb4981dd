// Okta-style dynamic zone matching: every criterion the zone specifies must match;
// within a list any one entry is enough. Pure: facts come from GeoDatabases.lookup().
import type { GeoDbKind, GeoFacts } from './geo.ts';

export type ProxyType = 'Any' | 'Tor' | 'NotTorAnonymizer';

export interface ZoneLocation {
  /** ISO 3166-1 alpha-2, e.g. 'US'. */
  country: string;
  /** ISO 3166-2, 'US-CA' (a bare 'CA' is read as within `country`). */
  region?: string;
}

export interface DynamicZoneCriteria {
  proxyType?: ProxyType;
  locations?: ZoneLocation[];
  asns?: number[];
}

/**
 * isTorExit: membership in a Tor exit-list feed; the anonymous-IP database's Tor flag also counts.
 * A zone with no criteria matches nothing (an empty blocklist zone must not block everyone).
 * Unknown facts (database not loaded) never match: report missing databases via requiredDatabases().
 */
export function matchesDynamicZone(zone: DynamicZoneCriteria, facts: GeoFacts, isTorExit: boolean): boolean {
  let specified = false;

  if (zone.proxyType !== undefined) {
    specified = true;
    const tor = isTorExit || facts.anonymous?.tor === true;
    const anonymizer = tor || facts.anonymous?.any === true;
    const ok = zone.proxyType === 'Tor' ? tor : zone.proxyType === 'Any' ? anonymizer : anonymizer && !tor;
    if (!ok) return false;
  }

  if (zone.locations !== undefined && zone.locations.length > 0) {
    specified = true;
    if (!zone.locations.some((loc) => locationMatches(loc, facts))) return false;
  }

  if (zone.asns !== undefined && zone.asns.length > 0) {
    specified = true;
    if (facts.asn === undefined || !zone.asns.includes(facts.asn)) return false;
  }

  return specified;
}

function locationMatches(loc: ZoneLocation, facts: GeoFacts): boolean {
  if (facts.country === undefined) return false;
  const country = loc.country.toUpperCase();
  if (facts.country.toUpperCase() !== country) return false;
  if (loc.region === undefined || loc.region === '') return true;
  const region = loc.region.toUpperCase();
  const wanted = region.includes('-') ? region : `${country}-${region}`;
  return facts.subdivisions?.some((s) => s.toUpperCase() === wanted) ?? false;
}

/**
 * Databases a zone needs, for status reporting. Tor can be answered by a Tor exit feed
 * alone, so 'anonymous' is listed for Tor only when the caller has no such feed.
 */
export function requiredDatabases(zone: DynamicZoneCriteria, hasTorFeed: boolean): GeoDbKind[] {
  const out: GeoDbKind[] = [];
  if (zone.proxyType !== undefined && !(zone.proxyType === 'Tor' && hasTorFeed)) out.push('anonymous');
  if (zone.locations !== undefined && zone.locations.length > 0) out.push('country');
  if (zone.asns !== undefined && zone.asns.length > 0) out.push('asn');
  return out;
}
