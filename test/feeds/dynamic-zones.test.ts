import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { decide, type DecideOptions } from '../../src/decide/decide.ts';
import type { RequestFacts } from '../../src/decide/decision.ts';
import { FeedIndex, NO_MATCH, type GeoSource } from '../../src/feeds/feed-index.ts';
import { GeoDatabases } from '../../src/feeds/geo.ts';
import { FeedManager } from '../../src/feeds/manager.ts';
import { dynamicZone, feed, fixture, ip, LB, feedsOf, mmdb, policy, RecordingObserver, snapshotOf } from './helpers.ts';

let geo: GeoDatabases;
beforeAll(async () => {
  geo = await GeoDatabases.open({ asn: mmdb('GeoLite2-ASN-Test.mmdb'), country: mmdb('GeoIP2-City-Test.mmdb'), anonymous: mmdb('GeoIP2-Anonymous-IP-Test.mmdb'), watch: false });
});
afterAll(() => geo.close());
let m: FeedManager | undefined;
afterEach(() => m?.stop());

let n = 0;
const options = (feeds: FeedManager): DecideOptions => ({ clientIp: { mode: 'xff', maxHops: 10 }, failureMode: 'allow', newId: () => `id-${++n}`, feeds });
const facts = (xff: string, path = '/login'): RequestFacts => ({
  peer: ip('10.0.0.5'), xForwardedFor: xff, forwarded: undefined, envoyExternalAddress: undefined, method: 'POST', path, host: 'h', requestId: undefined, userAgent: undefined,
});

describe('dynamic zones through decide(), on MaxMind test databases', () => {
  const objects = [
    LB,
    { kind: 'IPZone', name: 'bad', origin: { source: 't' }, spec: { usage: 'Blocklist', gateways: ['2.125.160.0/24'] } } as const,
    dynamicZone('telstra', { usage: 'Blocklist', asns: [1221] }),
    dynamicZone('uk-office', { usage: 'Policy', locations: [{ country: 'gb', region: 'ENG' }] }),
    dynamicZone('anonymizers', { usage: 'Blocklist', proxyType: 'NotTorAnonymizer' }),
    dynamicZone('tor', { usage: 'Blocklist', proxyType: 'Tor' }),
    feed('tor-exits', { source: { path: fixture('torbulkexitlist.sample') }, format: 'tor-bulk', level: 'LOW' }),
    policy('Block', ['uk-office']),
  ];

  it('blocks by ASN (IPv4, IPv4-mapped, 6to4), exempts by country + region, blocks anonymizers and Tor', async () => {
    m = new FeedManager({ clock: new ManualClock(0), geo, tickMs: 60_000 });
    const s = snapshotOf(objects);
    m.apply(feedsOf(objects));
    await m.refresh('tor-exits');
    await new Promise((r) => setImmediate(r));
    const o = options(m);
    for (const client of ['1.128.0.1', '::ffff:1.128.0.1', '2002:180:1::1']) {
      expect(decide(facts(client), s, o), client).toMatchObject({ verdict: 'deny', reason: 'blocklist_zone', zone: 'telstra' });
    }
    // The exempt dynamic zone wins over a Blocklist IPZone listing the same client, as exempt IPZones do.
    expect(decide(facts('2.125.160.216'), s, o)).toMatchObject({ verdict: 'allow', reason: 'exempt_zone', zone: 'uk-office' });
    expect(decide(facts('89.160.20.112'), s, o)).toMatchObject({ verdict: 'allow', reason: 'allowed' }); // SE: not exempt, not blocked
    expect(decide(facts('71.160.223.7'), s, o)).toMatchObject({ verdict: 'deny', zone: 'anonymizers' }); // hosting provider
    expect(decide(facts('65.7.1.1'), s, o)).toMatchObject({ verdict: 'deny', zone: 'tor' }); // Tor per the anonymous-IP database
    expect(decide(facts('185.220.101.18', '/home'), s, o)).toMatchObject({ verdict: 'deny', zone: 'tor' }); // Tor per the exit feed, on any route
    expect(m.zoneStatus().every((z) => z.ready)).toBe(true);
  });

  it('a zone whose database is missing is reported, not silently empty', () => {
    const obs = new RecordingObserver();
    const onlyAsn: GeoSource = { lookup: (t) => geo.lookup(t), has: (db) => db === 'asn', generation: 1 };
    m = new FeedManager({ clock: new ManualClock(0), geo: onlyAsn, observer: obs, tickMs: 60_000 });
    m.apply(feedsOf([dynamicZone('eu', { usage: 'Blocklist', locations: [{ country: 'SE' }], asns: [29518] }), dynamicZone('tor', { usage: 'Blocklist', proxyType: 'Tor' })]));
    expect(m.zoneStatus()).toEqual([
      { name: 'eu', usage: 'Blocklist', exempt: false, ready: false, missingDatabases: ['country'], message: expect.stringContaining('--geoip-country') },
      { name: 'tor', usage: 'Blocklist', exempt: false, ready: false, missingDatabases: ['anonymous'], message: expect.stringContaining('a Tor exit ThreatFeed') },
    ]);
    expect(obs.zones.map((z) => [z.name, z.ready])).toEqual([['eu', false], ['tor', false]]);
    // Adding a Tor exit feed makes the Tor zone ready; the change is reported once.
    m.apply(feedsOf([dynamicZone('eu', { usage: 'Blocklist', locations: [{ country: 'SE' }], asns: [29518] }), dynamicZone('tor', { usage: 'Blocklist', proxyType: 'Tor' }),
      feed('exits', { source: { inline: [{ address: '185.220.101.18' }] }, format: 'tor-bulk', level: 'LOW' })], 2));
    expect(obs.zones.map((z) => [z.name, z.ready])).toEqual([['eu', false], ['tor', false], ['tor', true]]);
    expect(m.match(ip('185.220.101.18'))).toMatchObject({ blockZone: 'tor', threatLevel: 'LOW' });
  });

  it('an exempt reference to a Blocklist DynamicZone, or to nothing, is a config issue', () => {
    expect(() => snapshotOf([dynamicZone('tor', { usage: 'Blocklist', proxyType: 'Tor' }), policy('Audit', ['tor'])])).toThrow(/DynamicZone "tor" is a Blocklist zone/);
    expect(() => snapshotOf([policy('Audit', ['nowhere'])])).toThrow(/no valid IPZone named "nowhere"/);
    expect(() => snapshotOf([dynamicZone('x', { usage: 'Policy', locations: [{ country: 'US', region: 'GB-ENG' }] })])).toThrow(/not a subdivision of US/);
  });
});

