// The compiled, immutable view of every feed's contents and every dynamic zone that can change a decision.
// The manager builds a new one on any change and swaps the reference; a Check reads one index to the end.
import type { Address } from '../net/address.ts';
import { RangeIndex } from '../net/range-index.ts';
import type { Clock } from '../clock.ts';
import type { FeedMatch, FeedMatcher, ThreatLevel } from '../decide/threat.ts';
import type { CompiledDynamicZone, CompiledFeed } from './config.ts';
import { matchesDynamicZone, requiredDatabases } from './dynamic-zone.ts';
import type { GeoDbKind, GeoFacts } from './geo.ts';
import type { FeedContents } from './runner.ts';

/** What the index needs from GeoDatabases. */
export interface GeoSource {
  lookup(ipText: string): GeoFacts;
  has(kind: GeoDbKind): boolean;
  readonly generation: number;
}

interface Member {
  readonly feed: string;
  readonly blocklist: boolean;
  readonly level: number;
  readonly tor: boolean;
  /** 0: never. */
  readonly expiresMs: number;
}

interface ZoneHit {
  readonly exempt: string | undefined;
  readonly block: string | undefined;
}

export interface FeedIndexInput {
  readonly feeds: ReadonlyArray<{ readonly feed: CompiledFeed; readonly contents: FeedContents | undefined }>;
  readonly zones: readonly CompiledDynamicZone[];
  readonly geo?: GeoSource;
  readonly clock: Clock;
  /** Per-IP dynamic-zone results kept (two generations of half each); 0 turns the cache off. */
  readonly cacheSize?: number;
}

const LEVELS: readonly ThreatLevel[] = ['NONE', 'LOW', 'MEDIUM', 'HIGH'];
const NO_FEEDS: readonly string[] = Object.freeze([]);
export const NO_MATCH: FeedMatch = Object.freeze({ exemptZone: undefined, blockZone: undefined, blockFeed: undefined, threatLevel: 'NONE', threatFeeds: NO_FEEDS });
const NO_ZONE: ZoneHit = Object.freeze({ exempt: undefined, block: undefined });
const NO_FACTS: GeoFacts = Object.freeze({});
export const DEFAULT_GEO_CACHE_SIZE = 65_536;

export class FeedIndex implements FeedMatcher {
  /** Address ranges indexed (after dropping expired inline entries). */
  readonly entryCount: number;
  /** Earliest future inline expiry: the manager rebuilds then, so status counts stay true. */
  readonly nextExpiryMs: number;
  readonly #ranges: RangeIndex<Member>;
  readonly #clock: Clock;
  /** Zones that can change a decision: Blocklist ones and exempt Policy ones. */
  readonly #zones: readonly CompiledDynamicZone[];
  readonly #zoneDbs: readonly GeoDbKind[];
  readonly #geo: GeoSource | undefined;
  readonly #half: number;
  readonly #hits = new Map<string, ZoneHit>();
  #young = new Map<string, ZoneHit>();
  #old = new Map<string, ZoneHit>();
  #geoGeneration = -1;

  private constructor(ranges: RangeIndex<Member>, entryCount: number, nextExpiryMs: number, input: FeedIndexInput) {
    this.#ranges = ranges;
    this.entryCount = entryCount;
    this.nextExpiryMs = nextExpiryMs;
    this.#clock = input.clock;
    this.#zones = input.zones.filter((z) => z.usage === 'Blocklist' || z.exempt);
    this.#zoneDbs = [...new Set(this.#zones.flatMap((z) => requiredDatabases(z.criteria, false)))];
    this.#geo = input.geo;
    this.#half = Math.floor((input.cacheSize ?? DEFAULT_GEO_CACHE_SIZE) / 2);
  }

