import type { DynamicZoneStatus, FeedStatus } from '../../feeds/manager.ts';
import type { ConfigIssue } from '../../api/objects.ts';
import { bounded, boundedList, LIST_LIMIT, TEXT_LIMITS } from '../../bounded.ts';
import type { ObjectVerdict, Tracked } from './reconciler.ts';

/** Every reason Portcullis puts on a condition or an Event: a closed set, documented in docs/kubernetes.md. */
export const CONDITION_REASONS = [
  'Valid', 'InvalidSpec', 'InvalidEntry', 'InvalidReference', 'DuplicateName', 'Serving', 'ServingPreviousGeneration', 'NotServing', 'NotInForce',
  'Refreshing', 'RefreshFailed', 'MissingDatabase', 'OverlapsProtectedRanges', 'OverlapsReservedRanges',
] as const;
export const EVENT_REASONS = ['InvalidSpec', 'InvalidEntry', 'InvalidReference', 'DuplicateName', 'Valid', 'OrgUnderAttackStarted', 'OrgUnderAttackEnded'] as const;
export type ConditionReason = (typeof CONDITION_REASONS)[number];

/** metav1.Condition. */
export interface Condition {
  readonly type: 'Accepted' | 'Ready' | string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
  readonly reason: string;
  readonly message: string;
}

export interface AttackState {
  readonly state: 'Normal' | 'UnderAttack';
  readonly since: string;
}

/** What the feed manager reports for the object (the one of that name that serves), if it is a feed or dynamic zone. */
export interface RuntimeStatus {
  readonly feed?: FeedStatus;
  readonly zone?: DynamicZoneStatus;
}

/** An Event the status change deserves (written only with the status, so one transition gives one Event). */
export interface StatusEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

/** The Accepted condition's message: the first 20 issues (each capped), then how many more; about 4000 chars. */
export function issuesMessage(issues: readonly ConfigIssue[]): string {
  const parts = boundedList(issues, (i) => bounded(i.field ? `${i.field}: ${i.message}` : i.message, TEXT_LIMITS.message));
  // The count of the rest survives the cut: it is what tells the reader how big the problem is.
  const more = issues.length > LIST_LIMIT ? parts.pop()! : undefined;
  const listed = bounded(parts.join('; '), 3800);
  return more ? `${listed}; ${more}` : listed;
}

function acceptedReason(t: Tracked, issues: readonly ConfigIssue[]): ConditionReason {
  if (!t.current) return 'InvalidSpec';
  if (issues.some((i) => i.field === 'metadata.name')) return 'DuplicateName';
  if (issues.some((i) => i.field?.startsWith('spec.exemptZones'))) return 'InvalidReference';
  return 'InvalidEntry';
}

type OwnCondition = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'> & { reason: ConditionReason };

const seconds = (iso: string) => iso.replace(/\.\d{3}Z$/, 'Z');

function readyCondition(t: Tracked, v: ObjectVerdict, runtime: RuntimeStatus | undefined): OwnCondition {
  const config = configReadyCondition(t, v);
  if (config.reason !== 'Serving') return config;
  if (t.kind === 'ThreatFeed' && runtime?.feed) return feedReadyCondition(t, runtime.feed);
  if (t.kind === 'DynamicZone' && runtime?.zone) return zoneReadyCondition(t, runtime.zone);
  return config;
}

/** A serving feed is ready when its last read succeeded; a failed read names the error (the last good contents keep serving). */
function feedReadyCondition(t: Tracked, f: FeedStatus): OwnCondition {
  if (f.lastResult === undefined) return { type: 'Ready', status: 'Unknown', reason: 'Refreshing', message: `generation ${t.generation} is serving; the first read of the feed is in progress` };
  if (f.ready) return { type: 'Ready', status: 'True', reason: 'Serving', message: `generation ${t.generation} is serving; the last read succeeded` };
  const keeps = f.serving && f.lastSuccessTime ? `the contents read at ${seconds(f.lastSuccessTime)} keep serving` : 'the feed has no contents yet';
  return { type: 'Ready', status: 'False', reason: 'RefreshFailed', message: `last read failed (${f.lastResult}): ${f.lastError ?? 'no detail'}; ${keeps}`.slice(0, 4000) };
}

function zoneReadyCondition(t: Tracked, z: DynamicZoneStatus): OwnCondition {
  if (!z.ready) return { type: 'Ready', status: 'False', reason: 'MissingDatabase', message: z.message };
  return { type: 'Ready', status: 'True', reason: 'Serving', message: `generation ${t.generation} is serving${z.message === 'ready' ? '' : `; ${z.message}`}` };
}

/** The feed guard rail's warning: entries overlapping Policy zones' proxies or gateways, private or bogon space. */
function overlapCondition(f: FeedStatus): OwnCondition | undefined {
  const c = f.sensitiveOverlaps.counts;
  if (c.protected + c.private + c.bogon === 0) return undefined;
  const examples = f.sensitiveOverlaps.examples.map((e) => `${e.entry} overlaps ${e.overlaps}`).join(', ');
  return {
    type: 'SensitiveOverlap', status: 'True', reason: c.protected > 0 ? 'OverlapsProtectedRanges' : 'OverlapsReservedRanges',
    message: `entries overlapping: ${c.protected} proxies or gateways of Policy IPZones, ${c.private} private, ${c.bogon} bogon (e.g. ${examples}); `
      + 'trusted proxies are never blocked, but other clients in these ranges are',
  };
}

