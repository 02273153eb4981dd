import type { IpKey } from './ip-key.ts';
import { LEVEL_MEDIUM, levelName, type ThreatLevel } from './levels.ts';
import { NetTable, type NetworkCounts } from './net-table.ts';

/**
 * Failures per autonomous system (GeoLite2-ASN), beyond one /24 or /48: a botnet rented from one hosting provider
 * spreads over many networks of one ASN. The caller passes the ASN as a fact (src/feeds/geo.ts looks it up); this
 * is pure and bounded: `maxTrackedAsns` entries of 41 bytes (key 8, index 5, last second and the distinct-IP sketch ×2 12, four 32-bit counters 16) (NetTable with 32-bit counters, which a busy ISP
 * needs: its legitimate sign-ins alone pass 255 in ten minutes). Like the /24 aggregate it applies only to IPs
 * never seen to succeed, once `minDistinctIps` IPs of the ASN failed, and an ASN whose sign-ins mostly succeed
 * (a residential ISP: `maxFailureRatio`) is not attacking, whatever its volume.
 */
export interface AsnOptions {
  readonly windowMs: number;
  /** Failures of the ASN in the window at or above which it is LOW / MEDIUM (429) / HIGH (403); 0: off. */
  readonly low: number;
  readonly medium: number;
  readonly high: number;
  /** Distinct failing IPs (estimated, 32-bit sketch) before its failures count. */
  readonly minDistinctIps: number;
  /** An ASN with more than this share of its sign-ins succeeding ... */
  readonly maxFailureRatio: number;
  readonly maxTrackedAsns: number;
}

export const DEFAULT_ASN_OPTIONS: AsnOptions = Object.freeze({
  windowMs: 10 * 60_000,
  low: 20,
  medium: 40,
  high: 80,
  minDistinctIps: 10,
  maxFailureRatio: 0.25,
  maxTrackedAsns: 16_384,
});

/** Options that lay out the table (kept by reconfigure on a running table). */
export const ASN_SHAPE_FIELDS = ['windowMs', 'maxTrackedAsns'] as const;

export class AsnAggregates {
  #o: AsnOptions;
  #table: NetTable;
  readonly #counts: NetworkCounts = { failures: 0, successes: 0, distinctIps: 0 };
  /** Until when (s) some ASN was last seen at MEDIUM or above: before it, the Check path skips the ASN lookup. */
  #hotUntilSec = 0;
  #cursor = 0;

  constructor(options: Partial<AsnOptions> = {}) {
    this.#o = Object.freeze({ ...DEFAULT_ASN_OPTIONS, ...options });
    this.#table = new NetTable(this.#o.maxTrackedAsns, this.#o.windowMs / 1000, true);
  }

  get options(): AsnOptions {
    return this.#o;
  }

  get size(): number {
    return this.#table.index.size;
  }

  get byteLength(): number {
    return this.#table.byteLength;
  }

  /** New options; counts kept. Shape fields apply only while empty (at start); otherwise their names come back. */
  reconfigure(options: AsnOptions): string[] {
    const deferred = ASN_SHAPE_FIELDS.filter((k) => options[k] !== this.#o[k]);
    if (deferred.length > 0 && this.size === 0) {
      this.#o = Object.freeze({ ...options });
      this.#table = new NetTable(options.maxTrackedAsns, options.windowMs / 1000, true);
      return [];
    }
    this.#o = Object.freeze({ ...options, windowMs: this.#o.windowMs, maxTrackedAsns: this.#o.maxTrackedAsns });
    return deferred;
  }

  /** One sign-in outcome from `key` in autonomous system `asn`. */
  record(asn: number, key: IpKey, failure: boolean, nowMs: number): void {
    const now = Math.floor(nowMs / 1000);
    this.#table.record(asn, key, failure, now);
    if (failure && this.#level(asn, nowMs) >= LEVEL_MEDIUM) this.#hotUntilSec = now + Math.ceil(this.#o.windowMs / 1000);
  }

  /** Some ASN may be MEDIUM or above now (cheap; false in the common case, so the Check does no lookup). */
  hot(nowMs: number): boolean {
    return this.#hotUntilSec * 1000 > nowMs;
  }

  /** Level of the ASN (NONE when untracked, below minDistinctIps, or mostly succeeding). Read-only. */
  level(asn: number, nowMs: number): ThreatLevel {
    return levelName(this.#level(asn, nowMs));
  }

  /** Counts of one ASN (explain, tests); undefined when untracked or idle. */
  counts(asn: number, nowMs: number): NetworkCounts | undefined {
    const out = { failures: 0, successes: 0, distinctIps: 0 };
    return this.#table.counts(asn, nowMs, out) ? out : undefined;
  }

  /** Drops ASNs idle for two windows, `budget` at a time. */
  sweep(budget: number, nowMs: number): void {
    this.#cursor = this.#table.sweep(budget, Math.floor(nowMs / 1000), this.#cursor);
  }

  #level(asn: number, nowMs: number): number {
    const c = this.#counts;
    if (!this.#table.counts(asn, nowMs, c) || c.distinctIps < this.#o.minDistinctIps) return 0;
    if (c.failures <= this.#o.maxFailureRatio * (c.failures + c.successes)) return 0;
    const o = this.#o;
    if (o.high > 0 && c.failures >= o.high) return 3;
    if (o.medium > 0 && c.failures >= o.medium) return 2;
    return o.low > 0 && c.failures >= o.low ? 1 : 0;
  }
}
