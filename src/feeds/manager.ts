// Runs the feeds of the current snapshot: one FeedRunner per ThreatFeed, refreshed from one shared timer,
// and an immutable FeedIndex rebuilt whenever contents or config change, swapped by reference so a Check
// never waits and never sees a half-built index. Also the status source for Kubernetes and metrics.
import type { Clock } from '../clock.ts';
import type { FeedMatch, FeedMatcher } from '../decide/threat.ts';
import type { Address } from '../net/address.ts';
import { forEachSensitiveOverlap, type OverlapKind, type SensitiveOverlap } from './bogons.ts';
import { EMPTY_FEED_CONFIG, type CompiledDynamicZone, type CompiledFeed, type FeedConfig } from './config.ts';
import { requiredDatabases } from './dynamic-zone.ts';
import { FeedIndex, type GeoSource } from './feed-index.ts';
import type { GeoDbKind } from './geo.ts';
import { FeedRunner, type FeedContents, type RefreshResult } from './runner.ts';

export interface OverlapSummary {
  readonly counts: Readonly<Record<OverlapKind, number>>;
  /** The first few, for status and logs. */
  readonly examples: readonly SensitiveOverlap[];
}

export interface FeedStatus {
  readonly name: string;
  readonly source: 'inline' | 'file' | 'http';
  readonly format: CompiledFeed['format'];
  readonly semantics: CompiledFeed['semantics'];
  readonly level: CompiledFeed['level'];
  /** Contents are serving and the last attempt succeeded. */
  readonly ready: boolean;
  /** Some contents (possibly older ones, kept after a failure) are serving. */
  readonly serving: boolean;
  readonly entries: number;
  /** Bad lines in the last body read, accepted or not. */
  readonly badLines: number;
  readonly badLineSamples: readonly { readonly line: number; readonly reason: string }[];
  readonly lastResult?: RefreshResult;
  readonly lastError?: string;
  readonly lastRefreshTime?: string;
  readonly lastSuccessTime?: string;
  readonly consecutiveFailures: number;
  readonly sensitiveOverlaps: OverlapSummary;
  readonly meta?: Readonly<Record<string, string | number>>;
}

export interface DynamicZoneStatus {
  readonly name: string;
  readonly usage: 'Policy' | 'Blocklist';
  readonly exempt: boolean;
  readonly ready: boolean;
  /** Databases the zone needs that are not configured or not loaded: the zone cannot match on them. */
  readonly missingDatabases: readonly GeoDbKind[];
  readonly message: string;
}

export interface FeedObserver {
  /** The set of feeds changed (bind or drop per-feed metric series). */
  feedsConfigured(names: readonly string[]): void;
  refreshed(status: FeedStatus, result: RefreshResult): void;
  /** The feed's private/bogon/protected overlaps changed (called with empty counts when they cleared). */
  sensitiveOverlaps(status: FeedStatus): void;
  /** A dynamic zone became ready or not ready. */
  zoneStatus(status: DynamicZoneStatus): void;
}

export interface FeedManagerOptions {
  readonly clock: Clock;
  readonly geo?: GeoSource;
  readonly observer?: FeedObserver;
  readonly fetchImpl?: typeof fetch;
  /** Shared timer period: HTTP due checks, file change polls, inline expiry. Default 1 s. */
  readonly tickMs?: number;
  readonly geoCacheSize?: number;
}

const NO_OVERLAPS: OverlapSummary = Object.freeze({ counts: Object.freeze({ private: 0, bogon: 0, protected: 0 }), examples: Object.freeze([]) });
const MAX_EXAMPLES = 5;

export class FeedManager implements FeedMatcher {
  readonly #o: FeedManagerOptions;
  readonly #runners = new Map<string, FeedRunner>();
  readonly #stop = new AbortController();
  readonly #timer: NodeJS.Timeout;
  #config: FeedConfig = EMPTY_FEED_CONFIG;
  #index: FeedIndex;
  #rebuild: NodeJS.Immediate | undefined;
  readonly #overlaps = new WeakMap<FeedContents, { protectedKey: FeedConfig['protectedRanges']; summary: OverlapSummary }>();
  readonly #reportedOverlaps = new Map<string, string>();
  readonly #zoneReady = new Map<string, boolean>();
  readonly #listeners: Array<() => void> = [];
  #initial: FeedRunner[] | undefined;

