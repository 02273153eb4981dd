import { createHash } from 'node:crypto';
// ThreatFeed and DynamicZone objects compiled into what the feed manager runs. Called from
// src/config/compile.ts, so files and Kubernetes get the same checks; contents are fetched later.
import { parseDuration as parseDurationText } from '../duration.ts';
import { parseRange, type AddressRange } from '../net/address.ts';
import type { ConfigIssue, DynamicZoneObject, ThreatFeedObject } from '../api/objects.ts';
import type { DynamicZoneCriteria } from './dynamic-zone.ts';
import { isFeedFormat, type FeedFormat } from './formats/index.ts';

export type FeedLevel = 'LOW' | 'MEDIUM' | 'HIGH';

export interface InlineEntry {
  readonly range: AddressRange;
  /** ms since epoch after which the entry no longer counts; 0: never. */
  readonly expiresMs: number;
}

export type FeedSource =
  | { readonly type: 'inline'; readonly entries: readonly InlineEntry[] }
  | { readonly type: 'file'; readonly path: string; readonly maxBytes: number }
  | { readonly type: 'http'; readonly url: string; readonly intervalMs: number; readonly timeoutMs: number; readonly maxBytes: number };

export interface CompiledFeed {
  readonly name: string;
  readonly source: FeedSource;
  readonly format: FeedFormat;
  readonly semantics: 'ThreatLevel' | 'Blocklist';
  readonly level: FeedLevel;
  /** A tor-bulk / tor-exit-addresses feed: its members are Tor exits for `proxyType: Tor` dynamic zones. */
  readonly torExits: boolean;
  /** What is read and how: a running source is kept across reloads while this is unchanged. */
  readonly sourceKey: string;
}

export interface CompiledDynamicZone {
  readonly name: string;
  readonly usage: 'Policy' | 'Blocklist';
  /** Named in the policy's exemptZones. */
  readonly exempt: boolean;
  readonly criteria: DynamicZoneCriteria;
}

/** Ranges the guard rail protects: gateways and proxies of Policy zones. */
export interface ProtectedRange {
  readonly range: AddressRange;
  readonly label: string;
}

export interface FeedConfig {
  readonly threatFeeds: readonly CompiledFeed[];
  readonly dynamicZones: readonly CompiledDynamicZone[];
  readonly protectedRanges: readonly ProtectedRange[];
}

export const EMPTY_FEED_CONFIG: FeedConfig = Object.freeze({ threatFeeds: [], dynamicZones: [], protectedRanges: [] });

export const DEFAULT_MAX_BYTES = 67_108_864;
/** Feed operators (Spamhaus, FireHOL) ask for hourly pulls at most; below a minute is always a mistake. */
export const MIN_INTERVAL_MS = 60_000;

/** "1h30m", "45s", "500ms" -> ms; undefined when malformed (no days: feed intervals are hours at most). */
export function parseDuration(text: string): number | undefined {
  return parseDurationText(text, false);
}

/** RFC 3339 -> ms, NaN when not a real time. Date.parse alone rolls 2026-02-30 over to March 2. */
export function parseTimestamp(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.exec(text);
  if (!m) return NaN;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || sec > 59) return NaN;
  return Date.parse(text);
}

function issueOf(o: ThreatFeedObject | DynamicZoneObject, field: string, message: string): ConfigIssue {
  return { origin: o.origin, kind: o.kind, name: o.name, field, code: 'CONFIG_SCHEMA', message };
}

