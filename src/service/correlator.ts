/**
 * Remembers, per request id, what the Check path knew (the resolved client key, the username hash), so that an
 * outcome arriving later on the access-log stream counts against the same client. Bounded in entries and age;
 * a Map keeps insertion order, so eviction of the oldest is O(1) without a timer per entry.
 */
export interface PendingAttempt<K> {
  readonly key: K;
  readonly clientText: string;
  readonly usernameHash: number | undefined;
  /** Portcullis denied this request: its outcome must never count as a failed sign-in. */
  readonly denied: boolean;
  readonly atMs: number;
}

export class AttemptCorrelator<K> {
  readonly #pending = new Map<string, PendingAttempt<K>>();

  constructor(private readonly maxEntries = 100_000, private readonly maxAgeMs = 120_000) {}

  remember(requestId: string, attempt: PendingAttempt<K>): void {
    if (this.#pending.size >= this.maxEntries) {
      const oldest = this.#pending.keys().next().value;
      if (oldest !== undefined) this.#pending.delete(oldest);
    }
    this.#pending.delete(requestId); // re-insert at the end
    this.#pending.set(requestId, attempt);
  }

  /** Returns and forgets the attempt, or undefined if unknown or too old. */
  take(requestId: string, nowMs: number): PendingAttempt<K> | undefined {
    const a = this.#pending.get(requestId);
    if (a === undefined) return undefined;
    this.#pending.delete(requestId);
    return nowMs - a.atMs <= this.maxAgeMs ? a : undefined;
  }

  /** Drops entries past their age, oldest first; stops at the first young one. */
  sweep(nowMs: number): void {
    for (const [id, a] of this.#pending) {
      if (nowMs - a.atMs <= this.maxAgeMs) break;
      this.#pending.delete(id);
    }
  }

  get size(): number {
    return this.#pending.size;
  }
}
