import { bounded, TEXT_LIMITS } from '../bounded.ts';
import { Counter, Gauge, type Registry } from 'prom-client';
import { OVERLAP_KINDS } from '../feeds/bogons.ts';
import type { GeoDbStatus } from '../feeds/geo.ts';
import type { DynamicZoneStatus, FeedObserver, FeedStatus } from '../feeds/manager.ts';
import { REFRESH_RESULTS, type RefreshResult } from '../feeds/runner.ts';
import type { Clock } from '../clock.ts';
import type { EventSink, SecurityEvent } from './events.ts';
import type { Logger } from './logger.ts';

/** What the feed metrics read at scrape time. */
export interface FeedTelemetrySource {
  feedStatus(): FeedStatus[];
  zoneStatus(): DynamicZoneStatus[];
  geoStatus(): GeoDbStatus[];
}

/**
 * Feed and dynamic-zone metrics. `feed` and `zone` labels are object names, bounded by config (series of a
 * removed feed are dropped); results, kinds and databases are closed sets. Never an entry or an address.
 */
export class FeedMetrics {
  readonly #refreshes: Counter;
  readonly #children = new Map<string, Map<RefreshResult, Counter.Internal>>();

  constructor(registry: Registry, read: () => FeedTelemetrySource | undefined) {
    const registers = [registry];
    this.#refreshes = new Counter({ name: 'portcullis_feed_refreshes_total', help: 'Feed reads by result (ok, not_modified, error, too_large, timeout); failures keep the last good contents.', labelNames: ['feed', 'result'], registers });
    const perFeed = (name: string, help: string, value: (s: FeedStatus) => number | undefined) =>
      new Gauge({
        name, help, labelNames: ['feed'], registers,
        collect() {
          this.reset();
          for (const s of read()?.feedStatus() ?? []) {
            const v = value(s);
            if (v !== undefined) this.set({ feed: s.name }, v);
          }
        },
      });
    perFeed('portcullis_feed_entries', 'Addresses and ranges a feed currently contributes.', (s) => s.entries);
    perFeed('portcullis_feed_bad_lines', 'Lines of the last body read that were not an entry.', (s) => s.badLines);
    perFeed('portcullis_feed_ready', '1 when the feed is serving and its last read succeeded.', (s) => (s.ready ? 1 : 0));
    perFeed('portcullis_feed_last_success_timestamp_seconds', 'When the feed was last read successfully (ok or not_modified).', (s) => (s.lastSuccessTime ? Date.parse(s.lastSuccessTime) / 1000 : undefined));
    new Gauge({
      name: 'portcullis_feed_sensitive_overlaps', help: 'Feed entries overlapping private, bogon or protected (trusted proxy / Policy gateway) ranges.', labelNames: ['feed', 'kind'], registers,
      collect() {
        this.reset();
        for (const s of read()?.feedStatus() ?? []) for (const k of OVERLAP_KINDS) this.set({ feed: s.name, kind: k }, s.sensitiveOverlaps.counts[k]);
      },
    });
    new Gauge({
      name: 'portcullis_dynamic_zone_ready', help: '1 when every database a DynamicZone needs is loaded; 0 means it cannot match on some criteria.', labelNames: ['zone'], registers,
      collect() {
        this.reset();
        for (const z of read()?.zoneStatus() ?? []) this.set({ zone: z.name }, z.ready ? 1 : 0);
      },
    });
    new Gauge({
      name: 'portcullis_geoip_database_ready', help: '1 when a configured MaxMind database is answering lookups.', labelNames: ['db'], registers,
      collect() {
        this.reset();
        for (const d of read()?.geoStatus() ?? []) this.set({ db: d.db }, d.serving ? 1 : 0);
      },
    });
  }

  /** Binds the counters of new feeds (so their series exist at 0) and drops those of removed ones. */
  configure(names: readonly string[]): void {
    const wanted = new Set(names);
    for (const [name] of this.#children) {
      if (wanted.has(name)) continue;
      for (const r of REFRESH_RESULTS) this.#refreshes.remove(name, r);
      this.#children.delete(name);
    }
    for (const name of wanted) {
      if (this.#children.has(name)) continue;
      const children = new Map(REFRESH_RESULTS.map((r) => [r, this.#refreshes.labels(name, r)]));
      for (const c of children.values()) c.inc(0); // the series exist at 0, so rate() and alerts see the first failure
      this.#children.set(name, children);
    }
  }

  refresh(feed: string, result: RefreshResult): void {
    this.#children.get(feed)?.get(result)?.inc();
  }
}

/** The guard rail's event: a feed lists ranges that may be our own infrastructure. */
export function sensitiveOverlapEvent(uuid: string, nowMs: number, s: FeedStatus): SecurityEvent {
  const c = s.sensitiveOverlaps.counts;
  return {
    eventType: 'system.feed.sensitive_overlap',
    uuid,
    published: new Date(nowMs).toISOString(),
    severity: 'WARN',
    displayMessage: c.protected > 0
      ? 'Threat feed lists ranges of trusted proxies or Policy gateways'
      : 'Threat feed lists private or bogon ranges',
    actor: { id: 'unknown', type: 'System' },
    outcome: { result: 'SUCCESS', reason: 'sensitive_overlap' },
    debugContext: {
      debugData: {
        feed: bounded(s.name, TEXT_LIMITS.name),
        semantics: s.semantics,
        protected: String(c.protected),
        private: String(c.private),
        bogon: String(c.bogon),
        examples: bounded(s.sensitiveOverlaps.examples.map((e) => `${e.entry} overlaps ${e.overlaps}`).join('; '), TEXT_LIMITS.message),
      },
    },
  };
}

/** Logs, events and metrics for what the feed manager reports. */
export function feedObserver(d: { metrics: FeedMetrics; logger: Logger; events: EventSink; clock: Clock; newId: () => string }): FeedObserver {
  return {
    feedsConfigured: (names) => d.metrics.configure(names),
    refreshed(s, result) {
      d.metrics.refresh(s.name, result);
      const info = { feed: s.name, result, entries: s.entries, badLines: s.badLines };
      if (result === 'ok') d.logger.info(info, 'feed refreshed');
      else if (result === 'not_modified') d.logger.debug(info, 'feed not modified');
      else d.logger.warn({ ...info, error: s.lastError, consecutiveFailures: s.consecutiveFailures, serving: s.serving }, s.serving ? 'feed refresh failed; keeping the last good contents' : 'feed refresh failed; the feed has no contents yet');
    },
    sensitiveOverlaps(s) {
      const c = s.sensitiveOverlaps.counts;
      if (c.private + c.bogon + c.protected === 0) {
        d.logger.info({ feed: s.name }, 'feed no longer lists private, bogon or protected ranges');
        return;
      }
      d.logger.warn(
        { feed: s.name, counts: c, examples: s.sensitiveOverlaps.examples },
        'feed lists private/bogon ranges or ranges of your trusted proxies or gateways: trusted proxies are never blocked, but other clients in those ranges are',
      );
      d.events.emit(sensitiveOverlapEvent(d.newId(), d.clock.nowMs(), s));
    },
    zoneStatus(z) {
      if (z.ready) d.logger.info({ zone: z.name }, 'dynamic zone ready');
      else d.logger.warn({ zone: z.name, missing: z.missingDatabases }, `dynamic zone ${z.name}: ${z.message}`);
    },
  };
}
