import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchesDynamicZone, requiredDatabases, type DynamicZoneCriteria } from '../../src/feeds/dynamic-zone.ts';
import { GeoDatabases, type AnonymousFacts, type GeoFacts } from '../../src/feeds/geo.ts';

const none: AnonymousFacts = { any: false, vpn: false, hosting: false, publicProxy: false, tor: false, residentialProxy: false };
const vpn: GeoFacts = { anonymous: { ...none, any: true, vpn: true } };
const torByDb: GeoFacts = { anonymous: { ...none, any: true, tor: true } };
const clean: GeoFacts = { country: 'US', subdivisions: ['US-WA'], asn: 7018, anonymous: none };

describe('matchesDynamicZone (pure)', () => {
  it.each([
    // proxyType                  facts     isTorExit  expected
    ['Any', vpn, false, true],
    ['Any', torByDb, false, true],
    ['Any', clean, true, true], // Tor per feed counts as an anonymizer
    ['Any', clean, false, false],
    ['Tor', torByDb, false, true],
    ['Tor', clean, true, true],
    ['Tor', {}, true, true], // no anonymous database: the feed alone decides
    ['Tor', vpn, false, false],
    ['NotTorAnonymizer', vpn, false, true],
    ['NotTorAnonymizer', torByDb, false, false],
    ['NotTorAnonymizer', vpn, true, false], // VPN flag but on the Tor exit list: it's Tor
    ['NotTorAnonymizer', clean, false, false],
    ['Any', {}, false, false], // unknown is not a match
  ] as const)('proxyType %s', (proxyType, facts, isTorExit, expected) => {
    expect(matchesDynamicZone({ proxyType }, facts, isTorExit)).toBe(expected);
  });

  it('locations: any entry; country alone or with an ISO 3166-2 region (full or bare code)', () => {
    const zone = (locations: DynamicZoneCriteria['locations']): DynamicZoneCriteria => ({ locations });
    expect(matchesDynamicZone(zone([{ country: 'US' }]), clean, false)).toBe(true);
    expect(matchesDynamicZone(zone([{ country: 'us' }]), clean, false)).toBe(true);
    expect(matchesDynamicZone(zone([{ country: 'GB' }, { country: 'US', region: 'US-WA' }]), clean, false)).toBe(true);
    expect(matchesDynamicZone(zone([{ country: 'US', region: 'WA' }]), clean, false)).toBe(true);
    expect(matchesDynamicZone(zone([{ country: 'US', region: 'US-CA' }]), clean, false)).toBe(false);
    expect(matchesDynamicZone(zone([{ country: 'GB', region: 'WA' }]), clean, false)).toBe(false);
    expect(matchesDynamicZone(zone([{ country: 'US' }]), {}, false)).toBe(false);
  });

  it('asns: any entry', () => {
    expect(matchesDynamicZone({ asns: [1221, 7018] }, clean, false)).toBe(true);
    expect(matchesDynamicZone({ asns: [1221] }, clean, false)).toBe(false);
    expect(matchesDynamicZone({ asns: [7018] }, {}, false)).toBe(false);
  });

  it('all specified criteria must match', () => {
    const facts: GeoFacts = { ...clean, anonymous: { ...none, any: true, hosting: true } };
    expect(matchesDynamicZone({ proxyType: 'Any', locations: [{ country: 'US' }], asns: [7018] }, facts, false)).toBe(true);
    expect(matchesDynamicZone({ proxyType: 'Any', locations: [{ country: 'US' }], asns: [1221] }, facts, false)).toBe(false);
    expect(matchesDynamicZone({ proxyType: 'Tor', locations: [{ country: 'US' }] }, facts, false)).toBe(false);
    expect(matchesDynamicZone({ proxyType: 'NotTorAnonymizer', locations: [{ country: 'DE' }] }, facts, false)).toBe(false);
  });

  it('a zone with no criteria (or only empty lists) matches nothing', () => {
    expect(matchesDynamicZone({}, clean, true)).toBe(false);
    expect(matchesDynamicZone({ locations: [], asns: [] }, clean, true)).toBe(false);
  });

  it('requiredDatabases names what a zone needs, Tor satisfied by a Tor feed', () => {
    expect(requiredDatabases({ proxyType: 'Tor' }, true)).toEqual([]);
    expect(requiredDatabases({ proxyType: 'Tor' }, false)).toEqual(['anonymous']);
    expect(requiredDatabases({ proxyType: 'NotTorAnonymizer' }, true)).toEqual(['anonymous']);
    expect(requiredDatabases({ locations: [{ country: 'US' }], asns: [1] }, false)).toEqual(['country', 'asn']);
  });
});

describe('matchesDynamicZone with the MaxMind test databases', () => {
  let dbs: GeoDatabases;
  const mmdb = (name: string): string => fileURLToPath(new URL(`../fixtures/mmdb/${name}`, import.meta.url));
  beforeAll(async () => {
    dbs = await GeoDatabases.open({
      asn: mmdb('GeoLite2-ASN-Test.mmdb'),
      country: mmdb('GeoIP2-City-Test.mmdb'),
      anonymous: mmdb('GeoIP2-Anonymous-IP-Test.mmdb'),
      watch: false,
    });
  });
  afterAll(() => dbs.close());
  const match = (zone: DynamicZoneCriteria, ip: string, tor = false): boolean => matchesDynamicZone(zone, dbs.lookup(ip), tor);

  it('Tor exits from the database, the feed, IPv4-mapped and 6to4 forms', () => {
    expect(match({ proxyType: 'Tor' }, '1.124.213.1')).toBe(true);
    expect(match({ proxyType: 'Tor' }, '65.0.0.1')).toBe(true);
    expect(match({ proxyType: 'Tor' }, '::ffff:65.0.0.1')).toBe(true);
    expect(match({ proxyType: 'Tor' }, '185.220.101.18', true)).toBe(true); // from torbulkexitlist
    expect(match({ proxyType: 'Tor' }, '1.2.0.1')).toBe(false); // VPN only
    expect(match({ proxyType: 'NotTorAnonymizer' }, '2002:102:1::')).toBe(true); // 6to4 of a VPN address
    expect(match({ proxyType: 'NotTorAnonymizer' }, '71.160.223.7')).toBe(true); // hosting provider
    expect(match({ proxyType: 'NotTorAnonymizer' }, '81.2.69.1')).toBe(false); // also Tor
    expect(match({ proxyType: 'Any' }, '8.8.8.8')).toBe(false);
  });

  it('country, region and ASN', () => {
    expect(match({ locations: [{ country: 'US', region: 'US-WA' }] }, '216.160.83.56')).toBe(true);
    expect(match({ locations: [{ country: 'US', region: 'US-CA' }] }, '216.160.83.56')).toBe(false);
    expect(match({ locations: [{ country: 'GB', region: 'GB-WBK' }] }, '::ffff:2.125.160.216')).toBe(true);
    expect(match({ locations: [{ country: 'US', region: 'CA' }] }, '2001:480:10::1')).toBe(true);
    expect(match({ asns: [1221] }, '1.128.0.1')).toBe(true);
    expect(match({ asns: [1221] }, '2002:180:1::')).toBe(true);
    expect(match({ asns: [1221] }, '1.0.0.1')).toBe(false);
    expect(match({ asns: [1221], locations: [{ country: 'US' }] }, '1.128.0.1')).toBe(false);
  });
});
