// Micro-benchmarks for src/feeds: parse throughput, geo lookup cost, index build and the per-Check match.
// Run alone: node --import tsx bench/feeds-micro.ts
import { fileURLToPath } from 'node:url';
import { matchesDynamicZone } from '../src/feeds/dynamic-zone.ts';
import { parseFeed, type FeedFormat } from '../src/feeds/formats/index.ts';
import { GeoDatabases, type GeoFacts } from '../src/feeds/geo.ts';
import { FeedIndex } from '../src/feeds/feed-index.ts';
import type { CompiledDynamicZone, CompiledFeed } from '../src/feeds/config.ts';
import { parsePrefix } from '../src/feeds/prefix.ts';
import { ManualClock } from '../src/clock.ts';
import { parseAddress, type Address, type AddressRange } from '../src/net/address.ts';

const mmdb = (name: string): string => fileURLToPath(new URL(`../test/fixtures/mmdb/${name}`, import.meta.url));

function syntheticFeed(lines: number): string {
  const out: string[] = ['# synthetic feed', '; generated for bench'];
  let x = 0x9e3779b9;
  for (let i = 0; i < lines; i++) {
    x = (x * 1664525 + 1013904223) >>> 0;
    const ip = `${(x >>> 24) | 1}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`;
    out.push(i % 10 === 0 ? `${ip.replace(/\.\d+$/, '.0')}/24` : i % 50 === 1 ? `${ip} # reported` : ip);
  }
  return out.join('\n');
}

function timeNs(fn: () => void, iterations: number): number {
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  return Number(process.hrtime.bigint() - start);
}

function parseLinesPerSec(format: FeedFormat, text: string, lines: number): number {
  parseFeed(format, text); // warm-up
  const runs = 5;
  const ns = timeNs(() => parseFeed(format, text), runs);
  return Math.round((lines * runs) / (ns / 1e9));
}

export async function runFeedsMicro(): Promise<Record<string, number>> {
  const results: Record<string, number> = {};
  const LINES = 100_000;
  const text = syntheticFeed(LINES);
  results['feeds.parse.plain.lines_per_s'] = parseLinesPerSec('plain', text, LINES);
  results['feeds.parse.firehol.lines_per_s'] = parseLinesPerSec('firehol', text, LINES);

  const dbs = await GeoDatabases.open({
    asn: mmdb('GeoLite2-ASN-Test.mmdb'),
    country: mmdb('GeoIP2-City-Test.mmdb'),
    anonymous: mmdb('GeoIP2-Anonymous-IP-Test.mmdb'),
    watch: false,
  });
  // Known hits from the test databases' source JSON plus random IPv4 misses and some IPv6.
  const ips = ['1.128.0.1', '216.160.83.56', '81.2.69.160', '1.124.213.1', '2001:480:10::1', '::ffff:2.125.160.216'];
  let x = 12345;
  while (ips.length < 1024) {
    x = (x * 1103515245 + 12345) >>> 0;
    ips.push(ips.length % 8 === 0 ? `2a02:d${(x & 0xfff).toString(16)}::${x >>> 20}` : `${(x >>> 24) | 1}.${(x >>> 16) & 255}.${(x >>> 8) & 255}.${x & 255}`);
  }
  const N = 200_000;
  let sink = 0;
  const lookupAll = (): void => {
    for (let i = 0; i < N; i++) sink += dbs.lookup(ips[i & 1023] as string).asn ?? 0;
  };
  lookupAll(); // warm-up
  results['feeds.geo.lookup.ns_per_op'] = Math.round(timeNs(lookupAll, 1) / N);

  // Would a per-IP cache in front of the readers pay? Same IP mix, cache always hit after warm-up.
  const cache = new Map<string, GeoFacts>();
  const cached = (ip: string): GeoFacts => {
    let f = cache.get(ip);
    if (f === undefined) {
      if (cache.size >= 65_536) cache.clear();
      f = dbs.lookup(ip);
      cache.set(ip, f);
    }
    return f;
  };
  const lookupCached = (): void => {
    for (let i = 0; i < N; i++) sink += cached(ips[i & 1023] as string).asn ?? 0;
  };
  lookupCached();
  results['feeds.geo.lookup_cached_hit.ns_per_op'] = Math.round(timeNs(lookupCached, 1) / N);

  const facts = ips.map((ip) => dbs.lookup(ip));
  const zone = { proxyType: 'NotTorAnonymizer' as const, locations: [{ country: 'US', region: 'US-CA' }, { country: 'GB' }], asns: [1221, 7018] };
  const matchAll = (): void => {
    for (let i = 0; i < N; i++) sink += matchesDynamicZone(zone, facts[i & 1023] as GeoFacts, false) ? 1 : 0;
  };
  matchAll();
  results['feeds.dynamic_zone.match.ns_per_op'] = Math.round(timeNs(matchAll, 1) / N);

  Object.assign(results, benchIndex(text, dbs, ips));
  dbs.close();
  if (sink === -1) console.log(sink); // keep the loops observable
  return results;
}

