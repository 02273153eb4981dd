// Micro-benchmarks for src/feeds: parse throughput and geo lookup cost.
// Run alone: node --import tsx bench/feeds-micro.ts
import { fileURLToPath } from 'node:url';
import { matchesDynamicZone } from '../src/feeds/dynamic-zone.ts';
import { parseFeed, type FeedFormat } from '../src/feeds/formats/index.ts';
import { GeoDatabases, type GeoFacts } from '../src/feeds/geo.ts';

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

  dbs.close();
  if (sink === -1) console.log(sink); // keep the loops observable
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await runFeedsMicro());
}
