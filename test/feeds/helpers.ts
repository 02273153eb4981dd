import { fileURLToPath } from 'node:url';
import { compile } from '../../src/config/compile.ts';
import type { ConfigObject, DynamicZoneSpec, ThreatFeedSpec } from '../../src/api/objects.ts';
import type { Snapshot } from '../../src/decide/snapshot.ts';
import type { FeedConfig } from '../../src/feeds/config.ts';
import type { DynamicZoneStatus, FeedObserver, FeedStatus } from '../../src/feeds/manager.ts';
import type { RefreshResult } from '../../src/feeds/runner.ts';
import { parseAddress, type Address } from '../../src/net/address.ts';

const origin = { source: 'test' };

export const feed = (name: string, spec: ThreatFeedSpec): ConfigObject => ({ kind: 'ThreatFeed', name, origin, spec });
export const dynamicZone = (name: string, spec: DynamicZoneSpec): ConfigObject => ({ kind: 'DynamicZone', name, origin, spec });
export const LB: ConfigObject = { kind: 'IPZone', name: 'lb', origin, spec: { usage: 'Policy', proxies: ['10.0.0.0/16'] } };
export const policy = (action: 'None' | 'Audit' | 'Block', exemptZones: string[] = []): ConfigObject =>
  ({ kind: 'ThreatPolicy', name: 'p', origin, spec: { action, exemptZones, signIn: { routes: [{ path: { exact: '/login' } }] } } });

/** A snapshot from objects; throws on any compile issue so a typo in a test cannot pass silently. */
export function snapshotOf(objects: ConfigObject[], version = 1): Snapshot {
  const { snapshot, issues } = compile(objects, version, 0);
  if (issues.length > 0) throw new Error(issues.map((i) => `${i.name} ${i.field}: ${i.message}`).join('\n'));
  return snapshot;
}

/** The compiled feed config of objects (what the feed manager applies); throws on any compile issue. */
export function feedsOf(objects: ConfigObject[], version = 1): FeedConfig {
  const { feeds, issues } = compile(objects, version, 0);
  if (issues.length > 0) throw new Error(issues.map((i) => `${i.name} ${i.field}: ${i.message}`).join('\n'));
  return feeds;
}

export function ip(text: string): Address {
  const a = parseAddress(text);
  if (!a) throw new Error(`not an IP: ${text}`);
  return a;
}

export const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/feeds/${name}`, import.meta.url));
export const mmdb = (name: string): string => fileURLToPath(new URL(`../fixtures/mmdb/${name}`, import.meta.url));

/** Records everything the manager reports. */
export class RecordingObserver implements FeedObserver {
  readonly refreshes: Array<{ feed: string; result: RefreshResult; status: FeedStatus }> = [];
  readonly overlaps: FeedStatus[] = [];
  readonly zones: DynamicZoneStatus[] = [];
  configured: readonly string[] = [];
  feedsConfigured(names: readonly string[]): void {
    this.configured = names;
  }
  refreshed(status: FeedStatus, result: RefreshResult): void {
    this.refreshes.push({ feed: status.name, result, status });
  }
  sensitiveOverlaps(status: FeedStatus): void {
    this.overlaps.push(status);
  }
  zoneStatus(status: DynamicZoneStatus): void {
    this.zones.push(status);
  }
}