  static build(input: FeedIndexInput): FeedIndex {
    const now = input.clock.nowMs();
    const entries: Array<{ range: FeedContents['ranges'][number]; value: Member }> = [];
    let nextExpiryMs = Infinity;
    for (const { feed, contents } of input.feeds) {
      if (!contents) continue;
      const blocklist = feed.semantics === 'Blocklist';
      const level = LEVELS.indexOf(feed.level);
      const base: Member = Object.freeze({ feed: feed.name, blocklist, level, tor: feed.torExits, expiresMs: 0 });
      const byExpiry = new Map<number, Member>();
      const { ranges, expiresMs } = contents;
      for (let i = 0; i < ranges.length; i++) {
        const exp = expiresMs?.[i] ?? 0;
        let value = base;
        if (exp !== 0) {
          if (exp <= now) continue;
          if (exp < nextExpiryMs) nextExpiryMs = exp;
          value = byExpiry.get(exp) ?? Object.freeze({ ...base, expiresMs: exp });
          byExpiry.set(exp, value);
        }
        entries.push({ range: ranges[i]!, value });
      }
    }
    return new FeedIndex(RangeIndex.build(entries), entries.length, nextExpiryMs, input);
  }

  /** True when nothing can match: decide() then costs one empty range lookup. */
  get empty(): boolean {
    return this.entryCount === 0 && this.#zones.length === 0;
  }

  match(client: Address): FeedMatch {
    const members = this.#ranges.lookup(client);
    if (members.length === 0 && this.#zones.length === 0) return NO_MATCH;
    let tor = false;
    let blockFeed: string | undefined;
    let level = 0;
    let names: string[] | undefined;
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      // Expiry is checked here as well as at rebuilds, so an entry stops counting at its exact time.
      if (m.expiresMs !== 0 && this.#clock.nowMs() >= m.expiresMs) continue;
      if (m.tor) tor = true;
      if (m.blocklist) {
        blockFeed ??= m.feed;
      } else {
        if (m.level > level) level = m.level;
        if (!names) names = [m.feed];
        else if (!names.includes(m.feed)) names.push(m.feed);
      }
    }
    const zone = this.#zones.length === 0 ? NO_ZONE : this.#zoneHit(client, tor);
    if (zone === NO_ZONE && blockFeed === undefined && names === undefined) return NO_MATCH;
    return { exemptZone: zone.exempt, blockZone: zone.block, blockFeed, threatLevel: LEVELS[level]!, threatFeeds: names ?? NO_FEEDS };
  }

  /** At most one geo lookup per client per index (and per database generation), bounded. */
  #zoneHit(client: Address, tor: boolean): ZoneHit {
    const geo = this.#geo;
    if (geo && geo.generation !== this.#geoGeneration) {
      this.#geoGeneration = geo.generation;
      this.#young.clear();
      this.#old.clear();
    }
    if (this.#half === 0) return this.#evaluate(client, tor);
    const key = client.text;
    let hit = this.#young.get(key);
    if (hit !== undefined) return hit;
    hit = this.#old.get(key) ?? this.#evaluate(client, tor);
    // Two generations: when the young map fills it becomes the old one, so a spray of new IPs costs
    // O(1) per miss and never grows the cache past cacheSize, while busy IPs keep being promoted.
    if (this.#young.size >= this.#half) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, hit);
    return hit;
  }

  #evaluate(client: Address, tor: boolean): ZoneHit {
    const geo = this.#geo;
    let facts = NO_FACTS;
    if (geo) {
      for (const db of this.#zoneDbs) {
        if (geo.has(db)) {
          facts = geo.lookup(client.text);
          break;
        }
      }
    }
    let exempt: string | undefined;
    let block: string | undefined;
    for (const z of this.#zones) {
      const wanted = z.usage === 'Blocklist' ? block === undefined : exempt === undefined;
      if (!wanted || !matchesDynamicZone(z.criteria, facts, tor)) continue;
      if (z.usage === 'Blocklist') block = z.name;
      else exempt = z.name;
    }
    if (exempt === undefined && block === undefined) return NO_ZONE;
    // Interned: cached results for many IPs share a handful of objects.
    const key = `${exempt ?? ''}\u0000${block ?? ''}`;
    let hit = this.#hits.get(key);
    if (!hit) {
      hit = Object.freeze({ exempt, block });
      this.#hits.set(key, hit);
    }
    return hit;
  }
}
