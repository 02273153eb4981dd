import type { Registry } from 'prom-client';
import type { ReadinessCheck } from '../adapters/http/ops-server.ts';
import type { DetectionEngine, EngineOptions } from '../detect/engine.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { AccountSignals } from '../service/account-signals.ts';
import type { AttemptCorrelator } from '../service/correlator.ts';
import type { OutcomeIngest } from '../service/ingest.ts';
import type { Outbox } from '../store/cluster/outbox.ts';

/**
 * What main.ts wires differently in a --workers cluster (docs/architecture.md, "Workers"). The primary owns the
 * detector state and serves no Check; a worker serves Checks and outcomes on a local view. Absent: one process.
 */
export interface ClusterRole {
  readonly kind: 'primary' | 'worker';
  /** Primary: the engine that notes what changed for the workers. */
  createEngine?(options: EngineOptions): DetectionEngine;
  /** Primary: signals that note what they learn; worker: plain ones, fed from the primary. */
  readonly signals: AccountSignals;
  /** Worker: a correlator that sends each remembered Check to the primary. */
  readonly correlator?: AttemptCorrelator<IpKey>;
  /** Worker: the store becomes a WorkerStore over this outbox. */
  readonly outbox?: Outbox;
  /** Where every outcome transport delivers (primary: the learner, after the workers' attempts; worker: the primary). */
  ingest(learner: OutcomeIngest): OutcomeIngest;
  /** Primary: extra /readyz checks (workers serving). */
  readonly readiness?: readonly ReadinessCheck[];
  /** Primary: what /metrics serves (every process's metrics, aggregated), built over its own registry. */
  registry?(own: Registry): Registry;
}
