import { createWriteStream, openSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { PortcullisError } from '../errors.ts';
import type { Decision } from '../decide/decision.ts';
import { bounded, boundedOptional, TEXT_LIMITS } from '../bounded.ts';

/**
 * Security events, one JSON line each, in the shape of Okta's System Log (docs/events.md). They go to their own
 * stream (stdout by default) so a log pipeline can route them apart from diagnostics.
 */
export const EVENT_TYPES = [
  'security.request.blocked',
  'security.threat.detected',
  'security.attack.start',
  'security.attack.end',
  'system.config.reload_failed',
  'system.config.policy_removal_refused',
  'system.feed.sensitive_overlap',
  'system.store.degraded',
  'system.store.recovered',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface SecurityEvent {
  readonly eventType: EventType;
  readonly uuid: string;
  readonly published: string;
  readonly severity: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  readonly displayMessage: string;
  readonly actor: { readonly id: string; readonly type: string; readonly displayName?: string };
  readonly client?: {
    readonly ipAddress: string | null;
    readonly userAgent?: { readonly rawUserAgent: string | null };
    readonly zone: string | null;
  };
  readonly request?: { readonly ipChain: ReadonlyArray<{ readonly ip: string; readonly version: 'V4' | 'V6' | null; readonly source: string | null }> };
  readonly outcome: { readonly result: 'ALLOW' | 'DENY' | 'RATE_LIMIT' | 'SUCCESS' | 'FAILURE'; readonly reason: string };
  readonly debugContext: { readonly debugData: Readonly<Record<string, string>> };
}

export interface EventSink {
  emit(event: SecurityEvent): void;
}

export class StreamEventSink implements EventSink {
  #failed = false;
  constructor(private readonly out: Writable, onError: (err: Error) => void = (err) => process.stderr.write(`portcullis: events output failed: ${err.message}\n`)) {
    // A write error later (disk full, pipe closed) must not end the process: report it once and stop writing.
    out.on('error', (err: Error) => {
      if (!this.#failed) onError(err);
      this.#failed = true;
    });
  }
  emit(event: SecurityEvent): void {
    if (!this.#failed) this.out.write(`${JSON.stringify(event)}\n`);
  }
}

/** The sink for --events: stdout, none, or a file opened now, so a bad path is an error at start, not a crash later. */
export function openEventSink(target: string): EventSink {
  if (target === 'none') return { emit: () => undefined };
  if (target === 'stdout') return new StreamEventSink(process.stdout);
  let fd: number;
  try {
    fd = openSync(target, 'a');
  } catch (err) {
    throw new PortcullisError('EVENTS_OUTPUT', `--events: cannot open ${target} for appending: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return new StreamEventSink(createWriteStream('', { fd }));
}

/** Keeps events in memory: for tests and `explain`. */
export class MemoryEventSink implements EventSink {
  readonly events: SecurityEvent[] = [];
  emit(event: SecurityEvent): void {
    this.events.push(event);
  }
}

const OUTCOME: Record<Decision['verdict'], 'ALLOW' | 'DENY' | 'RATE_LIMIT'> = { allow: 'ALLOW', deny: 'DENY', rate_limit: 'RATE_LIMIT' };

const DISPLAY: Partial<Record<Decision['reason'], string>> = {
  blocklist_zone: 'Request from blocklisted IP zone',
  blocklist_feed: 'Request from an IP listed by a blocklist threat feed',
  threat_block: 'Request blocked: client IP is running a credential attack',
  threat_rate_limit: 'Request rate-limited: suspicious sign-in activity from client IP',
  threat_detected: 'Suspicious sign-in activity from client IP',
};

/** The event a decision produces, if any: blocks always, detections when a threat was seen. */
export function eventForDecision(d: Decision, request: { path: string; method: string; requestId?: string; userAgent?: string }, nowMs: number): SecurityEvent | undefined {
  const threatSeen = d.threat !== undefined && d.threat.level !== 'NONE';
  let eventType: EventType;
  if (d.reason === 'blocklist_zone' || d.reason === 'blocklist_feed') eventType = 'security.request.blocked';
  else if (threatSeen) eventType = 'security.threat.detected';
  else return undefined;

  const q = request.path.indexOf('?');
  // Request fields are the client's: each is capped (src/bounded.ts), so one event stays small whatever it sent.
  const debugData: Record<string, string> = {
    // The query string can carry tokens; keep the path only.
    requestUri: bounded(q === -1 ? request.path : request.path.slice(0, q), TEXT_LIMITS.path),
    method: bounded(request.method, TEXT_LIMITS.method),
    policy: bounded(d.policy, TEXT_LIMITS.name),
    decisionReason: d.reason,
    signIn: String(d.signIn),
    threatSuspected: String(threatSeen),
  };
  if (request.requestId) debugData.requestId = bounded(request.requestId, TEXT_LIMITS.id);
  if (d.threat && threatSeen) {
    debugData.threatDetections = JSON.stringify(d.threat.detections);
    debugData.threatLevel = d.threat.level;
  }
  if (d.chain) debugData.chainResolution = d.chain.reason;
  if (d.feed) debugData.feed = bounded(d.feed, TEXT_LIMITS.name);
  if (d.threat?.feeds && d.threat.feeds.length > 0) debugData.threatFeeds = bounded(d.threat.feeds.join(','), TEXT_LIMITS.message);
  return {
    eventType,
    uuid: d.id,
    published: new Date(nowMs).toISOString(),
    severity: d.verdict === 'allow' ? 'INFO' : 'WARN',
    displayMessage: DISPLAY[d.reason] ?? d.reason,
    actor: { id: 'unknown', type: 'User' },
    client: {
      ipAddress: d.client?.text ?? null,
      userAgent: { rawUserAgent: boundedOptional(request.userAgent, TEXT_LIMITS.userAgent) ?? null },
      zone: boundedOptional(d.zone, TEXT_LIMITS.name) ?? null,
    },
    request: {
      ipChain: (d.chain?.chain ?? []).map((ip) => ({ ip, version: ip === 'invalid' ? null : ip.includes(':') ? 'V6' : 'V4', source: null })),
    },
    outcome: { result: OUTCOME[d.verdict], reason: d.reason },
    debugContext: { debugData },
  };
}

function base(eventType: EventType, uuid: string, nowMs: number, severity: SecurityEvent['severity'], displayMessage: string) {
  return { eventType, uuid, published: new Date(nowMs).toISOString(), severity, displayMessage, actor: { id: 'unknown', type: 'User' } };
}

/** A detector started blocking a client (emitted once per block, not per denied request). */
export function blockStartedEvent(
  uuid: string,
  nowMs: number,
  b: { clientText: string | undefined; level: string; detections: Readonly<Record<string, string>>; untilMs: number; policy: string },
): SecurityEvent {
  const rateLimit = b.level !== 'HIGH';
  return {
    ...base('security.threat.detected', uuid, nowMs, 'WARN', rateLimit ? 'Client IP rate-limited for suspicious sign-in activity' : 'Client IP blocked for a credential attack'),
    client: { ipAddress: b.clientText ?? null, zone: null },
    outcome: { result: rateLimit ? 'RATE_LIMIT' : 'DENY', reason: rateLimit ? 'threat_rate_limit' : 'threat_block' },
    debugContext: {
      debugData: {
        threatSuspected: 'true',
        threatLevel: b.level,
        threatDetections: JSON.stringify(b.detections),
        blockedUntil: new Date(b.untilMs).toISOString(),
        policy: bounded(b.policy, TEXT_LIMITS.name),
      },
    },
  };
}

/** Org Under Attack declared or cleared. */
export function attackEvent(uuid: string, nowMs: number, a: { type: 'start' | 'end'; score: number; signals: Readonly<Record<string, number>>; policy: string }): SecurityEvent {
  const start = a.type === 'start';
  return {
    ...base(start ? 'security.attack.start' : 'security.attack.end', uuid, nowMs, start ? 'WARN' : 'INFO', start ? 'Org under attack: aggressive threat thresholds in force' : 'Attack over: normal threat thresholds restored'),
    outcome: { result: 'SUCCESS', reason: start ? 'attack_declared' : 'attack_cleared' },
    debugContext: {
      debugData: {
        policy: bounded(a.policy, TEXT_LIMITS.name),
        score: a.score.toFixed(2),
        ...Object.fromEntries(Object.entries(a.signals).map(([k, v]) => [k, String(Number.isInteger(v) ? v : v.toFixed(3))])),
      },
    },
  };
}

/** The shared store (Redis) became unreachable (decisions continue on local state) or is shared again. */
export function storeHealthEvent(uuid: string, nowMs: number, h: { degraded: boolean; reason: string; mode: string; buffered: number }): SecurityEvent {
  return {
    ...base(h.degraded ? 'system.store.degraded' : 'system.store.recovered', uuid, nowMs, h.degraded ? 'WARN' : 'INFO',
      h.degraded ? 'Shared detector store unreachable: deciding on local state' : 'Shared detector store reachable again'),
    outcome: { result: h.degraded ? 'FAILURE' : 'SUCCESS', reason: h.degraded ? 'store_degraded' : 'store_recovered' },
    debugContext: { debugData: { store: h.mode, reason: bounded(h.reason, TEXT_LIMITS.message), bufferedEvents: String(h.buffered) } },
  };
}

/** A reload that would drop the ThreatPolicy in force was refused (the last good snapshot keeps serving). */
export function policyRemovalRefusedEvent(uuid: string, nowMs: number, p: { policy: string; action: string; keepingVersion: number | undefined }): SecurityEvent {
  return {
    ...base('system.config.policy_removal_refused', uuid, nowMs, 'WARN', 'Config reload refused: it removes the ThreatPolicy in force, which would lift its blocks'),
    outcome: { result: 'DENY', reason: 'policy_removal_refused' },
    debugContext: { debugData: { policy: bounded(p.policy, TEXT_LIMITS.name), action: p.action, keepingVersion: String(p.keepingVersion ?? '') } },
  };
}