export function compileThreatFeed(o: ThreatFeedObject): { feed: CompiledFeed } | { issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const spec = o.spec;
  const format = spec.format ?? 'plain';
  if (!isFeedFormat(format)) issues.push(issueOf(o, 'spec.format', `unknown format ${JSON.stringify(format)}`));
  let source: FeedSource | undefined;
  const s = spec.source;
  const set = [s.inline, s.path, s.http].filter((x) => x !== undefined).length;
  if (set !== 1) {
    issues.push(issueOf(o, 'spec.source', 'set exactly one of inline, path or http'));
  } else if (s.inline) {
    const entries: InlineEntry[] = [];
    s.inline.forEach((e, i) => {
      const r = parseRange(e.address);
      if ('error' in r) issues.push(issueOf(o, `spec.source.inline[${i}].address`, r.error));
      const expiresMs = e.expires === undefined ? 0 : parseTimestamp(e.expires);
      if (Number.isNaN(expiresMs)) issues.push(issueOf(o, `spec.source.inline[${i}].expires`, `${JSON.stringify(e.expires)} is not a valid time`));
      if (!('error' in r) && !Number.isNaN(expiresMs)) entries.push({ range: r, expiresMs });
    });
    source = { type: 'inline', entries };
  } else if (s.path !== undefined) {
    source = { type: 'file', path: s.path, maxBytes: DEFAULT_MAX_BYTES };
  } else if (s.http) {
    const h = s.http;
    let url: URL | undefined;
    try {
      url = new URL(h.url);
    } catch {
      issues.push(issueOf(o, 'spec.source.http.url', 'not a valid URL'));
    }
    if (url && url.protocol !== 'http:' && url.protocol !== 'https:') issues.push(issueOf(o, 'spec.source.http.url', 'must be http or https'));
    if (url && (url.username || url.password)) {
      issues.push(issueOf(o, 'spec.source.http.url', 'credentials in the URL would end up in logs; put the feed behind a URL without them'));
    }
    const intervalMs = parseDuration(h.interval ?? '1h');
    const timeoutMs = parseDuration(h.timeout ?? '30s');
    if (intervalMs === undefined || intervalMs < MIN_INTERVAL_MS) issues.push(issueOf(o, 'spec.source.http.interval', 'must be a duration of at least 1m (e.g. 1h)'));
    if (timeoutMs === undefined || timeoutMs < 100) issues.push(issueOf(o, 'spec.source.http.timeout', 'must be a duration of at least 100ms (e.g. 30s)'));
    else if (intervalMs !== undefined && timeoutMs > intervalMs) issues.push(issueOf(o, 'spec.source.http.timeout', 'must not be longer than the interval'));
    if (issues.length === 0) source = { type: 'http', url: h.url, intervalMs: intervalMs!, timeoutMs: timeoutMs!, maxBytes: h.maxBytes ?? DEFAULT_MAX_BYTES };
  }
  if (issues.length > 0 || !source || !isFeedFormat(format)) return { issues };
  // Identifies what a runner reads: a change of it restarts the runner. Inline entries are part of the
  // source, so editing them must change the key (hashed: a list can hold 200k entries).
  const sourceKey = source.type === 'inline'
    ? `inline:${o.name}:${createHash('sha256').update(JSON.stringify(source)).digest('base64url')}`
    : JSON.stringify([format, source]);
  return {
    feed: Object.freeze({
      name: o.name,
      source,
      format,
      semantics: spec.semantics ?? 'ThreatLevel',
      level: spec.level ?? 'HIGH',
      torExits: format === 'tor-bulk' || format === 'tor-exit-addresses',
      sourceKey,
    }),
  };
}

export function compileDynamicZone(o: DynamicZoneObject, exempt: boolean): { zone: CompiledDynamicZone } | { issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const spec = o.spec;
  const locations = (spec.locations ?? []).map((l, i) => {
    const country = l.country.toUpperCase();
    const region = l.region?.toUpperCase();
    if (region?.includes('-') && !region.startsWith(`${country}-`)) {
      issues.push(issueOf(o, `spec.locations[${i}].region`, `${l.region} is not a subdivision of ${country}`));
    }
    return region ? { country, region } : { country };
  });
  const criteria: DynamicZoneCriteria = {
    ...(spec.proxyType ? { proxyType: spec.proxyType } : {}),
    ...(locations.length > 0 ? { locations } : {}),
    ...(spec.asns && spec.asns.length > 0 ? { asns: [...new Set(spec.asns)] } : {}),
  };
  if (!criteria.proxyType && !criteria.locations && !criteria.asns) {
    issues.push(issueOf(o, 'spec', 'set proxyType, locations or asns: a dynamic zone with no criteria matches nothing'));
  }
  if (issues.length > 0) return { issues };
  return { zone: Object.freeze({ name: o.name, usage: spec.usage, exempt: exempt && spec.usage === 'Policy', criteria }) };
}
