import type { Outcome } from '../../detect/engine.ts';
import { keyHash } from '../../detect/hash.ts';
import { OrgAttackDetector, type AttackTransition, type OrgAttackOptions, type OrgAttackSnapshot, type OrgOutcomeFacts } from '../../detect/org-attack.ts';
import { isTimeout, type RedisClient, type ScriptRunner } from './client.ts';
import type { RedisKeys } from './keys.ts';

interface BucketCounts {
  f: number;
  s: number;
  u: number;
  bits: Set<number>;
}

/** A closed bucket is read this long after it ended, so every replica's counts for it have arrived. */
export const ORG_GRACE_MS = 2000;
/** Buckets closed per tick when catching up (one read each). */
const MAX_CLOSE_PER_TICK = 30;
/** Older buckets are skipped as empty after a long outage (one hour of 10 s buckets). */
const MAX_GAP = 360;
/** Outcomes kept for buckets not yet sent (an outage): one hour of buckets. */
const MAX_PENDING_BUCKETS = 360;
const STATE_TTL_SEC = 7 * 86_400;
const BUCKET_TTL_SEC = 3600;

/**
 * Org Under Attack shared by every replica. Each replica adds its outcomes to the shared bucket (org_add);
 * once a bucket is closed (after a grace period), any replica restores the shared detector state, closes it
 * from the shared counts and writes the result back with a compare-and-set on the state's version. Exactly one
 * replica wins each step and alone reports its transitions; the others adopt the state on their next tick.
 */
export class SharedOrg {
  readonly #pending = new Map<number, BucketCounts>();
  #busy: Promise<void> | undefined;
  #version = 0;
  #replaceOtherWidth = false;
  lost = 0;

  constructor(
    private readonly client: RedisClient,
    private readonly scripts: ScriptRunner,
    private readonly keys: RedisKeys,
    /** The local view: restored from the shared state on every tick. */
    private readonly view: OrgAttackDetector,
  ) {}