describe('per-index geo cache', () => {
  function counting(): GeoSource & { calls: number; generation: number } {
    const g = { calls: 0, generation: 7, lookup: (t: string) => { g.calls++; return geo.lookup(t); }, has: () => true };
    return g;
  }
  const zones = [{ name: 'telstra', usage: 'Blocklist' as const, exempt: false, criteria: { asns: [1221] } }];

  it('one lookup per client, bounded, and cleared when a database is swapped', () => {
    const g = counting();
    const index = FeedIndex.build({ feeds: [], zones, geo: g, clock: new ManualClock(0), cacheSize: 4 });
    expect(index.match(ip('1.128.0.1')).blockZone).toBe('telstra');
    expect(index.match(ip('1.128.0.1')).blockZone).toBe('telstra');
    expect(g.calls).toBe(1);
    for (let i = 0; i < 10; i++) expect(index.match(ip(`8.8.8.${i}`))).toBe(NO_MATCH);
    expect(g.calls).toBe(11);
    expect(index.match(ip('1.128.0.1')).blockZone).toBe('telstra'); // evicted by the spray: looked up again
    expect(g.calls).toBe(12);
    g.generation = 8;
    index.match(ip('1.128.0.1'));
    expect(g.calls).toBe(13);
  });

  it('no lookup at all when no zone can change a decision', () => {
    const g = counting();
    const index = FeedIndex.build({ feeds: [], zones: [{ ...zones[0]!, usage: 'Policy' }], geo: g, clock: new ManualClock(0) });
    expect(index.match(ip('1.128.0.1'))).toBe(NO_MATCH);
    expect(g.calls).toBe(0);
  });
});
