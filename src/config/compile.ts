import { parseRange, type Address, type AddressRange } from '../net/address.ts';
import { RangeIndex, type RangeIndexParts } from '../net/range-index.ts';
import { compileRoutes } from '../decide/sign-in-routes.ts';
import { DEFAULT_PASSWORD_FIELDS, DEFAULT_USERNAME_SOURCE } from '../decide/username.ts';
import { DEFAULT_OUTCOME_RULES } from '../decide/outcome.ts';
import { compileDynamicZone, compileThreatFeed, type CompiledDynamicZone, type CompiledFeed, type FeedConfig, type ProtectedRange } from '../feeds/config.ts';
import type { ConfigIssue, ConfigObject, DynamicZoneObject, IPZoneObject, ThreatPolicyObject } from '../api/objects.ts';
import type { CompiledPolicy, Snapshot, ZoneMembership, ZoneSummary } from '../decide/snapshot.ts';
import { DEFAULT_DETECTION, type DetectionSettings } from '../detect/detection.ts';
import { compileDetection } from './detection.ts';

export interface CompileResult {
  readonly snapshot: Snapshot;
  /** ThreatFeeds and DynamicZones, compiled; read by the feed manager (src/feeds/manager.ts), not by decide(). */
  readonly feeds: FeedConfig;
  /** Objects left out, and why. The snapshot is built from the rest. */
  readonly issues: readonly ConfigIssue[];
}

/**
 * The costly part of a compile (every zone entry parsed and swept into the index: ~140 ms at 100k CIDRs) as
 * plain data, so a worker thread can do it and post it back; compile() given it skips that part.
 */
export interface ZoneIndexParts {
  readonly index: RangeIndexParts<ZoneMembership>;
  readonly entryCount: number;
  readonly summaries: readonly ZoneSummary[];
  readonly protectedRanges: readonly ProtectedRange[];
}

/** The zone part of a compile that had no issues, for compile(objects, ..., parts) on another thread. */
export function zoneIndexParts(result: CompileResult): ZoneIndexParts {
  return { index: result.snapshot.index.toParts(), entryCount: result.snapshot.entryCount, summaries: result.snapshot.zones, protectedRanges: result.feeds.protectedRanges };
}

/** The policy in force when no ThreatPolicy object exists: audit on the default sign-in routes. */
const IMPLICIT_POLICY_NAME = '(default)';

/** True for the policy compile() puts in force when no ThreatPolicy exists (no object name can contain "("). */
export function isImplicitPolicy(p: CompiledPolicy): boolean {
  return p.name === IMPLICIT_POLICY_NAME;
}

/**
 * Turns validated objects into an immutable snapshot. An object with a problem is left out and reported;
 * callers choose whether that rejects the whole reload (files) or only that object (Kubernetes).
 * `detectionDefaults` fill what spec.detection leaves unset (the process's --max-tracked-ips is one).
 * `prebuilt`: the zone part, already compiled without issues from exactly these objects (a worker thread's
 * zoneIndexParts()); the zones' entries are then not parsed again.
 */