  // The view's shape (fixed once the first config is applied; OrgAttackDetector.reconfigure).
  get #bucketMs(): number {
    return this.view.options.bucketMs;
  }

  get #sketchMask(): number {
    return this.view.options.sketchBits - 1;
  }

  /**
   * The view was rebuilt at the policy's bucket width (the first config after start): adopt the shared state
   * again on the next tick, and replace a shared state of another width (written before the config was read, or
   * by replicas still on the old policy, which then refuse the new one until they restart with it).
   */
  resync(): void {
    this.#version = -1;
    this.#replaceOtherWidth = true;
  }

  record(outcome: Outcome, facts: OrgOutcomeFacts, nowMs: number): void {
    if (outcome !== 'failure' && outcome !== 'success') return;
    const idx = Math.floor(nowMs / this.#bucketMs);
    let p = this.#pending.get(idx);
    if (!p) {
      if (this.#pending.size >= MAX_PENDING_BUCKETS) {
        const oldest = Math.min(...this.#pending.keys());
        this.#pending.delete(oldest);
        this.lost++;
      }
      this.#pending.set(idx, (p = { f: 0, s: 0, u: 0, bits: new Set() }));
    }
    if (outcome === 'success') p.s++;
    else {
      p.f++;
      if (facts.unknownUser) p.u++;
      if (facts.clientKey !== undefined) p.bits.add(keyHash(facts.clientKey) & this.#sketchMask);
    }
  }

  /** Sends pending counts, closes due buckets, adopts the shared state. Rejects when Redis fails. */
  tick(nowMs: number, onTransition: (t: AttackTransition) => void): Promise<void> {
    this.#busy ??= this.#tick(nowMs, onTransition).finally(() => {
      this.#busy = undefined;
    });
    return this.#busy;
  }

  async #tick(nowMs: number, onTransition: (t: AttackTransition) => void): Promise<void> {
    await this.flush();
    let state = await this.#read();
    if (state && state.s.bucketMs !== this.#bucketMs) {
      if (!this.#replaceOtherWidth) throw new Error('shared Org Under Attack state has another bucket width: run every replica with the same spec.detection.orgUnderAttack.bucket, or use another key prefix');
      await this.#cas(state.v, this.#detector(nowMs).exportState());
      state = await this.#read();
      if (!state || state.s.bucketMs !== this.#bucketMs) return;
    }
    if (!state) {
      const fresh = this.#detector(nowMs);
      await this.#cas(0, fresh.exportState());
      state = await this.#read();
      if (!state) return;
    }
    const closable = Math.floor((nowMs - ORG_GRACE_MS) / this.#bucketMs);
    if (state.s.openIdx < closable) {
      const from = Math.max(state.s.openIdx, closable - MAX_GAP);
      const to = Math.min(closable, from + MAX_CLOSE_PER_TICK);
      const counts = await Promise.all(Array.from({ length: to - from }, (_, i) => this.#bucket(from + i)));
      const work = this.#detector(nowMs);
      work.importState({ ...state.s, openIdx: from });
      const transitions: AttackTransition[] = [];
      counts.forEach((c, i) => {
        work.setOpenBucket(c.f, c.s, c.u, c.sketch);
        transitions.push(...work.tick((from + i + 1) * this.#bucketMs));
      });
      const next = work.exportState();
      if (await this.#cas(state.v, next)) {
        state = { v: state.v + 1, s: next };
        for (const t of transitions) onTransition(t);
      } else {
        state = (await this.#read()) ?? state;
      }
    }
    if (state.v !== this.#version) {
      this.#version = state.v;
      this.view.importState(state.s);
    }
  }

  /** Adds pending counts to the shared buckets; counts of a refused call are kept for the next try. */
  async flush(): Promise<void> {
    const entries = [...this.#pending];
    this.#pending.clear();
    await Promise.all(
      entries.map(([idx, p]) => {
        const args: (string | number)[] = [BUCKET_TTL_SEC, p.f, p.s, p.u, ...p.bits];
        return this.scripts.run('orgAdd', [this.keys.orgBucket(idx), this.keys.orgSketch(idx)], args).then(
          () => undefined,
          (err: Error) => {
            if (isTimeout(err)) this.lost++;
            else this.#merge(idx, p);
            throw err;
          },
        );
      }),
    );
  }

  /** A detector with the view's options, for one step of the shared state machine. */
  #detector(nowMs: number): OrgAttackDetector {
    const options: OrgAttackOptions = { ...this.view.options, clock: { nowMs: () => nowMs } };
    return new OrgAttackDetector(options);
  }

  get pendingBuckets(): number {
    return this.#pending.size;
  }

  #merge(idx: number, p: BucketCounts): void {
    const q = this.#pending.get(idx);
    if (!q) return void this.#pending.set(idx, p);
    q.f += p.f;
    q.s += p.s;
    q.u += p.u;
    for (const b of p.bits) q.bits.add(b);
  }

  async #read(): Promise<{ v: number; s: OrgAttackSnapshot } | undefined> {
    const [v, s] = await this.client.hmget(this.keys.orgState, 'v', 's');
    if (!v || !s) return undefined;
    const parsed = JSON.parse(s) as OrgAttackSnapshot;
    if (parsed.v !== 1) throw new Error('shared Org Under Attack state of another format: use another key prefix');
    return { v: Number(v), s: parsed };
  }

  async #cas(version: number, s: OrgAttackSnapshot): Promise<boolean> {
    const r = await this.scripts.run('orgCas', [this.keys.orgState], [version, JSON.stringify(s), STATE_TTL_SEC]);
    return Number(r) > 0;
  }

  async #bucket(idx: number): Promise<{ f: number; s: number; u: number; sketch: Uint8Array | undefined }> {
    const [h, sketch] = await Promise.all([
      this.client.hmget(this.keys.orgBucket(idx), 'f', 's', 'u'),
      this.client.getBuffer(this.keys.orgSketch(idx)),
    ]);
    return { f: Number(h[0] ?? 0), s: Number(h[1] ?? 0), u: Number(h[2] ?? 0), sketch: sketch ?? undefined };
  }
}