function configReadyCondition(t: Tracked, v: ObjectVerdict): OwnCondition {
  if (v.serving === 'none') return { type: 'Ready', status: 'False', reason: 'NotServing', message: 'no valid generation of this object has been seen; it is left out' };
  if (v.serving === 'previous') {
    return { type: 'Ready', status: 'False', reason: 'ServingPreviousGeneration', message: `generation ${t.generation} is not accepted; generation ${v.servingGeneration} keeps serving` };
  }
  if (v.inForce === false) return { type: 'Ready', status: 'False', reason: 'NotInForce', message: 'only one ThreatPolicy is in force (the first valid one by name); this one is standing by' };
  return { type: 'Ready', status: 'True', reason: 'Serving', message: `generation ${t.generation} is serving` };
}

/** Sorted-key JSON, so two statuses compare equal whatever order the API server returned fields in. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The status this replica would write, merged into the existing one: fields and condition types owned by others
 * are kept, and lastTransitionTime only moves when a condition's status changes. A ThreatFeed or DynamicZone
 * also shows what the feed manager reports (`runtime`; absent: those fields are left as they are).
 * Returns undefined when the object already says exactly this.
 */
export function desiredStatus(t: Tracked, now: Date, attack: AttackState | undefined, runtime?: RuntimeStatus): { status: Record<string, unknown>; event?: StatusEvent } | undefined {
  const v = t.verdict;
  if (!v) return undefined;
  const existing = (t.raw.status ?? {}) as Record<string, unknown>;
  const oldConditions = Array.isArray(existing.conditions) ? (existing.conditions as Condition[]) : [];
  const accepted: OwnCondition = v.accepted
    ? { type: 'Accepted', status: 'True', reason: 'Valid', message: `generation ${t.generation} is valid` }
    : { type: 'Accepted', status: 'False', reason: acceptedReason(t, v.issues), message: issuesMessage(v.issues) };
  const own: OwnCondition[] = [accepted, readyCondition(t, v, runtime)];
  // The overlap warning is ours too: it disappears when the feed no longer lists such ranges.
  const dropped = new Set<string>();
  if (t.kind === 'ThreatFeed' && runtime?.feed) {
    const overlap = overlapCondition(runtime.feed);
    if (overlap) own.push(overlap);
    else dropped.add('SensitiveOverlap');
  }
  const mine = own.map((c): Condition => {
    const old = oldConditions.find((o) => o.type === c.type);
    const lastTransitionTime = old && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : seconds(now.toISOString());
    return { ...c, observedGeneration: t.generation, lastTransitionTime };
  });
  // Replace ours in place (order kept, so an unchanged status compares equal); others stay as they are.
  const conditions = [
    ...oldConditions.filter((o) => !dropped.has(o.type)).map((o) => mine.find((m) => m.type === o.type) ?? o),
    ...mine.filter((m) => !oldConditions.some((o) => o.type === m.type)),
  ];
  const status: Record<string, unknown> = { ...existing, observedGeneration: t.generation, conditions };
  if (t.kind === 'ThreatFeed' && runtime?.feed) {
    const f = runtime.feed;
    status.entries = f.entries;
    status.badLines = f.badLines;
    // The CRD's "Refreshed" column: the last successful read (a failure shows in Ready instead).
    if (f.lastSuccessTime) status.lastRefreshTime = seconds(f.lastSuccessTime);
    else delete status.lastRefreshTime;
  }
  if (t.kind === 'IPZone') {
    status.gateways = v.gateways ?? 0;
    status.proxies = v.proxies ?? 0;
    status.entries = (v.gateways ?? 0) + (v.proxies ?? 0);
  }
  if (t.kind === 'ThreatPolicy') {
    status.inForce = v.inForce === true;
    if (attack) status.orgUnderAttack = { ...attack };
  }
  if (stableJson(status) === stableJson(existing)) return undefined;

  const wasAccepted = oldConditions.find((o) => o.type === 'Accepted');
  let event: StatusEvent | undefined;
  if (accepted.status === 'False' && (wasAccepted?.status !== 'False' || wasAccepted.message !== accepted.message)) {
    const keeps = v.serving === 'previous' ? ` Generation ${v.servingGeneration} keeps serving.` : ' The object is left out.';
    event = { type: 'Warning', reason: accepted.reason, message: `${t.kind} generation ${t.generation} rejected: ${accepted.message}.${keeps}`.slice(0, 1000) };
  } else if (accepted.status === 'True' && wasAccepted?.status === 'False') {
    event = { type: 'Normal', reason: 'Valid', message: `${t.kind} generation ${t.generation} is valid again` };
  }
  return { status, ...(event ? { event } : {}) };
}
