import type { Clock } from '../clock.ts';
import type { OutcomeReport } from '../decide/outcome.ts';
import type { EngineOptions } from '../detect/engine.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { AccountSignals } from '../service/account-signals.ts';
import type { AttemptCorrelator } from '../service/correlator.ts';
import type { OutcomeIngest } from '../service/ingest.ts';
import { applyEvents, isEventBatch, type EventSink } from '../store/cluster/events.ts';
import { ObservedAccounts, ObservedAsn, ObservedEngine, ObservedSpray, ViewBuilder, type ViewUpdate } from '../store/cluster/view.ts';
import type { DetectorStore } from '../store/store.ts';
import { isOutcomeReport, type PrimaryMessage, type WorkerMessage } from './messages.ts';

/** A worker as the hub sees it: where its ViewUpdates go. */
export interface WorkerPort {
  readonly id: number;
  readonly connected: boolean;
  send(m: PrimaryMessage, done: () => void): boolean;
}

export interface HubOptions {
  readonly clock: Clock;
  /** How often updates go out and held outcomes are released (default 5 ms). */
  readonly flushMs?: number;
  /**
   * How long an outcome whose request id is not pending yet waits for the Check's event from another worker
   * (default 50 ms: several worker batch intervals). Found sooner, it is learnt sooner.
   */
  readonly graceMs?: number;
  /** Outcomes held at most (default 10,000); beyond, they are learnt at once, uncorrelated if need be. */
  readonly maxHeld?: number;
  /** ViewUpdates sent to one worker and not yet taken by its channel (default 64); beyond, shed and counted. */
  readonly maxInFlight?: number;
}

interface Port {
  readonly port: WorkerPort;
  inFlight: number;
}

/**
 * The primary's side of the cluster: it owns the detector state. Worker events are applied to the real store
 * and correlator in arrival order; outcomes from every transport go to the one learner, so an outcome
 * correlates whichever worker (or the primary's own listener) it arrives on. What changed goes back to every
 * worker as one ViewUpdate per flush.
 */
export class Hub {
  readonly view = new ViewBuilder();
  readonly signals: AccountSignals;
  readonly stats = { events: 0, reports: 0, malformed: 0, updatesSent: 0, updatesShed: 0, held: 0, heldTimedOut: 0 };
  readonly #o: HubOptions;
  readonly #workers = new Map<number, Port>();
  #engine: ObservedEngine | undefined;
  #store: DetectorStore | undefined;
  #correlator: AttemptCorrelator<IpKey> | undefined;
  #learner: OutcomeIngest | undefined;
  #sink: EventSink | undefined;
  #held: Array<{ readonly report: OutcomeReport; readonly atMs: number }> = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HubOptions) {
    this.#o = options;
    const accounts = new ObservedAccounts();
    const spray = new ObservedSpray();
    const asn = new ObservedAsn();
    accounts.view = this.view;
    spray.view = this.view;
    asn.view = this.view;
    this.signals = { accounts, spray, asn };
  }

  get flushMs(): number {
    return this.#o.flushMs ?? 5;
  }

  /** Outcomes waiting for their Check's event. */
  get heldCount(): number {
    return this.#held.length;
  }

  createEngine(options: EngineOptions): ObservedEngine {
    const engine = new ObservedEngine(options);
    engine.view = this.view;
    this.#engine = engine;
    return engine;
  }

  /** The ingest every outcome transport of the primary delivers to, and worker reports too. */
  ingest(learner: OutcomeIngest): OutcomeIngest {
    this.#learner = learner;
    return { report: (o) => this.#report(o) };
  }

  /** The primary started: worker events have somewhere to go. */
  attach(running: { readonly store: DetectorStore; readonly correlator: AttemptCorrelator<IpKey> }): void {
    const { store, correlator } = running;
    this.#store = store;
    this.#correlator = correlator;
    this.#sink = {
      attempt: (key, usernameHash, text) => store.recordAttempt(key, { usernameHash }, text),
      refused: (key, text) => store.recordRefused(key, text),
      remember: (id, key, text, user, denied, atMs, fp) => void correlator.remember(id, key, text, user, denied, atMs, fp),
    };
    this.#timer ??= setInterval(() => this.tick(), this.flushMs);
    this.#timer.unref();
  }

  /** A worker is serving: it starts from every active block and the profile in force. */
  addWorker(port: WorkerPort): void {
    const p: Port = { port, inFlight: 0 };
    this.#workers.set(port.id, p);
    if (this.#engine) this.#send(p, ViewBuilder.sync(this.#engine, this.#o.clock.nowMs()));
  }

  removeWorker(id: number): void {
    this.#workers.delete(id);
  }

  /** A message from a worker: events and outcome reports are applied; the rest is the supervisor's. */
  onMessage(m: WorkerMessage): void {
    if (m.t === 'events') {
      if (!isEventBatch(m) || !this.#sink) return void this.stats.malformed++;
      this.stats.events += applyEvents(m, this.#sink);
      if (this.view.full) this.tick();
    } else if (m.t === 'outcomes') {
      if (!Array.isArray(m.reports)) return void this.stats.malformed++;
      for (const r of m.reports) {
        if (isOutcomeReport(r)) this.#report(r);
        else this.stats.malformed++;
      }
    }
  }

  /** Releases held outcomes that are due or now correlate, then sends what changed. */
  tick(): void {
    const now = this.#o.clock.nowMs();
    if (this.#held.length > 0) this.#release(now);
    const engine = this.#engine;
    if (!engine) return;
    const update = this.view.take(engine, now);
    if (!update) return;
    for (const p of this.#workers.values()) this.#send(p, update);
  }

  /** Learns every held outcome now and sends the last update (shutdown). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const held = this.#held.splice(0);
    for (const h of held) this.#learner?.report(h.report);
    this.tick();
  }

  #report(o: OutcomeReport): void {
    const learner = this.#learner;
    if (!learner) return;
    this.stats.reports++;
    const now = this.#o.clock.nowMs();
    const id = o.requestId;
    // No id, already pending, or nobody who could still send it: nothing to wait for.
    if (!id || this.#workers.size === 0 || this.#correlator?.peek(id, now) || this.#held.length >= (this.#o.maxHeld ?? 10_000)) return learner.report(o);
    this.stats.held++;
    this.#held.push({ report: o, atMs: now });
  }

  #release(now: number): void {
    const grace = this.#o.graceMs ?? 50;
    const keep: Array<{ readonly report: OutcomeReport; readonly atMs: number }> = [];
    for (const h of this.#held) {
      const due = now - h.atMs >= grace;
      if (due || this.#correlator?.peek(h.report.requestId!, now)) {
        if (due) this.stats.heldTimedOut++;
        this.#learner?.report(h.report);
      } else keep.push(h);
    }
    this.#held = keep;
  }

  #send(p: Port, update: ViewUpdate): void {
    if (!p.port.connected || p.inFlight >= (this.#o.maxInFlight ?? 64)) {
      this.stats.updatesShed++;
      return;
    }
    p.inFlight++;
    p.port.send(update, () => {
      p.inFlight--;
    });
    this.stats.updatesSent++;
  }

  get store(): DetectorStore | undefined {
    return this.#store;
  }
}
