import { fmix32 } from '../../detect/hash.ts';
import type { IpKey } from '../../detect/ip-key.ts';
import type { Thresholds } from '../../detect/thresholds.ts';
import { isTimeout, type ScriptRunner } from './client.ts';
import type { RedisKeys } from './keys.ts';

export const EV_ATTEMPT = 1;
export const EV_FAILURE = 2;
export const EV_SUCCESS = 3;
export const EV_UNKNOWN_USER_FAILURE = 4;
/** A sign-in attempt refused by the decision (persistence). */
export const EV_REFUSED = 5;

/** One sign-in event for one client, as queued for Redis and, during an outage, replayed later. */
export interface StoreEvent {
  readonly key: IpKey;
  readonly kind: 1 | 2 | 3 | 4 | 5;
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
/** Events per script call: keeps one call short on Redis' single thread (about 1 ms). */
const MAX_EVENTS_PER_CALL = 256;

/** The fixed part of the record script's arguments, from the normal profile (windows never differ). */
export function recordParams(t: Thresholds): { windows: number[]; idleSec: number; offenceMemorySec: number } {
  const windows = [t.bruteForceShort, t.bruteForce, t.bruteForceLong, t.unknownUserSpray, t.passwordSpray, t.credentialStuffing, t.accountTargeted, t.persistence].map((w) => w.windowMs / 1000);
  // The engine's idle rule (IpTable.wMax): the short ring may hold a failure up to two sub-buckets past its window.
  const ring = windows[0]! + 2 * Math.ceil(windows[0]! / 10);
  return { windows, idleSec: 2 * Math.max(ring, ...windows.slice(1)), offenceMemorySec: Math.ceil(t.offenceMemoryMs / 1000) };
}

/** recordParams of the thresholds in force, recomputed only when they change (a reload that reshaped the engine). */
export function liveRecordParams(current: () => Thresholds): () => ReturnType<typeof recordParams> {
  let seen: Thresholds | undefined;
  let params: ReturnType<typeof recordParams> | undefined;
  return () => {
    const t = current();
    if (t !== seen) {
      seen = t;
      params = recordParams(t);
    }
    return params!;
  };
}

/**
 * Batches sign-in events per client and sends them with the `record` script: one call per flush outside a
 * Cluster (up to 256 events), one per client in a Cluster. A flush costs one round trip per Redis node.
 */
export class RowWriter {
  #queue = new Map<IpKey, StoreEvent[]>();
  #queued = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #inflight = new Set<Promise<void>>();
  readonly #params: () => ReturnType<typeof recordParams>;
  calls = 0;
  /** Flushes sent: each is one pipelined write, one round trip per Redis node. */
  flushes = 0;

  constructor(
    private readonly scripts: ScriptRunner,
    private readonly keys: RedisKeys,
    /** The engine's thresholds in force (their windows and offence memory go with every call). */
    thresholds: () => Thresholds,
    private readonly pairCap: number,
    private readonly flushMs: number,
    /** One script call may update several clients (not in a Cluster, where their keys are on different slots). */
    private readonly multiClient: boolean,
    private readonly nowSec: () => number,
    /** A client's new row, and the (username hash, failures) pairs its batch changed, flat. */
    private readonly onRow: (key: IpKey, row: Buffer, accounts: readonly number[], events: readonly StoreEvent[]) => void,
    private readonly onFlushed: (r: SendResult) => void,
  ) {
    this.#params = liveRecordParams(thresholds);
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
    this.flushes++;
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

  /**
   * Record calls for the groups, all issued in the same tick: many clients per call where one script may touch
   * keys of several clients (standalone, Sentinel), one per client in a Cluster. A client with more events than
   * fit one call gets several, in order.
   */
  async send(groups: ReadonlyMap<IpKey, readonly StoreEvent[]>): Promise<SendResult> {
    const failed: StoreEvent[] = [];
    const ambiguous: StoreEvent[] = [];
    let error: Error | undefined;
    const p = this.#params();
    const head = [...p.windows, p.idleSec, p.offenceMemorySec, this.nowSec(), this.pairCap];
    const calls: Promise<void>[] = [];
    let keys: string[] = [];
    let members: { key: IpKey; events: readonly StoreEvent[] }[] = [];
    let size = 0;
    const issue = (): void => {
      if (members.length === 0) return;
      const m = members;
      this.calls++;
      calls.push(this.scripts.run('record', keys, [...head, encodeEvents(m)]).then(
        (reply) => {
          const r = reply as (Buffer | number[])[];
          m.forEach((x, i) => this.onRow(x.key, r[2 * i] as Buffer, r[2 * i + 1] as number[], x.events));
        },
        (err: Error) => {
          error ??= err;
          for (const x of m) (isTimeout(err) ? ambiguous : failed).push(...x.events);
        },
      ));
      keys = [];
      members = [];
      size = 0;
    };
    for (const [key, events] of groups) {
      for (let i = 0; i < events.length; i += MAX_EVENTS_PER_CALL) {
        const chunk = events.slice(i, i + MAX_EVENTS_PER_CALL);
        if (i > 0 || size + chunk.length > MAX_EVENTS_PER_CALL) issue();
        keys.push(this.keys.row(key), this.keys.pairs(key));
        members.push({ key, events: chunk });
        size += chunk.length;
        if (!this.multiClient) issue();
      }
    }
    issue();
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

/** Per client: event count (u16), then 10 bytes per event (see RECORD_LUA). */
function encodeEvents(members: readonly { events: readonly StoreEvent[] }[]): Buffer {
  let bytes = 0;
  for (const m of members) bytes += 2 + 10 * m.events.length;
  const b = Buffer.allocUnsafe(bytes);
  let o = 0;
  for (const m of members) {
    o = b.writeUInt16LE(m.events.length, o);
    for (const e of m.events) {
      const uh = e.usernameHash;
      let bit = 255;
      if (uh !== undefined) {
        const h = fmix32(uh ^ U_SALT);
        if (e.kind === EV_ATTEMPT) bit = (h >>> 8) & 15;
        else if (e.kind !== EV_SUCCESS && e.kind !== EV_REFUSED) bit = h & 31;
      }
      b[o] = uh === undefined ? e.kind : e.kind | 128;
      b[o + 1] = bit;
      b.writeUInt32LE(e.sec >>> 0, o + 2);
      b.writeUInt32LE(uh === undefined ? 0 : uh >>> 0, o + 6);
      o += 10;
    }
  }
  return b;
}
