import type { AttemptFacts, DetectionEngine } from '../../detect/engine.ts';
import type { IpKey } from '../../detect/ip-key.ts';
import type { OrgAttackDetector } from '../../detect/org-attack.ts';
import type { DetectionSettings } from '../../detect/detection.ts';
import { configureDetectors } from '../configure.ts';
import type { DetectorStore, SignalEvent, StoreHealth, StoreMode } from '../store.ts';
import type { Outbox } from './outbox.ts';
import { applyView, isViewUpdate, type ViewSignals } from './view.ts';

export interface WorkerStoreOptions {
  readonly engine: DetectionEngine;
  readonly org: OrgAttackDetector;
  readonly outbox: Outbox;
  /** The store the primary runs (memory or redis): what this worker's view mirrors. */
  readonly primaryMode: StoreMode;
  /** The worker's familiar-source and spray detectors, kept in step from the primary's events. */
  readonly signals?: ViewSignals;
}

/**
 * The detector store of a cluster worker (--workers N): the primary owns the state; this worker decides on a
 * local view of it. Writes go to the primary in batches (Outbox); the view changes only when the primary
 * sends a ViewUpdate (`apply`), the way the Redis store loads other replicas' rows. Blocks and attack
 * transitions are reported by the primary, once, so this store never calls a listener.
 */
export class WorkerStore implements DetectorStore {
  readonly mode: StoreMode;
  readonly engine: DetectionEngine;
  readonly org: OrgAttackDetector;
  /** ViewUpdates applied, and refused as malformed. */
  readonly received = { updates: 0, malformed: 0 };
  readonly #o: WorkerStoreOptions;

  constructor(o: WorkerStoreOptions) {
    this.#o = o;
    this.mode = o.primaryMode;
    this.engine = o.engine;
    this.org = o.org;
  }

  setListener(): void {
    // Blocks and attack transitions are observed on the primary (one event per block, cluster-wide).
  }

  setBlocking(enabled: boolean): void {
    this.engine.setBlocking(enabled);
  }

  configure(detection: DetectionSettings, reshape: boolean): string[] {
    return configureDetectors(this.engine, this.org, detection, reshape).deferred;
  }

  recordAttempt(key: IpKey, facts: AttemptFacts, clientText: string | undefined): void {
    this.#o.outbox.attempt(key, facts.usernameHash, clientText ?? '');
  }

  recordOutcome(): void {
    // Outcomes are learnt on the primary: a worker forwards every outcome report there instead.
  }

  recordRefused(key: IpKey, clientText: string | undefined): void {
    this.#o.outbox.refused(key, clientText ?? '');
  }

  recordOrgOutcome(): void {
    // As recordOutcome: Org Under Attack is counted on the primary; its transitions arrive in ViewUpdates.
  }

  shareSignal(_e: SignalEvent): void {
    // Account signals are learnt on the primary, whose store shares them; this view gets them in ViewUpdates.
  }

  setSignalListener(_fn: (e: SignalEvent) => void): void {}

  tick(nowMs: number): void {
    this.engine.sweep(4096, nowMs);
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  /** A message from the primary: a ViewUpdate is applied to the local view; anything else is ignored. */
  apply(message: unknown): boolean {
    if (!isViewUpdate(message)) {
      this.received.malformed++;
      return false;
    }
    applyView(message, this.engine, this.#o.signals);
    this.received.updates++;
    return true;
  }

  health(): StoreHealth {
    const outbox = this.#o.outbox;
    const lost = outbox.shed.primary_slow + outbox.shed.disconnected;
    return {
      mode: this.mode,
      degraded: false,
      degradedSinceMs: 0,
      detail: `cluster worker: a local view of the primary's ${this.mode} store (${this.received.updates} updates in, ${lost} events shed)`,
      buffered: outbox.queued,
    };
  }

  counters(): undefined {
    return undefined;
  }

  settled(): Promise<void> {
    return this.#o.outbox.settled();
  }

  close(): Promise<void> {
    return this.#o.outbox.close();
  }
}