export function compile(objects: readonly ConfigObject[], version: number, nowMs: number, detectionDefaults: DetectionSettings = DEFAULT_DETECTION, prebuilt?: ZoneIndexParts): CompileResult {
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const zones: IPZoneObject[] = [];
  const policies: ThreatPolicyObject[] = [];
  const threatFeeds: CompiledFeed[] = [];
  const dynamicZones = new Map<string, { object: DynamicZoneObject; zone: CompiledDynamicZone }>();
  for (const o of objects) {
    const key = `${o.kind}/${o.namespace ?? ''}/${o.name}`;
    if (seen.has(key)) {
      issues.push({ origin: o.origin, kind: o.kind, name: o.name, code: 'CONFIG_DUPLICATE', message: `duplicate ${o.kind} name; the first definition is used` });
      continue;
    }
    seen.add(key);
    if (o.kind === 'IPZone') zones.push(o);
    else if (o.kind === 'ThreatPolicy') policies.push(o);
    else if (o.kind === 'ThreatFeed') {
      const r = compileThreatFeed(o);
      if ('issues' in r) issues.push(...r.issues);
      else threatFeeds.push(r.feed);
    } else {
      const r = compileDynamicZone(o, false);
      if ('issues' in r) issues.push(...r.issues);
      else dynamicZones.set(o.name, { object: o, zone: r.zone });
    }
  }

  // Exactly one policy is in force: the first by name, so the choice is stable across reloads.
  policies.sort((a, b) => a.name.localeCompare(b.name));
  for (const extra of policies.slice(1)) {
    issues.push({ origin: extra.origin, kind: extra.kind, name: extra.name, code: 'CONFIG_CONFLICT', message: `only one ThreatPolicy is in force; "${policies[0]!.name}" is used and this one is ignored` });
  }

  const zoneRanges = new Map<string, { zone: IPZoneObject; gateways: AddressRange[]; proxies: AddressRange[] }>();
  for (const zone of zones) {
    if (prebuilt) {
      zoneRanges.set(zone.name, { zone, gateways: [], proxies: [] }); // names and usage only: the entries are in prebuilt
      continue;
    }
    const bad: ConfigIssue[] = [];
    const parseList = (field: 'gateways' | 'proxies') =>
      (zone.spec[field] ?? []).flatMap((entry, i) => {
        const r = parseRange(entry);
        if ('error' in r) {
          bad.push({ origin: zone.origin, kind: zone.kind, name: zone.name, field: `spec.${field}[${i}]`, code: 'CONFIG_SCHEMA', message: `${JSON.stringify(entry)}: ${r.error}` });
          return [];
        }
        return [r];
      });
    const gateways = parseList('gateways');
    const proxies = parseList('proxies');
    if (zone.spec.usage === 'Blocklist' && proxies.length > 0) {
      bad.push({ origin: zone.origin, kind: zone.kind, name: zone.name, field: 'spec.proxies', code: 'CONFIG_SCHEMA', message: 'proxies are only allowed on Policy zones (a blocklisted address cannot be a trusted proxy)' });
    }
    if (bad.length > 0) issues.push(...bad);
    else zoneRanges.set(zone.name, { zone, gateways, proxies });
  }

  let policy: CompiledPolicy | undefined;
  const chosen = policies[0];
  if (chosen) {
    const bad: ConfigIssue[] = [];
    (chosen.spec.exemptZones ?? []).forEach((name, i) => {
      // A name may be an IPZone, a DynamicZone or both (both are then exempt).
      const found = [zoneRanges.get(name)?.zone, dynamicZones.get(name)?.object].filter((z) => z !== undefined);
      if (found.length === 0) bad.push({ origin: chosen.origin, kind: chosen.kind, name: chosen.name, field: `spec.exemptZones[${i}]`, code: 'CONFIG_REFERENCE', message: `no valid IPZone named "${name}" (nor a DynamicZone of that name)` });
      for (const z of found) {
        if (z.spec.usage !== 'Policy') bad.push({ origin: chosen.origin, kind: chosen.kind, name: chosen.name, field: `spec.exemptZones[${i}]`, code: 'CONFIG_REFERENCE', message: `${z.kind} "${name}" is a Blocklist zone; only Policy zones can be exempt` });
      }
    });
    const detection = compileDetection(chosen.spec.detection, detectionDefaults);
    if ('problems' in detection) {
      for (const p of detection.problems) bad.push({ origin: chosen.origin, kind: chosen.kind, name: chosen.name, field: p.field, code: 'CONFIG_SCHEMA', message: p.message });
    }
    try {
      if (bad.length === 0 && 'settings' in detection) policy = policyOf(chosen.name, chosen.spec, detection.settings);
    } catch (err) {
      bad.push({ origin: chosen.origin, kind: chosen.kind, name: chosen.name, code: 'CONFIG_SCHEMA', message: (err as Error).message });
    }
    issues.push(...bad);
  }
  policy ??= policyOf(IMPLICIT_POLICY_NAME, {}, detectionDefaults);

  const exempt = new Set(policy.exemptZones);
  const zonesPart = prebuilt ? fromPrebuilt(prebuilt) : indexZones(zoneRanges.values(), exempt);

  const feeds: FeedConfig = Object.freeze({
    threatFeeds: Object.freeze(threatFeeds.sort((a, b) => a.name.localeCompare(b.name))),
    dynamicZones: Object.freeze([...dynamicZones.values()].map(({ zone }) => (exempt.has(zone.name) && zone.usage === 'Policy' ? { ...zone, exempt: true } : zone))
      .sort((a, b) => a.name.localeCompare(b.name))),
    protectedRanges: Object.freeze(zonesPart.protectedRanges),
  });
  const snapshot: Snapshot = Object.freeze({
    version,
    compiledAtMs: nowMs,
    objects: Object.freeze([...objects]),
    zones: Object.freeze(zonesPart.summaries),
    entryCount: zonesPart.entryCount,
    index: zonesPart.index,
    policy,
    isTrustedProxy: trustedProxyTest(zonesPart.index),
  });
  return { snapshot, feeds, issues };
}

