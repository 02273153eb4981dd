import { Counter, Gauge, type Registry } from 'prom-client';
import { THREAT_LEVELS, THREAT_REASONS, type ThreatLevel, type ThreatReason } from '../detect/levels.ts';

import { OUTCOME_RESULTS, OUTCOME_SOURCES, SHED_REASONS, type OutcomeResultLabel, type OutcomeSource, type ShedReason } from '../decide/outcome.ts';
import type { Clock } from '../clock.ts';
import type { CompiledPolicy } from '../decide/snapshot.ts';
import { formatIpKey, type IpKey } from '../detect/ip-key.ts';
import type { AttackTransition } from '../detect/org-attack.ts';
import type { Verdict } from '../detect/verdict.ts';
import { attackEvent, blockStartedEvent, type EventSink } from './events.ts';
import { counterAtScrape } from './scrape-counter.ts';
import type { Logger } from './logger.ts';
export { OUTCOME_RESULTS, type OutcomeResultLabel };

/** What the threat path reads at scrape time. */
export interface ThreatGauges {
  readonly trackedIps: number;
  readonly activeBlocks: number;
  readonly memoryBytes: number;
  readonly evictions: number;
  readonly underAttack: boolean;
  readonly pendingOutcomes: number;
  /** Estimated bytes the pending sign-in Checks hold. */
  readonly pendingOutcomeBytes: number;
  /** Sign-in Checks the correlator did not keep for their outcome, since start (service/correlator.ts). */
  readonly correlatorDropped: Readonly<Record<CorrelatorDropLabel, number>>;
  /** Bytes of ALS messages and syslog lines waiting to be learned (service/outcome-queue.ts). */
  readonly outcomeBacklogBytes: number;
}

/** Why a sign-in Check could not wait for its outcome (the correlator's closed set). */
export const CORRELATOR_DROP_LABELS = ['duplicate_id', 'id_too_long', 'evicted'] as const;
export type CorrelatorDropLabel = (typeof CORRELATOR_DROP_LABELS)[number];

const OUTCOME_INDEX = Object.fromEntries(OUTCOME_RESULTS.map((r, i) => [r, i])) as Record<OutcomeResultLabel, number>;

/** Detection metrics. Labels from closed sets only (reasons, levels, results); never an address. */
export class ThreatMetrics {
  readonly #detections = new Map<string, Counter.Internal>();
  /** Outcomes by OUTCOME_RESULTS index, and ALS entries by accepted (1) or not (0): counted per entry. */
  readonly #outcomes = new Float64Array(OUTCOME_RESULTS.length);
  readonly #alsEntries = new Float64Array(2);
  readonly #blocks = new Map<string, Counter.Internal>();
  readonly #transitions = new Map<string, Counter.Internal>();
  readonly #mismatches: Counter;
  readonly #shed = new Map<string, Counter.Internal>();

