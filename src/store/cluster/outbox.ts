import type { IpKey } from '../../detect/ip-key.ts';
import { EV_ATTEMPT, EV_REFUSED, EV_REMEMBER, EV_REMEMBER_DENIED, EventBuffer } from './events.ts';

/** A worker's end of the cluster IPC channel (process.send in a cluster worker). */
export interface PrimaryLink {
  /** Queues a message; `done` runs once it is written (or failed). False: the channel is closed. */
  send(message: unknown, done: (err: Error | null) => void): boolean;
  readonly connected: boolean;
}

export interface OutboxOptions {
  /** Longest an event waits before its batch is sent (default 5 ms). */
  readonly flushMs?: number;
  /** Events per batch (default 2048): a full batch goes at once. */
  readonly maxBatch?: number;
  /** Batches written but not yet taken by the channel (default 64): beyond, new batches are shed and counted. */
  readonly maxInFlight?: number;
}

/** Why a worker dropped events instead of sending them; a closed set (metric label). */
export const OUTBOX_SHED_REASONS = ['primary_slow', 'disconnected'] as const;
export type OutboxShedReason = (typeof OUTBOX_SHED_REASONS)[number];

/**
 * The worker's side of the primary link: sign-in events and outcome reports, batched per few milliseconds or
 * per `maxBatch`, sent over the IPC channel. Bounded twice: a batch has a fixed capacity, and when the primary
 * has not taken `maxInFlight` batches yet, new ones are shed (counted by reason) rather than queued without
 * end. The Check path only appends to typed arrays; the one timer is armed per batch, not per event.
 */
export class Outbox {
  readonly flushMs: number;
  readonly maxBatch: number;
  readonly maxInFlight: number;
  /** Events and reports shed, by reason. */
  readonly shed: Record<OutboxShedReason, number> = { primary_slow: 0, disconnected: 0 };
  /** Batches sent (events and outcome reports). */
  sent = 0;
  readonly #link: PrimaryLink;
  readonly #events: EventBuffer;
  #reports: unknown[] = [];
  #timer: NodeJS.Timeout | undefined;
  #inFlight = 0;
  #idle: Array<() => void> = [];
  #closed = false;

  constructor(link: PrimaryLink, options: OutboxOptions = {}) {
    this.#link = link;
    this.flushMs = options.flushMs ?? 5;
    this.maxBatch = options.maxBatch ?? 2048;
    this.maxInFlight = options.maxInFlight ?? 64;
    this.#events = new EventBuffer(this.maxBatch);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Events and reports waiting for the next batch. */
  get queued(): number {
    return this.#events.size + this.#reports.length;
  }

  attempt(key: IpKey, usernameHash: number | undefined, clientText: string): void {
    this.#push(EV_ATTEMPT, key, usernameHash, clientText, '', 0, 0);
  }

  refused(key: IpKey, clientText: string): void {
    this.#push(EV_REFUSED, key, undefined, clientText, '', 0, 0);
  }

  remember(requestId: string, key: IpKey, clientText: string, usernameHash: number | undefined, denied: boolean, atMs: number, fingerprint: number): void {
    this.#push(denied ? EV_REMEMBER_DENIED : EV_REMEMBER, key, usernameHash, clientText, requestId, atMs, fingerprint);
  }

  /** An outcome report for the primary's learner (sent as { t: 'outcomes', reports }). */
  report(r: unknown): void {
    if (this.#closed) return;
    this.#reports.push(r);
    if (this.#reports.length >= this.maxBatch) this.flush();
    else this.#arm();
  }

  /** Sends what is waiting now. */
  flush(): void {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const events = this.#events.take();
    if (events) this.#send(events, events.kinds.length);
    if (this.#reports.length > 0) {
      const reports = this.#reports;
      this.#reports = [];
      this.#send({ t: 'outcomes', reports }, reports.length);
    }
  }

  /** Resolves once everything pushed so far has been written to the channel. */
  settled(): Promise<void> {
    this.flush();
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Flushes, then refuses further events. */
  close(): Promise<void> {
    const done = this.settled();
    this.#closed = true;
    return done;
  }

  #push(kind: number, key: IpKey, user: number | undefined, text: string, id: string, atMs: number, fp: number): void {
    if (this.#closed) return;
    if (this.#events.full) this.flush();
    this.#events.push(kind, key, user, text, id, atMs, fp);
    if (this.#events.full) this.flush();
    else this.#arm();
  }

  #arm(): void {
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.flushMs);
    this.#timer.unref();
  }

  #send(message: unknown, count: number): void {
    if (!this.#link.connected) {
      this.shed.disconnected += count;
      return;
    }
    if (this.#inFlight >= this.maxInFlight) {
      this.shed.primary_slow += count;
      return;
    }
    this.#inFlight++;
    const ok = this.#link.send(message, () => {
      this.#inFlight--;
      if (this.#inFlight === 0) for (const f of this.#idle.splice(0)) f();
    });
    if (ok === false && !this.#link.connected) {
      // The callback still runs (with an error) and releases the slot; the events are lost with the primary.
      this.shed.disconnected += count;
      return;
    }
    this.sent++;
  }
}
