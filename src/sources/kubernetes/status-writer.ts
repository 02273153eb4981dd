import { Backoff } from '../../backoff.ts';
import { describeError, statusOf, type KubeApi } from './client.ts';
import type { EventRecorder } from './events.ts';
import type { Tracked } from './reconciler.ts';
import { RESOURCES } from './resources.ts';
import { desiredStatus, type AttackState, type RuntimeStatus } from './status.ts';

export type StatusWriteResult = 'written' | 'conflict' | 'error';

export interface StatusWriterOptions {
  readonly isLeader: () => boolean;
  readonly lookup: (uid: string) => Tracked | undefined;
  readonly attackFor: (t: Tracked) => AttackState | undefined;
  /** Feed manager status of a ThreatFeed or DynamicZone, read when the write is made. */
  readonly runtimeFor?: (t: Tracked) => RuntimeStatus | undefined;
  readonly concurrency?: number;
  readonly now?: () => number;
  readonly onResult?: (r: StatusWriteResult) => void;
  readonly onError?: (message: string) => void;
}

/**
 * Writes status (leader only) with PUT on the status subresource carrying the resourceVersion the verdict was
 * made from, so a status never describes a spec it did not see: on 409 the newer version arrives by watch and
 * is written in turn. Work is keyed by uid, so a burst of changes to one object costs one write.
 */
export class StatusWriter {
  readonly #queue = new Set<string>();
  readonly #inFlight = new Set<string>();
  readonly #again = new Set<string>();
  readonly #retries = new Map<string, NodeJS.Timeout>();
  readonly #backoff = new Backoff(500, 30_000);
  #stopped = false;

  constructor(private readonly api: KubeApi, private readonly recorder: EventRecorder, private readonly o: StatusWriterOptions) {}

  enqueue(uid: string): void {
    if (this.#stopped || !this.o.isLeader()) return;
    if (this.#inFlight.has(uid)) this.#again.add(uid);
    else this.#queue.add(uid);
    this.#pump();
  }

  /** Nothing is written for a replica that is not leading; its queue is simply dropped. */
  clear(): void {
    this.#queue.clear();
    this.#again.clear();
    for (const t of this.#retries.values()) clearTimeout(t);
    this.#retries.clear();
  }

  stop(): void {
    this.#stopped = true;
    this.clear();
  }

  get idle(): boolean {
    return this.#queue.size === 0 && this.#inFlight.size === 0;
  }

  #pump(): void {
    const limit = this.o.concurrency ?? 4;
    for (const uid of this.#queue) {
      if (this.#inFlight.size >= limit) return;
      this.#queue.delete(uid);
      this.#inFlight.add(uid);
      void this.#write(uid).finally(() => {
        this.#inFlight.delete(uid);
        if (this.#again.delete(uid)) this.#queue.add(uid);
        this.#pump();
      });
    }
  }

  #retry(uid: string, ms: number): void {
    if (this.#retries.has(uid)) return;
    const timer = setTimeout(() => { this.#retries.delete(uid); this.enqueue(uid); }, ms);
    timer.unref();
    this.#retries.set(uid, timer);
  }

  async #write(uid: string): Promise<void> {
    if (!this.o.isLeader()) return;
    const t = this.o.lookup(uid);
    if (!t) return;
    const now = this.o.now?.() ?? Date.now();
    const d = desiredStatus(t, new Date(now), this.o.attackFor(t), this.o.runtimeFor?.(t));
    if (!d) return;
    const sent = t.raw;
    try {
      const updated = await this.api.replaceStatus(RESOURCES[t.kind], { ...sent, status: d.status });
      // Keep what we wrote unless a newer version arrived meanwhile, so the next comparison sees it.
      if (updated && t.raw === sent) t.raw = updated;
      this.#backoff.reset();
      this.o.onResult?.('written');
      if (d.event) {
        const m = t.raw.metadata;
        await this.recorder.record({ kind: t.kind, name: m.name, namespace: m.namespace ?? '', uid, resourceVersion: m.resourceVersion }, d.event.type, d.event.reason, d.event.message, now);
      }
    } catch (err) {
      const code = statusOf(err);
      if (code === 404) return; // deleted meanwhile
      if (code === 409) {
        this.o.onResult?.('conflict');
        this.#retry(uid, 1000); // normally the watch delivers the newer version first; this is a backstop
        return;
      }
      this.o.onResult?.('error');
      this.o.onError?.(`status of ${t.kind} ${t.raw.metadata.namespace}/${t.raw.metadata.name}: ${describeError(err)}`);
      this.#retry(uid, this.#backoff.next());
    }
  }
}