  constructor(registry: Registry, gauges: () => ThreatGauges | undefined) {
    const registers = [registry];
    const detections = new Counter({ name: 'portcullis_detections_total', help: 'Checks on which a detector reported a threat, by reason and level.', labelNames: ['reason', 'level'], registers });
    for (const r of THREAT_REASONS) for (const l of THREAT_LEVELS) if (l !== 'NONE') this.#detections.set(`${r}|${l}`, detections.labels(r, l));
    // Counted once per access-log entry (1M-entry streams): typed arrays handed to prom-client at scrape time, as
    // Metrics does for Checks; prom-client hashes the labels and returns an object on every inc.
    counterAtScrape(registers, 'portcullis_outcomes_total', 'Sign-in outcomes ingested, by result (ignored: not a sign-in, or a request Portcullis denied).', ['result'], OUTCOME_RESULTS.map((result) => ({ result })), this.#outcomes);
    const blocks = new Counter({ name: 'portcullis_blocks_started_total', help: 'Blocks started by the detectors, by level (HIGH: 403, MEDIUM: 429).', labelNames: ['level'], registers });
    for (const l of ['HIGH', 'MEDIUM', 'LOW']) this.#blocks.set(l, blocks.labels(l));
    const transitions = new Counter({ name: 'portcullis_org_attack_transitions_total', help: 'Org Under Attack declared (start) and cleared (end).', labelNames: ['type'], registers });
    for (const t of ['start', 'end']) this.#transitions.set(t, transitions.labels(t));
    counterAtScrape(registers, 'portcullis_access_log_entries_total', 'Envoy access-log entries received, by whether they could be an outcome.', ['accepted'], [{ accepted: 'false' }, { accepted: 'true' }], this.#alsEntries);

    const gauge = (name: string, help: string, read: (g: ThreatGauges) => number) =>
      new Gauge({ name, help, registers, collect() { const g = gauges(); this.set(g ? read(g) : 0); } });
    gauge('portcullis_tracked_ips', 'Client IPs (IPv6: prefixes) the detectors currently track.', (g) => g.trackedIps);
    gauge('portcullis_active_blocks', 'Client IPs under an active block.', (g) => g.activeBlocks);
    gauge('portcullis_detector_memory_bytes', 'Bytes held by the detectors\' per-IP tables.', (g) => g.memoryBytes);
    gauge('portcullis_detector_evictions', 'Tracked IPs evicted to stay under the cap, since start.', (g) => g.evictions);
    gauge('portcullis_org_under_attack', '1 while Org Under Attack is declared.', (g) => (g.underAttack ? 1 : 0));
    gauge('portcullis_outcomes_pending', 'Sign-in attempts waiting for their outcome from the access log.', (g) => g.pendingOutcomes);
    gauge('portcullis_outcome_backlog_bytes', 'Bytes of access-log messages and syslog lines received and not yet learned; readers pause above a bound.', (g) => g.outcomeBacklogBytes);
    const shed = new Counter({ name: 'portcullis_outcomes_shed_total', help: 'Outcome entries received but never learned: backlog_full (the bounded backlog refused the batch), shutdown (still queued at stop).', labelNames: ['source', 'reason'], registers });
    for (const src of OUTCOME_SOURCES) for (const r of SHED_REASONS) this.#shed.set(`${src}|${r}`, shed.labels(src, r));
    gauge('portcullis_outcomes_pending_bytes', 'Estimated bytes held by sign-in attempts waiting for their outcome.', (g) => g.pendingOutcomeBytes);
    const seen: Record<string, number> = {};
    new Counter({
      name: 'portcullis_outcomes_uncorrelatable_total', labelNames: ['reason'], registers,
      help: 'Sign-in Checks not kept for their outcome by request id: duplicate_id (first Check wins), id_too_long, evicted (entry or byte budget).',
      collect() {
        const g = gauges();
        for (const r of CORRELATOR_DROP_LABELS) {
          const v = g?.correlatorDropped[r] ?? 0;
          const before = seen[r] ?? 0;
          this.labels(r).inc(Math.max(0, v - before)); // inc(0) exports the series from the start
          seen[r] = Math.max(before, v);
        }
      },
    });
    this.#mismatches = new Counter({ name: 'portcullis_outcomes_client_mismatch_total', help: 'Outcomes whose request id named a pending Check of another client; counted for their own client.', registers });
  }

  detection(reason: ThreatReason, level: ThreatLevel): void {
    this.#detections.get(`${reason}|${level}`)?.inc();
  }

  outcome(result: OutcomeResultLabel): void {
    this.#outcomes[OUTCOME_INDEX[result]]!++;
  }

  blockStarted(level: ThreatLevel): void {
    this.#blocks.get(level)?.inc();
  }

  attackTransition(type: 'start' | 'end'): void {
    this.#transitions.get(type)!.inc();
  }

  clientMismatch(): void {
    this.#mismatches.inc();
  }

  shed(source: OutcomeSource, reason: ShedReason, entries: number): void {
    if (entries > 0) this.#shed.get(`${source}|${reason}`)!.inc(entries);
  }

  accessLogEntry(accepted: boolean): void {
    this.#alsEntries[accepted ? 1 : 0]!++;
  }
}

/**
 * What learning reports, turned into metrics, events and log lines. `onAttack` lets main hand the transition to
 * whoever else wants it (the Kubernetes source records an Event) without telemetry knowing of Kubernetes.
 */
export function threatObserver(d: {
  readonly metrics: ThreatMetrics;
  readonly events: EventSink;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly newId: () => string;
  readonly onAttack?: (policy: string, type: 'start' | 'end', message: string) => void;
}) {
  return {
    outcome: (r: OutcomeResultLabel) => d.metrics.outcome(r),
    clientMismatch: () => d.metrics.clientMismatch(),
    blockStarted: (key: IpKey, clientText: string | undefined, v: Verdict, policy: CompiledPolicy) => {
      d.metrics.blockStarted(v.blockLevel);
      d.events.emit(blockStartedEvent(d.newId(), d.clock.nowMs(), { clientText, level: v.blockLevel, detections: v.detections, untilMs: v.blockedUntilMs, policy: policy.name }));
      d.logger.info({ key: formatIpKey(key), level: v.blockLevel, until: new Date(v.blockedUntilMs).toISOString() }, 'block started');
    },
    attack: (t: AttackTransition, policy: CompiledPolicy) => {
      d.metrics.attackTransition(t.type);
      d.events.emit(attackEvent(d.newId(), d.clock.nowMs(), { type: t.type, score: t.score, signals: { ...t.signals }, policy: policy.name }));
      d.logger.warn({ type: t.type, score: t.score, signals: t.signals }, t.type === 'start' ? 'org under attack' : 'attack over');
      d.onAttack?.(policy.name, t.type, t.type === 'start' ? `Org Under Attack: sign-in failures anomalous (score ${t.score.toFixed(1)})` : 'Org Under Attack ended');
    },
  };
}
