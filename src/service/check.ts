import { performance } from 'node:perf_hooks';
import type { SnapshotHolder } from '../config/snapshot-holder.ts';
import { decide, failureDecision, type DecideOptions } from '../decide/decide.ts';
import type { Decision, RequestFacts } from '../decide/decision.ts';
import type { Clock } from '../clock.ts';
import { errorCodeOf } from '../errors.ts';
import { eventForDecision, type EventSink } from '../telemetry/events.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Metrics, Transport } from '../telemetry/metrics.ts';

export interface GateDeps {
  readonly holder: SnapshotHolder;
  readonly options: DecideOptions;
  readonly metrics: Metrics;
  readonly events: EventSink;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Called after each decision (outcome correlation, for instance). Must not throw. */
  readonly onDecision?: (d: Decision, facts: RequestFacts) => void;
}

/**
 * The one place every transport goes through: take the snapshot once, decide, count, emit the event.
 * It never throws; failures become the configured failure decision.
 */
export class Gate {
  constructor(private readonly deps: GateDeps) {}

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
      const event = eventForDecision(d, facts, this.deps.clock.nowMs());
      if (event) this.deps.events.emit(event);
      this.deps.onDecision?.(d, facts);
    } catch (err) {
      this.deps.logger.error({ err: { message: (err as Error)?.message } }, 'event emission failed');
    }
    metrics.check(d.verdict, d.reason);
    metrics.latency(transport, (performance.now() - started) / 1000);
    return d;
  }
}
