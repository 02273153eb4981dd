import { performance } from 'node:perf_hooks';
import type { OutcomeSource, ShedReason } from '../decide/outcome.ts';

/**
 * A batch of outcomes waiting to be learned: an ALS message, a syslog datagram, the lines of a TCP chunk.
 * It keeps its own cursor, so the queue can stop it anywhere and carry on in a later slice.
 */
export interface OutcomeJob {
  readonly source: OutcomeSource;
  /**
   * Does up to `max` units of work (an entry handed to the ingest, or a field skipped) and returns how many it
   * did; 0 only once it is finished.
   */
  step(max: number): number;
  /** Entries it has not handed on yet: what is counted as shed when the job is refused or abandoned. */
  remaining(): number;
}

export interface OutcomeQueueOptions {
  /** Longest run of work between two turns of the event loop (Checks are answered in between). */
  readonly sliceMs: number;
  /** Most work units in one slice, whatever the clock says. */
  readonly sliceUnits: number;
  /** Units per step between two clock reads. */
  readonly stepUnits: number;
  /** At or above this backlog transports pause reading; they resume once it falls to lowWaterBytes. */
  readonly highWaterBytes: number;
  readonly lowWaterBytes: number;
  /** A batch that would take the backlog past this is refused and counted (reading is paused long before). */
  readonly maxBytes: number;
}

export const DEFAULT_OUTCOME_QUEUE: OutcomeQueueOptions = Object.freeze({
  // A Check arriving mid-slice waits for the rest of it. Measured with a 1M-entry ALS stream under 1,000 Checks/s
  // (docs/benchmarks.md): 0.25 ms brought the Check p50 back to its level without ingestion (1 ms slices doubled
  // it) and learnt as many entries per second; the setImmediate between slices is cheap next to a slice.
  sliceMs: 0.25,
  sliceUnits: 20_000,
  stepUnits: 32,
  // One 8 MiB ALS message (the gRPC message cap) fills it: its stream waits until that message is learned.
  highWaterBytes: 4 * 1024 * 1024,
  lowWaterBytes: 1024 * 1024,
  maxBytes: 64 * 1024 * 1024,
});

interface Queued {
  readonly job: OutcomeJob;
  readonly bytes: number;
}

/**
 * The outcome path's one work queue, shared by every streaming transport (Envoy ALS on either gRPC transport,
 * syslog). Learning is cheap per entry but a single ALS message can hold 100k entries, so batches are learned
 * in slices of about sliceMs, each followed by setImmediate: the event loop polls sockets between slices and a
 * Check waits at most one slice. The backlog is bounded in bytes: transports pause their stream while it is
 * congested (HTTP/2 and TCP flow control push back on the sender), and a batch past maxBytes is refused and
 * counted through onShed, never dropped unseen.
 */
export class OutcomeQueue {
  readonly #o: OutcomeQueueOptions;
  readonly #onShed: (source: OutcomeSource, reason: ShedReason, entries: number) => void;
  #items: Queued[] = [];
  #head = 0;
  #bytes = 0;
  #scheduled = false;
  #closed = false;
  #waiters: Array<() => void> = [];
  #idle: Array<() => void> = [];

  constructor(onShed: (source: OutcomeSource, reason: ShedReason, entries: number) => void, options: OutcomeQueueOptions = DEFAULT_OUTCOME_QUEUE) {
    this.#o = options;
    this.#onShed = onShed;
  }

  /** Bytes held by queued batches. */
  get backlogBytes(): number {
    return this.#bytes;
  }

  /** Batches queued, the one being learned included. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** True while transports should stop reading. */
  get congested(): boolean {
    return this.#bytes >= this.#o.highWaterBytes;
  }

  /**
   * Queues a batch of `bytes` (what it keeps alive). Returns false when it was refused (backlog full, or
   * closed), its entries counted as shed.
   */
  offer(job: OutcomeJob, bytes: number): boolean {
    if (this.#closed) {
      this.#onShed(job.source, 'shutdown', job.remaining());
      return false;
    }
    if (bytes > 0 && this.#bytes + bytes > this.#o.maxBytes) {
      this.#onShed(job.source, 'backlog_full', job.remaining());
      return false;
    }
    this.#items.push({ job, bytes });
    this.#bytes += bytes;
    this.#schedule();
    return true;
  }

  /** Counts a batch its transport refused to queue (a webhook POST while congested) as shed. */
  shed(job: OutcomeJob): void {
    this.#onShed(job.source, 'backlog_full', job.remaining());
  }

  /** Calls `resume` once, when the backlog has fallen to the low-water mark (at once if it is not congested). */
  whenUncongested(resume: () => void): void {
    if (!this.congested) resume();
    else this.#waiters.push(resume);
  }

  /** Calls `done` once every batch queued before now has been learned (or shed). */
  afterQueued(done: () => void): void {
    if (this.length === 0) {
      done();
      return;
    }
    this.#items.push({ job: { source: 'access_log', step: () => (done(), 0), remaining: () => 0 }, bytes: 0 });
  }

  /**
   * Stops taking batches; learns what is queued for up to graceMs, then counts the rest as shed (shutdown).
   * Resumes paused readers so their streams can close.
   */
  async close(graceMs: number): Promise<void> {
    this.#closed = true;
    if (this.length > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        timer.unref();
        this.#idle.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (let i = this.#head; i < this.#items.length; i++) {
      const { job } = this.#items[i]!;
      const left = job.remaining();
      if (left > 0) this.#onShed(job.source, 'shutdown', left);
    }
    this.#items = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#release();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#run);
  }

  readonly #run = (): void => {
    this.#scheduled = false;
    const o = this.#o;
    const start = performance.now();
    let units = 0;
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head]!;
      let did: number;
      try {
        did = item.job.step(o.stepUnits);
      } catch {
        did = 0; // a job that throws is abandoned; the ingest itself never throws
      }
      units += did;
      if (did === 0) {
        this.#items[this.#head++] = undefined as unknown as Queued; // let the batch's bytes go
        this.#bytes -= item.bytes;
        if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
          this.#items = this.#items.slice(this.#head);
          this.#head = 0;
        }
        if (this.#bytes <= o.lowWaterBytes) this.#release();
      }
      if (units >= o.sliceUnits || performance.now() - start >= o.sliceMs) break;
    }
    if (this.#head < this.#items.length) this.#schedule();
    else {
      this.#items = [];
      this.#head = 0;
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    }
  };

  #release(): void {
    if (this.#waiters.length === 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const resume of waiters) resume();
  }
}
