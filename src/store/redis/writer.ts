import { fmix32 } from '../../detect/hash.ts';
import type { IpKey } from '../../detect/ip-key.ts';
import type { Thresholds } from '../../detect/thresholds.ts';
import { isTimeout, type ScriptRunner } from './client.ts';
import type { RedisKeys } from './keys.ts';

export const EV_ATTEMPT = 1;
export const EV_FAILURE = 2;
export const EV_SUCCESS = 3;
export const EV_UNKNOWN_USER_FAILURE = 4;

/** One sign-in event for one client, as queued for Redis and, during an outage, replayed later. */
export interface StoreEvent {
  readonly key: IpKey;
  readonly kind: 1 | 2 | 3 | 4;
  readonly sec: number;
  readonly usernameHash: number | undefined;
  readonly clientText: string | undefined;
}

export interface SendResult {
  /** Not applied by Redis (refused or never sent): safe to replay. */
  readonly failed: StoreEvent[];
  /** Timed out: Redis may or may not have applied them, so they are not replayed. */
  readonly ambiguous: StoreEvent[];
  readonly error: Error | undefined;
}

// Same salt and bit choice as the engine, so a shared row is bit-for-bit what the engine would hold.
const U_SALT = 0x27d4eb2f;
/** Events per script call: keeps one call short on Redis' single thread. */
const MAX_EVENTS_PER_CALL = 256;

/** The fixed part of the record script's arguments, from the normal profile (windows never differ). */
export function recordParams(t: Thresholds): { windows: number[]; idleSec: number; offenceMemorySec: number } {
  const windows = [t.bruteForceShort, t.bruteForce, t.bruteForceLong, t.unknownUserSpray, t.passwordSpray, t.credentialStuffing, t.accountTargeted].map((w) => w.windowMs / 1000);
  return { windows, idleSec: 2 * Math.max(...windows), offenceMemorySec: Math.ceil(t.offenceMemoryMs / 1000) };
}

/**
 * Batches sign-in events per client and sends each client's batch as one `record` script call. All calls of
 * one flush leave in one write (auto-pipelining), so a flush costs one round trip per Redis node.
 */
export class RowWriter {
  #queue = new Map<IpKey, StoreEvent[]>();
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #inflight = new Set<Promise<void>>();
  readonly #params: ReturnType<typeof recordParams>;
  calls = 0;

  constructor(
    private readonly scripts: ScriptRunner,
    private readonly keys: RedisKeys,
    thresholds: Thresholds,
    private readonly pairCap: number,
    private readonly flushMs: number,
    private readonly nowSec: () => number,
    private readonly onRow: (key: IpKey, row: Buffer, events: readonly StoreEvent[]) => void,
    private readonly onFlushed: (r: SendResult) => void,
  ) {
    this.#params = recordParams(thresholds);
  }

  get queued(): number {
    return this.#queued;
  }

  push(e: StoreEvent): void {
    let list = this.#queue.get(e.key);
    if (!list) this.#queue.set(e.key, (list = []));
    list.push(e);
    this.#queued++;
    // One shared timer for the whole batch, never one per event.
    this.#timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /** Sends what is queued now; the result goes to onFlushed. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queued === 0) return;
    const groups = this.#queue;
    this.#queue = new Map();
    this.#queued = 0;
    const p = this.send(groups).then(this.onFlushed);
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  /** Takes everything still queued (the store went degraded: count it locally instead). */
  drain(): StoreEvent[] {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const out = [...this.#queue.values()].flat();
    this.#queue = new Map();
    this.#queued = 0;
    return out;
  }

  /** One record call per client (more for a long replay), all issued in the same tick. */
  async send(groups: ReadonlyMap<IpKey, readonly StoreEvent[]>): Promise<SendResult> {
    const failed: StoreEvent[] = [];
    const ambiguous: StoreEvent[] = [];
    let error: Error | undefined;
    const head = [...this.#params.windows, this.#params.idleSec, this.#params.offenceMemorySec, this.nowSec(), this.pairCap];
    const calls: Promise<void>[] = [];
    for (const [key, events] of groups) {
      for (let i = 0; i < events.length; i += MAX_EVENTS_PER_CALL) {
        const chunk = events.slice(i, i + MAX_EVENTS_PER_CALL);
        const args: (string | number)[] = head.slice();
        for (const e of chunk) pushArgs(args, e);
        this.calls++;
        calls.push(
          this.scripts.run('record', [this.keys.row(key), this.keys.pairs(key)], args).then(
            (row) => this.onRow(key, row as Buffer, chunk),
            (err: Error) => {
              error ??= err;
              (isTimeout(err) ? ambiguous : failed).push(...chunk);
            },
          ),
        );
      }
    }
    await Promise.all(calls);
    return { failed, ambiguous, error };
  }

  async settled(): Promise<void> {
    while (this.#inflight.size > 0 || this.#timer) {
      if (this.#timer) this.flush();
      await Promise.all([...this.#inflight]);
    }
  }
}

function pushArgs(args: (string | number)[], e: StoreEvent): void {
  const uh = e.usernameHash;
  let bit = -1;
  if (uh !== undefined) {
    const h = fmix32(uh ^ U_SALT);
    if (e.kind === EV_ATTEMPT) bit = (h >>> 8) & 15;
    else if (e.kind !== EV_SUCCESS) bit = h & 31;
  }
  args.push(e.kind, e.sec, bit, uh === undefined ? '' : String(uh >>> 0));
}
