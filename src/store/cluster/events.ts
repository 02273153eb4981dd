import type { IpKey } from '../../detect/ip-key.ts';

/** What a worker's Check path leaves for the primary (service/check.ts recordSignIn), one code per event. */
export const EV_ATTEMPT = 1;
export const EV_REFUSED = 2;
/** A sign-in Check remembered for its outcome (correlator.remember); EV_REMEMBER_DENIED when Portcullis refused it. */
export const EV_REMEMBER = 3;
export const EV_REMEMBER_DENIED = 4;

/**
 * A batch of worker events as it crosses the cluster IPC channel: columns, not an object per event, so the
 * structured clone is a few typed-array copies. `users` holds NaN for "no username"; `ids` '' for none.
 */
export interface EventBatch {
  readonly t: 'events';
  readonly kinds: Uint8Array;
  readonly keys: Float64Array;
  readonly users: Float64Array;
  readonly fingerprints: Uint32Array;
  readonly atMs: Float64Array;
  readonly texts: string[];
  readonly ids: string[];
}

/** Where the primary applies a worker's events (its store and correlator). */
export interface EventSink {
  attempt(key: IpKey, usernameHash: number | undefined, clientText: string): void;
  refused(key: IpKey, clientText: string): void;
  remember(requestId: string, key: IpKey, clientText: string, usernameHash: number | undefined, denied: boolean, atMs: number, fingerprint: number): void;
}

/**
 * Fixed-capacity columns the Check path appends to (no allocation per event beyond the strings it already
 * has). `take()` copies out the filled part as one EventBatch and starts over.
 */
export class EventBuffer {
  readonly capacity: number;
  #n = 0;
  readonly #kinds: Uint8Array;
  readonly #keys: Float64Array;
  readonly #users: Float64Array;
  readonly #fingerprints: Uint32Array;
  readonly #atMs: Float64Array;
  #texts: string[] = [];
  #ids: string[] = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('EventBuffer capacity must be a positive integer');
    this.capacity = capacity;
    this.#kinds = new Uint8Array(capacity);
    this.#keys = new Float64Array(capacity);
    this.#users = new Float64Array(capacity);
    this.#fingerprints = new Uint32Array(capacity);
    this.#atMs = new Float64Array(capacity);
  }

  get size(): number {
    return this.#n;
  }

  get full(): boolean {
    return this.#n >= this.capacity;
  }

  /** Appends one event; false (nothing kept) when full: the caller flushes first or sheds. */
  push(kind: number, key: IpKey, usernameHash: number | undefined, clientText: string, requestId = '', atMs = 0, fingerprint = 0): boolean {
    const i = this.#n;
    if (i >= this.capacity) return false;
    this.#kinds[i] = kind;
    this.#keys[i] = key;
    this.#users[i] = usernameHash ?? NaN;
    this.#fingerprints[i] = fingerprint;
    this.#atMs[i] = atMs;
    this.#texts.push(clientText);
    this.#ids.push(requestId);
    this.#n = i + 1;
    return true;
  }

  /** The events so far as one message (copies: a subarray would clone the whole buffer), or undefined if none. */
  take(): EventBatch | undefined {
    const n = this.#n;
    if (n === 0) return undefined;
    const batch: EventBatch = {
      t: 'events',
      kinds: this.#kinds.slice(0, n),
      keys: this.#keys.slice(0, n),
      users: this.#users.slice(0, n),
      fingerprints: this.#fingerprints.slice(0, n),
      atMs: this.#atMs.slice(0, n),
      texts: this.#texts,
      ids: this.#ids,
    };
    this.#n = 0;
    this.#texts = [];
    this.#ids = [];
    return batch;
  }
}

/** Checks a message's shape before it is applied (the channel is ours, but a bad message must not throw mid-apply). */
export function isEventBatch(m: unknown): m is EventBatch {
  if (typeof m !== 'object' || m === null || (m as { t?: unknown }).t !== 'events') return false;
  const b = m as EventBatch;
  const n = b.kinds instanceof Uint8Array ? b.kinds.length : -1;
  return n >= 0 && b.keys instanceof Float64Array && b.keys.length === n && b.users instanceof Float64Array && b.users.length === n
    && b.fingerprints instanceof Uint32Array && b.fingerprints.length === n && b.atMs instanceof Float64Array && b.atMs.length === n
    && Array.isArray(b.texts) && b.texts.length === n && Array.isArray(b.ids) && b.ids.length === n;
}

/** Applies a batch in order; returns the events applied (unknown kinds are skipped). */
export function applyEvents(b: EventBatch, sink: EventSink): number {
  let applied = 0;
  for (let i = 0; i < b.kinds.length; i++) {
    const u = b.users[i]!;
    const user = Number.isNaN(u) ? undefined : u;
    const key = b.keys[i]!;
    const text = String(b.texts[i]);
    switch (b.kinds[i]) {
      case EV_ATTEMPT: sink.attempt(key, user, text); break;
      case EV_REFUSED: sink.refused(key, text); break;
      case EV_REMEMBER:
      case EV_REMEMBER_DENIED:
        sink.remember(String(b.ids[i]), key, text, user, b.kinds[i] === EV_REMEMBER_DENIED, b.atMs[i]!, b.fingerprints[i]!);
        break;
      default: continue;
    }
    applied++;
  }
  return applied;
}
