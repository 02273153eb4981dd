// Micro benchmarks for src/net. Run directly: node --import tsx bench/net-micro.ts
// Seeded inputs keep runs comparable; each figure is the median of several timed rounds after a warm-up.
import { pathToFileURL } from 'node:url';
import { addressFromV4, addressFromWords, parseAddress, parseRange, type Address, type AddressRange } from '../src/net/address.ts';
import { resolveClientChain } from '../src/net/chain.ts';
import { RangeIndex } from '../src/net/range-index.ts';
import { mixedQueries, prng, randomV4Cidrs, randomV6Cidrs } from './net-fixtures.ts';

const ROUNDS = 7;
/** Results are summed here so the optimiser cannot drop the work. */
let sink = 0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** ns per call of body(i), i = 0..n-1. */
function nsPerOp(n: number, body: (i: number) => number): number {
  const round = (): number => {
    let acc = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) acc += body(i);
    const ns = Number(process.hrtime.bigint() - t0);
    sink += acc;
    return ns / n;
  };
  round(); // warm-up: lets the JIT optimise before timing
  return median(Array.from({ length: ROUNDS }, round));
}

function msPerRun(runs: number, body: () => number): { first: number; median: number } {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    sink += body();
    times.push(performance.now() - t0);
  }
  return { first: times[0]!, median: median(times.slice(1)) };
}

const MASK = 1023; // 1024 distinct inputs per benchmark

export async function runNetMicro(): Promise<Record<string, number>> {
  const rand = prng(20240601);

  const v4Texts = Array.from({ length: MASK + 1 }, () => addressFromV4(rand()).text);
  // IPv6 with some zero groups, so "::" compression is exercised.
  const v6Texts = Array.from({ length: MASK + 1 }, () =>
    addressFromWords(0x20010db8, rand() & 0xffff, rand() % 3 === 0 ? 0 : rand(), rand()).text,
  );

  const v4Ranges = randomV4Cidrs(100_000, rand);
  const v4Entries = v4Ranges.map((range, i) => ({ range, value: i })); // distinct values: the most segments
  const build = msPerRun(6, () => RangeIndex.build(v4Entries).segmentCount);
  const zoneEntries = v4Ranges.map((range, i) => ({ range, value: `zone-${i % 100}` })); // the usual shape
  const buildZones = msPerRun(6, () => RangeIndex.build(zoneEntries).segmentCount);
  const v4Index = RangeIndex.build(v4Entries);
  const v4Queries = mixedQueries(v4Ranges, MASK + 1, rand);

  const v6Ranges = randomV6Cidrs(20_000, rand);
  const v6Index = RangeIndex.build(v6Ranges.map((range, i) => ({ range, value: i })));
  const v6Queries = mixedQueries(v6Ranges, MASK + 1, rand);

  // Trusted proxies: private space plus 1000 provider CIDRs, as a deployment behind a CDN might list.
  const trustedRanges: AddressRange[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'].map((t) => {
    const r = parseRange(t);
    if ('error' in r) throw new Error(r.error);
    return r;
  });
  trustedRanges.push(...randomV4Cidrs(1000, rand));
  const trusted = RangeIndex.build(trustedRanges.map((range) => ({ range, value: true })));
  const isTrusted = (a: Address): boolean => trusted.lookup(a).length > 0;
  const peer = parseAddress('10.0.0.2')!;
  const options = { maxHops: 10 };
  // Three hops: client, an edge proxy, and the peer.
  const xffs = Array.from({ length: MASK + 1 }, (_, i) => `${addressFromV4(rand()).text}, 10.1.${i & 255}.7`);

  const results: Record<string, number> = {
    'parseAddress.v4.ns': nsPerOp(2_000_000, (i) => parseAddress(v4Texts[i & MASK]!)!.w0),
    'parseAddress.v6.ns': nsPerOp(500_000, (i) => parseAddress(v6Texts[i & MASK]!)!.w3),
    'lookup.v4@100k.ns': nsPerOp(2_000_000, (i) => v4Index.lookup(v4Queries[i & MASK]!).length),
    'lookup.v6@20k.ns': nsPerOp(2_000_000, (i) => v6Index.lookup(v6Queries[i & MASK]!).length),
    'resolveClientChain.3hops.ns': nsPerOp(1_000_000, (i) => resolveClientChain(peer, xffs[i & MASK]!, isTrusted, options).client.w0),
    'build.v4@100k.ms': build.median,
    'build.v4@100k.first.ms': build.first,
    'build.v4@100k.100values.ms': buildZones.median,
    'segments.v4@100k': v4Index.segmentCount,
    // The cost of the measuring loop itself (an indirect call); subtract it mentally on slow machines.
    'harness.overhead.ns': nsPerOp(2_000_000, (i) => i & 7),
  };
  if (Number.isNaN(sink)) console.log(sink);
  return results;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runNetMicro();
  console.table(Object.entries(results).map(([name, value]) => ({ name, value: Number(value.toFixed(1)) })));
}