interface ZonesPart {
  readonly index: Snapshot['index'];
  readonly entryCount: number;
  readonly summaries: readonly ZoneSummary[];
  readonly protectedRanges: readonly ProtectedRange[];
}

function fromPrebuilt(p: ZoneIndexParts): ZonesPart {
  return { index: RangeIndex.fromParts(p.index), entryCount: p.entryCount, summaries: p.summaries.map((z) => Object.freeze(z)), protectedRanges: p.protectedRanges };
}

/** Every zone entry into one index; its own function so nothing of it outlives the build (see trustedProxyTest). */
function indexZones(zoneRanges: Iterable<{ zone: IPZoneObject; gateways: AddressRange[]; proxies: AddressRange[] }>, exempt: ReadonlySet<string>): ZonesPart {
  const entries: Array<{ range: AddressRange; value: ZoneMembership }> = [];
  const summaries: ZoneSummary[] = [];
  const protectedRanges: ProtectedRange[] = [];
  for (const { zone, gateways, proxies } of zoneRanges) {
    const usage = zone.spec.usage;
    const gw: ZoneMembership = Object.freeze({ zone: zone.name, role: 'gateway', usage, exempt: exempt.has(zone.name) });
    const px: ZoneMembership = Object.freeze({ zone: zone.name, role: 'proxy', usage, exempt: false });
    for (const range of gateways) entries.push({ range, value: gw });
    for (const range of proxies) entries.push({ range, value: px });
    summaries.push({ name: zone.name, usage, gateways: gateways.length, proxies: proxies.length });
    // The feed guard rail warns when a feed lists our own proxies or Policy gateways.
    if (usage === 'Policy') {
      for (const range of proxies) protectedRanges.push({ range, label: `${range.source} (proxies of IPZone ${zone.name})` });
      for (const range of gateways) protectedRanges.push({ range, label: `${range.source} (gateways of IPZone ${zone.name})` });
    }
  }
  return { index: RangeIndex.build(entries), entryCount: entries.length, summaries, protectedRanges };
}

function policyOf(name: string, spec: ThreatPolicyObject['spec'], detection: DetectionSettings): CompiledPolicy {
  return Object.freeze({
    name,
    action: spec.action ?? 'Audit',
    exemptZones: Object.freeze([...(spec.exemptZones ?? [])]),
    signIn: compileRoutes(spec.signIn?.routes),
    enforceBlocksOnAllRoutes: spec.signIn?.enforceBlocksOnAllRoutes ?? true,
    username: spec.username ? Object.freeze({ fields: spec.username.fields ?? DEFAULT_USERNAME_SOURCE.fields, header: spec.username.header }) : DEFAULT_USERNAME_SOURCE,
    outcomes: spec.outcomes
      ? Object.freeze({
        failureStatuses: spec.outcomes.failureStatusCodes ? new Set(spec.outcomes.failureStatusCodes) : DEFAULT_OUTCOME_RULES.failureStatuses,
        successStatuses: spec.outcomes.successStatusCodes ? new Set(spec.outcomes.successStatusCodes) : DEFAULT_OUTCOME_RULES.successStatuses,
        resultHeader: spec.outcomes.resultHeader ?? DEFAULT_OUTCOME_RULES.resultHeader,
      })
      : DEFAULT_OUTCOME_RULES,
    orgUnderAttack: spec.orgUnderAttack?.enabled ?? true,
    accountProtection: spec.accountProtection?.enabled ?? true,
    passwordFields: spec.passwordSignals?.enabled === true ? Object.freeze([...(spec.passwordSignals.fields ?? DEFAULT_PASSWORD_FIELDS)]) : undefined,
    detection,
  });
}

/**
 * Built outside compile() so the closure captures only the index: a closure created inside it would keep the
 * whole compile scope alive for the snapshot's lifetime (the parsed ranges and entry objects, ~40 MB at 100k
 * CIDRs), because V8 shares one context among all closures of a function.
 */
function trustedProxyTest(index: Snapshot['index']): (a: Address) => boolean {
  return (a) => {
    const ms = index.lookup(a);
    for (let i = 0; i < ms.length; i++) if (ms[i]!.role === 'proxy') return true;
    return false;
  };
}
