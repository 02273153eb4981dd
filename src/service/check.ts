import { performance } from 'node:perf_hooks';
import type { Clock } from '../clock.ts';
import type { SnapshotHolder } from '../config/snapshot-holder.ts';
import { decide, failureDecision, type DecideOptions } from '../decide/decide.ts';
import type { Decision, RequestFacts } from '../decide/decision.ts';
import type { ThreatLevel } from '../decide/threat.ts';
import type { ThreatReason } from '../detect/levels.ts';
import { errorCodeOf } from '../errors.ts';
import type { DetectorStore } from '../store/store.ts';
import { eventForDecision, type EventSink } from '../telemetry/events.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics, Transport } from '../telemetry/metrics.ts';
import type { AttemptCorrelator } from './correlator.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { Address } from '../net/address.ts';

/** Where sign-in attempts are recorded: the store (attempt velocity) and the correlator (for the outcome). */
export interface AttemptRecording {
  readonly store: DetectorStore;
  readonly correlator: AttemptCorrelator<IpKey>;
  readonly keyOf: (a: Address) => IpKey;
  /** Counted per reason and level (pre-bound children; telemetry implements it). */
  readonly detection?: (reason: ThreatReason, level: ThreatLevel) => void;
}

export interface GateDeps {
  readonly holder: SnapshotHolder;
  readonly options: DecideOptions;
  readonly metrics: Metrics;
  readonly events: EventSink;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Absent: decide only (explain, tests of the decision alone). */
  readonly attempts?: AttemptRecording;
}

/**
 * The Check service, the one place every transport goes through: take the snapshot once, decide, record the
 * sign-in attempt, count, emit the event. It never throws; failures become the configured failure decision.
 */
export class Gate {
  constructor(private readonly deps: GateDeps) {}

  /** The header the policy in force reads the username from, if any: a decoder keeps it with HEADERS_READ. */
  usernameHeader(): string | undefined {
    return this.deps.holder.current?.policy.username.header;
  }

  check(facts: RequestFacts, transport: Transport): Decision {
    const started = performance.now();
    const { holder, options, metrics } = this.deps;
    let d: Decision;
    const snapshot = holder.current;
    if (!snapshot) {
      d = failureDecision('not_ready', options);
    } else {
      try {
        d = decide(facts, snapshot, options);
      } catch (err) {
        const code = errorCodeOf(err);
        metrics.error(code);
        this.deps.logger.error({ code, err: { message: (err as Error)?.message } }, 'check failed; answering with the failure mode');
        d = failureDecision('internal_error', options, snapshot.policy.name);
      }
    }
    if (d.reason === 'malformed_request') metrics.error('REQUEST_MALFORMED');
    try {
      const now = this.deps.clock.nowMs(); // read once: a clock read costs ~70 ns here (no vDSO clock on some VMs)
      const event = eventForDecision(d, facts, now);
      if (event) this.deps.events.emit(event);
      this.#record(d, facts, now);
    } catch (err) {
      this.deps.logger.error({ err: { message: (err as Error)?.message } }, 'event emission failed');
    }
    metrics.check(d.verdict, d.reason);
    metrics.latency(transport, (performance.now() - started) / 1000);
    return d;
  }

  /** A sign-in that reached threat evaluation: count it (if allowed) and remember it for its outcome. */
  #record(d: Decision, facts: RequestFacts, nowMs: number): void {
    const a = this.deps.attempts;
    if (!a) return;
    if (d.threat && a.detection) for (const r in d.threat.detections) a.detection(r as ThreatReason, d.threat.detections[r]!);
    recordSignIn(a, d, facts.requestId, nowMs, d.usernameHash);
  }
}

/**
 * What a decided sign-in leaves behind (the Check path's one rule; `portcullis replay` runs it too): an attempt
 * let through counts for the client, one the detectors refused is persistence evidence, and either is
 * remembered by request id for its outcome.
 */
export function recordSignIn(a: AttemptRecording, d: Decision, requestId: string | undefined, nowMs: number, usernameHash: number | undefined): void {
  if (!d.signIn || !d.client) return;
  // Exempt zones and trusted proxies are never evaluated; blocklisted clients never reach the app.
  if (d.reason === 'exempt_zone' || d.reason === 'trusted_proxy' || d.reason === 'blocklist_zone') return;
  const key = a.keyOf(d.client);
  const denied = d.verdict !== 'allow';
  if (!denied) a.store.recordAttempt(key, { usernameHash }, d.client.text);
  // Sent while refused by the detectors: persistence evidence (never a failed sign-in for any account).
  // A refusal that only a ThreatFeed caused is the feed's business: it must not turn into a detector block.
  else if ((d.reason === 'threat_block' || d.reason === 'threat_rate_limit') && refusedByDetectors(d)) a.store.recordRefused(key, d.client.text);
  // First Check with an id wins; a reused or oversized id is counted by the correlator, not remembered.
  if (requestId) a.correlator.remember(requestId, key, d.client.text, usernameHash, denied, nowMs, d.passwordFingerprint);
}

/** The detectors (not only a ThreatFeed) stand behind this threat refusal. */
function refusedByDetectors(d: Decision): boolean {
  const detections = d.threat?.detections;
  if (!detections) return false;
  for (const r in detections) if (r !== 'threat_feed') return true;
  return false;
}
