/**
 * Remembers, per request id, what the Check path knew (the resolved client key, the username hash), so that an
 * outcome arriving later on the access-log stream counts against the same client.
 *
 * Bounded in entries, in bytes and in age. A Map keeps insertion order and an entry is never re-inserted, so
 * the first entry is always the oldest: eviction and expiry are O(1) without a timer per entry.
 *
 * A request id is attacker-influenced text (Envoy keeps a client's x-request-id when preserve_external_request_id
 * is on, and other proxies may pass it through), so:
 * - the first Check with an id wins. A later Check with the same id is not remembered, and the pending one is
 *   marked `reused`: its "Portcullis denied this" shortcut is no longer trusted (a refused request must not
 *   hide the failure of an allowed one sharing its id; docs/outcomes-trust.md);
 * - ids longer than `maxIdLength` are not remembered at all (Envoy's own ids are 36-character UUIDs);
 * - the bytes held are estimated per entry and capped by `maxBytes`, evicting the oldest.
 */
export interface PendingAttempt<K> {
  readonly key: K;
  readonly clientText: string;
  readonly usernameHash: number | undefined;
  /** 20-bit password fingerprint of the attempt (policy passwordSignals), or 0. */
  readonly fingerprint: number;
  /** Portcullis denied this request: its outcome must never count as a failed sign-in. */
  readonly denied: boolean;
  readonly atMs: number;
}

/** A pending attempt as taken back: `reused` when another Check carried the same request id meanwhile. */
export interface TakenAttempt<K> extends PendingAttempt<K> {
  readonly reused: boolean;
}

/** Why a Check was not (or is no longer) waiting for its outcome; a closed set (metric label). */
export const CORRELATOR_DROPS = ['duplicate_id', 'id_too_long', 'evicted'] as const;
export type CorrelatorDrop = (typeof CORRELATOR_DROPS)[number];

export interface CorrelatorOptions {
  /** Pending Checks held at most (default 100,000). */
  readonly maxEntries?: number;
  /** Estimated bytes held at most, ids included (default 32 MiB). */
  readonly maxBytes?: number;
  /** Longest request id remembered, in UTF-16 code units (default 128; Envoy's UUIDs are 36). */
  readonly maxIdLength?: number;
  /** Age after which a pending Check is forgotten (default 120 s). */
  readonly maxAgeMs?: number;
}

/**
 * Estimated heap cost of one entry besides its strings: the Map slot, the entry object (7 fields) and two string
 * headers. bench/correlator-memory.ts measures the real figure against this estimate.
 */
export const ENTRY_OVERHEAD_BYTES = 168;

/** Strings are counted at 2 bytes per code unit (the worst case of V8's one- and two-byte strings). */
function bytesOf(id: string, clientText: string): number {
  return ENTRY_OVERHEAD_BYTES + 2 * (id.length + clientText.length);
}

interface Entry<K> extends PendingAttempt<K> {
  reused: boolean;
}

export class AttemptCorrelator<K> {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxIdLength: number;
  readonly maxAgeMs: number;
  readonly #pending = new Map<string, Entry<K>>();
  #bytes = 0;
  /** Since start, per reason (read at scrape time; plain numbers keep the Check path free of metric calls). */
  readonly dropped: Record<CorrelatorDrop, number> = { duplicate_id: 0, id_too_long: 0, evicted: 0 };

  constructor(options: CorrelatorOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
    this.maxIdLength = options.maxIdLength ?? 128;
    this.maxAgeMs = options.maxAgeMs ?? 120_000;
  }

  /**
   * Remembers a sign-in Check unless its id is too long or already pending; returns whether it did. Fields, not
   * an object: the entry is the one allocation per remembered Check.
   */
  remember(requestId: string, key: K, clientText: string, usernameHash: number | undefined, denied: boolean, atMs: number, fingerprint = 0): boolean {
    if (requestId.length > this.maxIdLength) {
      this.dropped.id_too_long++;
      return false;
    }
    const held = this.#pending.get(requestId);
    if (held !== undefined) {
      held.reused = true;
      this.dropped.duplicate_id++;
      return false;
    }
    const bytes = bytesOf(requestId, clientText);
    while (this.#pending.size > 0 && (this.#pending.size >= this.maxEntries || this.#bytes + bytes > this.maxBytes)) {
      this.#deleteOldest();
      this.dropped.evicted++;
    }
    this.#pending.set(requestId, { key, clientText, usernameHash, fingerprint, denied, atMs, reused: false });
    this.#bytes += bytes;
    return true;
  }

  /** The attempt pending under this id, without forgetting it; undefined if unknown or too old. */
  peek(requestId: string, nowMs: number): TakenAttempt<K> | undefined {
    const a = this.#pending.get(requestId);
    return a !== undefined && nowMs - a.atMs <= this.maxAgeMs ? a : undefined;
  }

  /** Returns and forgets the attempt, or undefined if unknown or too old. */
  take(requestId: string, nowMs: number): TakenAttempt<K> | undefined {
    const a = this.#pending.get(requestId);
    if (a === undefined) return undefined;
    this.#delete(requestId, a);
    return nowMs - a.atMs <= this.maxAgeMs ? a : undefined;
  }

  /** Drops entries past their age, oldest first; stops at the first young one. */
  sweep(nowMs: number): void {
    for (const [id, a] of this.#pending) {
      if (nowMs - a.atMs <= this.maxAgeMs) break;
      this.#delete(id, a);
    }
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Estimated bytes held (entries and their strings). */
  get bytes(): number {
    return this.#bytes;
  }

  #deleteOldest(): void {
    const first = this.#pending.entries().next();
    if (!first.done) this.#delete(first.value[0], first.value[1]);
  }

  #delete(id: string, a: Entry<K>): void {
    this.#pending.delete(id);
    this.#bytes -= bytesOf(id, a.clientText);
  }
}
