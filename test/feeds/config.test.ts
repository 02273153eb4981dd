import { describe, expect, it } from 'vitest';
import { compile } from '../../src/config/compile.ts';
import { parseDuration } from '../../src/feeds/config.ts';
import { FEED_FORMATS } from '../../src/feeds/formats/index.ts';
import { parsePrefix } from '../../src/feeds/prefix.ts';
import { dynamicZone, feed, feedsOf, LB, policy, snapshotOf } from './helpers.ts';

describe('compiling ThreatFeed and DynamicZone objects', () => {
  it('carries feeds and zones in the snapshot, sorted, with protected ranges from Policy zones', () => {
    const f = feedsOf([
      LB,
      feed('z-inline', { source: { inline: [{ address: '192.0.2.0/24', expires: '2026-09-01T00:00:00+02:00' }, { address: '198.51.100.1-198.51.100.9' }] } }),
      feed('a-http', { source: { http: { url: 'https://feeds.example/drop.txt', interval: '1h30m', timeout: '45s' } }, format: 'spamhaus-drop', semantics: 'Blocklist' }),
      feed('tor', { source: { path: '/feeds/tor' }, format: 'tor-exit-addresses' }),
      dynamicZone('office', { usage: 'Policy', locations: [{ country: 'us', region: 'ca' }] }),
      policy('Audit', ['office']),
    ]);
    expect(f.threatFeeds.map((x) => [x.name, x.source.type, x.semantics, x.level, x.torExits])).toEqual([
      ['a-http', 'http', 'Blocklist', 'HIGH', false],
      ['tor', 'file', 'ThreatLevel', 'HIGH', true],
      ['z-inline', 'inline', 'ThreatLevel', 'HIGH', false],
    ]);
    expect(f.threatFeeds[0]!.source).toEqual({ type: 'http', url: 'https://feeds.example/drop.txt', intervalMs: 5_400_000, timeoutMs: 45_000, maxBytes: 67_108_864 });
    const inline = f.threatFeeds[2]!.source;
    expect(inline.type === 'inline' && inline.entries.map((e) => [e.range.source, e.expiresMs])).toEqual([
      ['192.0.2.0/24', Date.parse('2026-08-31T22:00:00Z')],
      ['198.51.100.1-198.51.100.9', 0],
    ]);
    expect(f.dynamicZones).toEqual([{ name: 'office', usage: 'Policy', exempt: true, criteria: { locations: [{ country: 'US', region: 'CA' }] } }]);
    expect(f.protectedRanges.map((p) => p.label)).toEqual(['10.0.0.0/16 (proxies of IPZone lb)']);
  });

  it('reports bad inline entries, expiry times, formats and timeouts by field', () => {
    const { issues } = compile([
      feed('a', { source: { inline: [{ address: '10.0.0.1/8' }, { address: '192.0.2.1', expires: '2026-02-30T00:00:00Z' }] } }),
      feed('b', { source: { http: { url: 'https://x.example/', interval: '1m', timeout: '2m' } } }),
      feed('c', { source: { inline: [], path: '/x' } }),
    ], 1, 0);
    expect(issues.map((i) => `${i.name} ${i.field}`)).toEqual([
      'a spec.source.inline[0].address',
      'a spec.source.inline[1].expires',
      'b spec.source.http.timeout',
      'c spec.source',
    ]);
    expect(issues[0]!.message).toMatch(/host bits are set/);
  });

  it('keeps the schema and the parsers in step', () => {
    expect(() => snapshotOf(FEED_FORMATS.map((format, i) => feed(`f${i}`, { source: { path: '/x' }, format })))).not.toThrow();
  });
});

describe('parseDuration', () => {
  it.each([['1h', 3_600_000], ['1h30m', 5_400_000], ['45s', 45_000], ['250ms', 250], ['2m5s', 125_000]])('%s', (t, ms) => expect(parseDuration(t)).toBe(ms));
  it.each(['', 'h', '1', '1d', '1h 2m', '-1s'])('rejects %j', (t) => expect(parseDuration(t)).toBeUndefined());
});

describe('feed prefixes on src/net', () => {
  it('IPv6 bounds stay IPv6 even where the last address looks IPv4-mapped', () => {
    const r = parsePrefix('::/80');
    expect(r.ok && [r.prefix.range.end.family, r.prefix.range.end.text]).toEqual([6, '::ffff:ffff:ffff']);
  });
  it('masks host bits and counts it, maps ::ffff:0:0/96 prefixes to IPv4', () => {
    expect(parsePrefix('2001:db8::1/32')).toMatchObject({ ok: true, prefix: { text: '2001:db8::/32', hostBitsMasked: true } });
    expect(parsePrefix('::ffff:10.1.2.3/104')).toMatchObject({ ok: true, prefix: { text: '10.0.0.0/8', bits: 8 } });
    expect(parsePrefix('::ffff:10.1.2.3/64')).toMatchObject({ ok: false, reason: expect.stringMatching(/96-128/) });
  });
});
