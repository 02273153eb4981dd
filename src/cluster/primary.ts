import type { Clock } from '../clock.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { AttemptCorrelator } from '../service/correlator.ts';
import type { DetectorStore } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { Hub } from './hub.ts';
import { ClusterRegistry, registerClusterMetrics } from './metrics.ts';
import type { ClusterRole } from './role.ts';
import { Supervisor, type ServingPorts } from './supervisor.ts';

export interface ClusterPrimaryOptions {
  readonly workers: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How long workers get to drain and stop before they are killed. */
  readonly stopTimeoutMs: number;
  /** Environment every worker gets on top of the primary's. */
  readonly env?: Readonly<Record<string, string>>;
  /** Longest a /metrics scrape waits for the workers' figures. */
  readonly metricsTimeoutMs?: number;
}

/**
 * The primary of a --workers cluster: the hub (detector state, the one learner) and the supervisor (forks,
 * restarts, drains). `role` is what main.ts wires differently here: no Check listener, the observed engine and
 * signals, readiness on the workers, aggregated /metrics.
 */
export class ClusterPrimary {
  readonly hub: Hub;
  readonly supervisor: Supervisor;
  readonly role: ClusterRole;

  constructor(o: ClusterPrimaryOptions) {
    const hub = new Hub({ clock: o.clock });
    this.hub = hub;
    this.supervisor = new Supervisor({
      workers: o.workers,
      logger: o.logger,
      env: o.env,
      stopTimeoutMs: o.stopTimeoutMs,
      onMessage: (m) => hub.onMessage(m),
      onServing: (port) => hub.addWorker(port),
      onGone: (id) => hub.removeWorker(id),
    });
    const supervisor = this.supervisor;
    this.role = {
      kind: 'primary',
      createEngine: (options) => hub.createEngine(options),
      signals: hub.signals,
      ingest: (learner) => hub.ingest(learner),
      readiness: [{
        name: 'workers',
        // One serving worker answers Checks; a restart in progress must not take the pod out of its Service.
        check: () => ({ ok: supervisor.serving > 0, detail: `${supervisor.serving}/${supervisor.size} workers serving` }),
      }],
      registry: (own) => {
        registerClusterMetrics(own, () => ({ serving: supervisor.serving, configured: supervisor.size, restarts: supervisor.restarts, updatesShed: hub.stats.updatesShed, held: hub.heldCount }));
        return new ClusterRegistry(own, () => supervisor.collectMetrics(o.metricsTimeoutMs ?? 2000));
      },
    };
  }

  /** The primary's own services are up: apply worker events to them, then fork the workers. */
  start(running: { readonly store: DetectorStore; readonly correlator: AttemptCorrelator<IpKey> }): Promise<ServingPorts> {
    this.hub.attach(running);
    return this.supervisor.start();
  }

  /** Drains and stops the workers, then learns what is still held. */
  async stop(): Promise<void> {
    await this.supervisor.stop();
    this.hub.stop();
  }
}