  constructor(options: FeedManagerOptions) {
    this.#o = options;
    this.#index = FeedIndex.build({ feeds: [], zones: [], clock: options.clock });
    this.#timer = setInterval(() => this.tick(), options.tickMs ?? 1000);
    this.#timer.unref();
  }

  /** The index every Check reads; replaced, never mutated. */
  get index(): FeedIndex {
    return this.#index;
  }

  match(client: Address): FeedMatch {
    return this.#index.match(client);
  }

  /** Every feed of the first snapshot had its first attempt (latched: feeds added later never flap readiness). */
  get initialLoadDone(): boolean {
    if (!this.#initial) return false;
    if (this.#initial.every((r) => r.attempted)) this.#initial = [];
    return this.#initial.length === 0;
  }

  /** The feed config in force (the last one applied). */
  get config(): FeedConfig {
    return this.#config;
  }

  /** A new config: start, keep or stop runners, then rebuild the index before the next Check. */
  apply(config: FeedConfig = EMPTY_FEED_CONFIG): void {
    const wanted = new Map(config.threatFeeds.map((f) => [f.name, f]));
    for (const [name, runner] of this.#runners) {
      const f = wanted.get(name);
      if (!f || f.sourceKey !== runner.feed.sourceKey) {
        runner.stop();
        this.#runners.delete(name);
        this.#reportedOverlaps.delete(name);
      }
    }
    this.#config = config;
    const started: FeedRunner[] = [];
    for (const f of config.threatFeeds) {
      const existing = this.#runners.get(f.name);
      if (existing) {
        existing.feed = f; // level or semantics may have changed; the source did not
        continue;
      }
      const runner = new FeedRunner(f, {
        clock: this.#o.clock,
        signal: this.#stop.signal,
        fetchImpl: this.#o.fetchImpl,
        onAttempt: (r, result, changed) => this.#attempted(r, result, changed),
      });
      this.#runners.set(f.name, runner);
      started.push(runner);
    }
    this.#initial ??= started;
    this.#o.observer?.feedsConfigured([...wanted.keys()]);
    for (const r of started) void r.refresh(); // inline feeds load synchronously here
    for (const z of [...this.#zoneReady.keys()]) if (!config.dynamicZones.some((d) => d.name === z)) this.#zoneReady.delete(z);
    this.#rebuildNow();
    for (const r of this.#runners.values()) if (r.contents) this.#checkOverlaps(r);
    this.checkZones();
  }

  /**
   * Called whenever feedStatus() or zoneStatus() may have changed: after every read, a new snapshot, an inline
   * expiry, a zone re-check. Not per Check. The Kubernetes status writer listens here.
   */
  onStatusChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Reads one feed now (tests, admin); undefined when no such feed. */
  refresh(name: string): Promise<RefreshResult> | undefined {
    return this.#runners.get(name)?.refresh();
  }

  tick(): void {
    const now = this.#o.clock.nowMs();
    for (const r of this.#runners.values()) r.tick(now);
    if (now >= this.#index.nextExpiryMs) {
      this.#rebuildNow();
      this.#notify();
    }
  }

  feedStatus(): FeedStatus[] {
    return [...this.#runners.values()].map((r) => this.#statusOf(r));
  }

  zoneStatus(): DynamicZoneStatus[] {
    return this.#config.dynamicZones.map((z) => this.#zoneStatusOf(z));
  }

  /** Re-evaluates which dynamic zones lack a database (call when a database loads or fails; apply() ends with it). */
  checkZones(): void {
    for (const z of this.#config.dynamicZones) {
      const st = this.#zoneStatusOf(z);
      if (this.#zoneReady.get(z.name) === st.ready) continue;
      const first = !this.#zoneReady.has(z.name);
      this.#zoneReady.set(z.name, st.ready);
      if (!first || !st.ready) this.#o.observer?.zoneStatus(st);
    }
    this.#notify();
  }

  stop(): void {
    clearInterval(this.#timer);
    if (this.#rebuild) clearImmediate(this.#rebuild);
    this.#stop.abort();
    for (const r of this.#runners.values()) r.stop();
  }

  #attempted(runner: FeedRunner, result: RefreshResult, changed: boolean): void {
    if (this.#runners.get(runner.feed.name) !== runner) return; // replaced while in flight
    if (changed) {
      this.#checkOverlaps(runner);
      this.#rebuild ??= setImmediate(() => this.#rebuildNow());
      if (runner.feed.torExits) this.checkZones();
    }
    this.#o.observer?.refreshed(this.#statusOf(runner), result);
    this.#notify();
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }

  #rebuildNow(): void {
    if (this.#rebuild) clearImmediate(this.#rebuild);
    this.#rebuild = undefined;
    const feeds = [...this.#runners.values()].map((r) => ({ feed: r.feed, contents: r.contents }));
    this.#index = FeedIndex.build({ feeds, zones: this.#config.dynamicZones, geo: this.#o.geo, clock: this.#o.clock, cacheSize: this.#o.geoCacheSize });
  }

  #overlapsOf(contents: FeedContents): OverlapSummary {
    const prot = this.#config.protectedRanges;
    const cached = this.#overlaps.get(contents);
    if (cached && cached.protectedKey === prot) return cached.summary;
    const counts = { private: 0, bogon: 0, protected: 0 };
    const examples: SensitiveOverlap[] = [];
    forEachSensitiveOverlap(contents.ranges, prot, (entry, overlaps, kind) => {
      counts[kind]++;
      if (examples.length < MAX_EXAMPLES) examples.push({ entry: entry.source, overlaps, kind });
    });
    const summary = counts.private + counts.bogon + counts.protected === 0 ? NO_OVERLAPS : { counts, examples };
    this.#overlaps.set(contents, { protectedKey: prot, summary });
    return summary;
  }

  /** Reports a change in what a feed overlaps: once per change, not once per refresh. */
  #checkOverlaps(runner: FeedRunner): void {
    const st = this.#statusOf(runner);
    const key = JSON.stringify(st.sensitiveOverlaps);
    const before = this.#reportedOverlaps.get(runner.feed.name);
    if (before === key || (before === undefined && st.sensitiveOverlaps === NO_OVERLAPS)) return;
    this.#reportedOverlaps.set(runner.feed.name, key);
    this.#o.observer?.sensitiveOverlaps(st);
  }

  #statusOf(r: FeedRunner): FeedStatus {
    const s = r.state;
    const c = r.contents;
    const now = this.#o.clock.nowMs();
    const entries = !c ? 0 : c.expiresMs ? c.expiresMs.filter((e) => e === 0 || e > now).length : c.ranges.length;
    return {
      name: r.feed.name,
      source: r.feed.source.type,
      format: r.feed.format,
      semantics: r.feed.semantics,
      level: r.feed.level,
      ready: c !== undefined && (s.lastResult === 'ok' || s.lastResult === 'not_modified'),
      serving: c !== undefined,
      entries,
      badLines: s.lastBadCount,
      badLineSamples: c?.bad ?? [],
      ...(s.lastResult ? { lastResult: s.lastResult } : {}),
      ...(s.lastError ? { lastError: s.lastError } : {}),
      ...(s.lastAttemptMs !== undefined ? { lastRefreshTime: new Date(s.lastAttemptMs).toISOString() } : {}),
      ...(s.lastSuccessMs !== undefined ? { lastSuccessTime: new Date(s.lastSuccessMs).toISOString() } : {}),
      consecutiveFailures: s.consecutiveFailures,
      sensitiveOverlaps: c ? this.#overlapsOf(c) : NO_OVERLAPS,
      ...(c?.meta ? { meta: c.meta } : {}),
    };
  }

  #zoneStatusOf(z: CompiledDynamicZone): DynamicZoneStatus {
    // A Tor feed that has not had its first attempt yet counts as present, so start-up does not warn.
    const torFeed = [...this.#runners.values()].some((r) => r.feed.torExits && (r.contents !== undefined || !r.attempted));
    const geo = this.#o.geo;
    const missing = requiredDatabases(z.criteria, torFeed).filter((db) => !geo?.has(db));
    const needs = missing.map((db) => (db === 'anonymous' && z.criteria.proxyType === 'Tor' ? '--geoip-anonymous or a Tor exit ThreatFeed' : `--geoip-${db}`));
    const inUse = z.usage === 'Blocklist' || z.exempt;
    const message = missing.length > 0
      ? `cannot match on ${missing.join(', ')}: no database loaded (set ${needs.join(', ')}); the zone matches nothing on those criteria`
      : inUse ? 'ready' : 'ready (a Policy zone does nothing until a ThreatPolicy names it in exemptZones)';
    return { name: z.name, usage: z.usage, exempt: z.exempt, ready: missing.length === 0, missingDatabases: missing, message };
  }
}