/** FeedIndex: build of a 100k-line feed, and match() as a Check calls it, with and without the geo cache. */
function benchIndex(text: string, dbs: GeoDatabases, ipTexts: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  const entries = parseFeed('plain', text).entries;
  const ranges: AddressRange[] = [];
  for (const e of entries) {
    const r = parsePrefix(e);
    if (r.ok) ranges.push(r.prefix.range);
  }
  const feed: CompiledFeed = { name: 'bench', source: { type: 'inline', entries: [] }, format: 'plain', semantics: 'ThreatLevel', level: 'HIGH', torExits: false, sourceKey: 'bench' };
  const contents = { ranges, badCount: 0, bad: [], bytes: text.length, loadedAtMs: 0 };
  const clock = new ManualClock(0);
  let t = process.hrtime.bigint();
  const runs = 5;
  for (let i = 0; i < runs; i++) FeedIndex.build({ feeds: [{ feed, contents }], zones: [], clock });
  out['feeds.index.build_100k.ms'] = Math.round(Number(process.hrtime.bigint() - t) / 1e6 / runs);

  const zones: CompiledDynamicZone[] = [
    { name: 'anon', usage: 'Blocklist', exempt: false, criteria: { proxyType: 'NotTorAnonymizer' } },
    { name: 'asn', usage: 'Blocklist', exempt: false, criteria: { asns: [1221, 7018] } },
    { name: 'office', usage: 'Policy', exempt: true, criteria: { locations: [{ country: 'GB', region: 'ENG' }] } },
  ];
  const addrs: Address[] = ipTexts.map((s) => parseAddress(s)).filter((a): a is Address => a !== undefined);
  const listed = ranges.slice(0, 1024).map((r) => r.start); // every one a feed member
  const N = 200_000;
  let sink = 0;
  const perOp = (index: FeedIndex, list: readonly Address[]): number => {
    const loop = () => {
      for (let i = 0; i < N; i++) sink += index.match(list[i & (list.length - 1)]!).threatFeeds.length;
    };
    loop();
    t = process.hrtime.bigint();
    loop();
    return Math.round(Number(process.hrtime.bigint() - t) / N);
  };
  const feedsOnly = FeedIndex.build({ feeds: [{ feed, contents }], zones: [], clock });
  out['feeds.match.feed_100k_miss.ns_per_op'] = perOp(feedsOnly, addrs.slice(0, 1024));
  out['feeds.match.feed_100k_hit.ns_per_op'] = perOp(feedsOnly, listed);
  const cached = FeedIndex.build({ feeds: [{ feed, contents }], zones, geo: dbs, clock });
  out['feeds.match.zones_cached.ns_per_op'] = perOp(cached, addrs.slice(0, 1024));
  const uncached = FeedIndex.build({ feeds: [{ feed, contents }], zones, geo: dbs, clock, cacheSize: 0 });
  out['feeds.match.zones_uncached.ns_per_op'] = perOp(uncached, addrs.slice(0, 1024));
  // A spray from ever-new IPs: every match misses the cache (lookup + insert + generation turnover).
  const spray: Address[] = [];
  for (let i = 0; i < N; i++) spray.push(parseAddress(`${(i >>> 16) + 20}.${(i >>> 8) & 255}.${i & 255}.${(i * 7) & 255}`)!);
  const small = FeedIndex.build({ feeds: [], zones, geo: dbs, clock, cacheSize: 8192 });
  t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) sink += small.match(spray[i]!).threatFeeds.length;
  out['feeds.match.zones_cache_miss.ns_per_op'] = Math.round(Number(process.hrtime.bigint() - t) / N);
  if (sink === -1) console.log(sink);
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await runFeedsMicro());
}
