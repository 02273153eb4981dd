import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import type { IpKey } from '../detect/ip-key.ts';
import { accountSignals, type AccountSignals } from '../service/account-signals.ts';
import { AttemptCorrelator } from '../service/correlator.ts';
import type { OutcomeIngest } from '../service/ingest.ts';
import { OUTBOX_SHED_REASONS, Outbox, type PrimaryLink } from '../store/cluster/outbox.ts';
import { WorkerStore } from '../store/cluster/worker-store.ts';
import type { DetectorStore } from '../store/store.ts';
import type { ClusterRole } from './role.ts';
import { isPrimaryMessage, type WorkerMessage } from './messages.ts';

/** A correlator whose entries live on the primary: an outcome may reach any worker, or the primary itself. */
class ForwardingCorrelator extends AttemptCorrelator<IpKey> {
  constructor(private readonly outbox: Outbox) {
    super();
  }

  override remember(requestId: string, key: IpKey, clientText: string, usernameHash: number | undefined, denied: boolean, atMs: number, fingerprint = 0): boolean {
    // The primary applies the same bound; an oversized id is not worth the trip.
    if (requestId.length > this.maxIdLength) {
      this.dropped.id_too_long++;
      return false;
    }
    this.outbox.remember(requestId, key, clientText, usernameHash, denied, atMs, fingerprint);
    return true;
  }
}

/** What a worker runs once started (the parts of Running it needs). */
export interface WorkerRunning {
  readonly grpcPort: number;
  readonly store: DetectorStore;
  readonly metrics: { readonly registry: Registry };
  readonly proxies: { readonly authzPort: number | undefined };
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/** The cluster worker's process channel (cluster.worker's `process`). */
export interface WorkerChannel extends PrimaryLink {
  on(event: 'message', fn: (m: unknown) => void): void;
  on(event: 'disconnect', fn: () => void): void;
}

export function processChannel(): WorkerChannel {
  return {
    send: (m, done) => process.send!(m, undefined, {}, done),
    get connected() {
      return process.connected;
    },
    on: (event: string, fn: (m?: unknown) => void) => void process.on(event as 'message', fn),
  };
}

/**
 * A worker's side of the cluster: sign-in events, remembered Checks and outcome reports go to the primary in
 * batches; ViewUpdates from it keep the local view current. Nothing on the Check path waits on the primary.
 */
export class ClusterWorker {
  readonly outbox: Outbox;
  readonly signals: AccountSignals = accountSignals();
  readonly role: ClusterRole;
  readonly #channel: WorkerChannel;
  #running: WorkerRunning | undefined;
  #stopping: Promise<void> | undefined;
  #done: () => void = () => undefined;
  /** Resolves once the worker has stopped (drained on the primary's word, or at once when the primary went away). */
  readonly done = new Promise<void>((resolve) => {
    this.#done = resolve;
  });

  constructor(channel: WorkerChannel, options: { flushMs?: number } = {}) {
    this.#channel = channel;
    this.outbox = new Outbox(channel, { flushMs: options.flushMs });
    const forwarder: OutcomeIngest = { report: (o) => this.outbox.report(o) };
    this.role = {
      kind: 'worker',
      signals: this.signals,
      correlator: new ForwardingCorrelator(this.outbox),
      outbox: this.outbox,
      ingest: () => forwarder,
    };
    // Updates can arrive before start() resolves; they apply once `attach` gives the store.
    channel.on('message', (m) => this.#onMessage(m));
    // The primary died without draining us: stop at once rather than serve with no one learning.
    channel.on('disconnect', () => void this.stop(false));
  }

  /** The worker is serving: tell the primary, and answer its requests from now on. */
  attach(running: WorkerRunning): void {
    this.#running = running;
    const outbox = this.outbox;
    const exported: Record<string, number> = { primary_slow: 0, disconnected: 0 };
    new Counter({
      name: 'portcullis_cluster_events_shed_total', help: 'Sign-in events and outcome reports a worker dropped instead of sending them to the primary, by reason.',
      labelNames: ['reason'], registers: [running.metrics.registry],
      collect() {
        // Plain numbers on the Check path; handed to prom-client only when scraped.
        for (const r of OUTBOX_SHED_REASONS) {
          this.inc({ reason: r }, outbox.shed[r] - exported[r]!);
          exported[r] = outbox.shed[r];
        }
      },
    });
    this.#send({ t: 'ready', grpcPort: running.grpcPort, authzPort: running.proxies.authzPort });
  }

  /** Stops serving (after the drain when asked); the process exits when this resolves. */
  stop(drain: boolean): Promise<void> {
    this.#stopping ??= (async () => {
      const r = this.#running;
      if (r) {
        if (drain) await r.drain();
        await r.stop();
      }
      await this.outbox.close();
    })().finally(() => this.#done());
    return this.#stopping;
  }

  #onMessage(m: unknown): void {
    if (!isPrimaryMessage(m)) return;
    switch (m.t) {
      case 'view': {
        const store = this.#running?.store;
        if (store instanceof WorkerStore) store.apply(m);
        return;
      }
      case 'metrics': {
        const registry = this.#running?.metrics.registry;
        if (!registry) return this.#send({ t: 'metrics', id: m.id, metrics: [] });
        registry.getMetricsAsJSON().then(
          (metrics) => this.#send({ t: 'metrics', id: m.id, metrics }),
          () => this.#send({ t: 'metrics', id: m.id, metrics: [] }),
        );
        return;
      }
      case 'drain':
        void this.stop(true).then(() => this.#send({ t: 'stopped' }));
        return;
    }
  }

  #send(m: WorkerMessage): void {
    if (this.#channel.connected) this.#channel.send(m, () => undefined);
  }
}
