import { PortcullisError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import { fmix32, pairKey, xorshift32 } from './hash.ts';
import { ipKey, networkKey, type IpKey } from './ip-key.ts';
import { NetTable, type NetworkCounts } from './net-table.ts';
import * as T from './ip-table.ts';
import { LEVEL_HIGH, LEVEL_MEDIUM, levelName, type ThreatLevel } from './levels.ts';
import { inspectRow, type KeyInspection } from './inspect.ts';
import { PairTable } from './pair-table.ts';
import { accountTargetedLevel, PERSIST_SHIFT, Profile, rememberedOffences } from './profile.ts';
import { DEFAULT_AGGRESSIVE_THRESHOLDS, DEFAULT_THRESHOLDS, shapeDifferences, validateThresholds, withShapeOf } from './thresholds.ts';
import type { Thresholds } from './thresholds.ts';
import { comboLevel, detectionsOf, NONE_VERDICT, unblockedVerdict, type Detections, type Verdict } from './verdict.ts';

export type { Detections, Verdict } from './verdict.ts';
export type { KeyInspection } from './inspect.ts';
export { EMPTY_DETECTIONS, NONE_VERDICT } from './verdict.ts';

export interface AttemptFacts {
  /** 32-bit keyed hash of the username computed by the caller; never the raw username. */
  usernameHash?: number;
}
export type { Outcome } from './levels.ts';
import type { Outcome } from './levels.ts';
export interface OutcomeFacts {
  usernameHash?: number;
  unknownUser?: boolean;
  /** networkKey() of the client: the outcome also counts for its /24 or /48. */
  netKey?: number;
}
export interface RecordResult {
  readonly verdict: Verdict;
  /** This call started a block or raised a MEDIUM block to HIGH (emit an event). */
  readonly newlyBlocked: boolean;
}

import type { BlockPlan, ReplicatedRows } from './replica.ts';
export type { BlockPlan, ReplicatedRows } from './replica.ts';

export interface EngineOptions {
  clock: Clock;
  thresholds?: Thresholds;
  /**
   * Profile used while the org is under attack; windows must equal `thresholds`' windows. Default:
   * DEFAULT_AGGRESSIVE_THRESHOLDS when `thresholds` is not given either, else `thresholds` itself.
   */
  aggressive?: Thresholds;
  /** Create blocks (policy action Block). Default false: evaluate and count only. */
  blocking?: boolean;
}

const U_SALT = 0x27d4eb2f;

/**
 * Per-IP credential-attack detection over an injected clock: pure logic, no timers, no I/O.
 * Keys come from ipKey(). Expiry is lazy on access; call sweep() from one shared interval to reclaim idle
 * entries and keep activeBlockCount exact.
 */
export class DetectionEngine implements ReplicatedRows {
  private normalThresholds: Thresholds;
  private aggrThresholds: Thresholds;
  private readonly clock: Clock;
  private table: T.IpTable;
  private pairs: PairTable;
  private nets: NetTable;
  private readonly netCounts: NetworkCounts = { failures: 0, successes: 0, distinctIps: 0 };
  private netCursor = 0;
  private normal: Profile;
  private aggr: Profile;
  private profile: Profile;
  private blocking: boolean;
  private blocks = 0;
  private evicted = 0;
  private refused = 0;
  private cursor = 0;
  private pairCursor = 0;
  private planUntil = 0;
  private planFlags = 0;

  constructor(opts: EngineOptions) {
    const normal = opts.thresholds ?? DEFAULT_THRESHOLDS;
    const aggr = opts.aggressive ?? (opts.thresholds ? normal : DEFAULT_AGGRESSIVE_THRESHOLDS);
    checkProfiles(normal, aggr);
    this.normalThresholds = normal;
    this.aggrThresholds = aggr;
    this.clock = opts.clock;
    this.table = new T.IpTable(normal);
    this.pairs = new PairTable(normal.maxTrackedPairs, normal.accountTargeted.windowMs / 1000);
    this.nets = new NetTable(normal.maxTrackedNetworks, normal.network.windowMs / 1000);
    this.normal = new Profile(normal);
    this.aggr = new Profile(aggr);
    this.profile = this.normal;
    this.blocking = opts.blocking ?? false;
  }

  /** The normal profile in force. */
  get thresholds(): Thresholds {
    return this.normalThresholds;
  }
  /** The profile in force while the org is under attack. */
  get aggressiveThresholds(): Thresholds {
    return this.aggrThresholds;
  }

  /**
   * New profiles on a running engine (a reload that changed spec.detection): levels, block durations, tolerance
   * and the aggressive profile apply at once, and every tracked counter, block and offence is kept. Fields that
   * shape the tables (windows, ipv6PrefixLength, caps: SHAPE_FIELDS) keep their current values; their names are
   * returned, to apply when the engine is next built. With `reshape` (the first config after start, before
   * traffic) they apply too: the tables are rebuilt at the new shape and the rows they hold (blocks loaded from a
   * shared store) are carried over; (IP, username) and network counters start empty.
   * Throws CONFIG_SCHEMA (and changes nothing) when the profiles are invalid.
   */
  reconfigure(normal: Thresholds, aggressive: Thresholds, reshape = false): string[] {
    const deferred = shapeDifferences(this.normalThresholds, normal);
    const n = reshape ? normal : withShapeOf(normal, this.normalThresholds);
    // The aggressive profile always has the normal one's shape.
    const a = withShapeOf(aggressive, n);
    checkProfiles(n, a);
    const wasAggressive = this.aggressive;
    if (reshape && deferred.length > 0) this.rebuild(n);
    this.normalThresholds = n;
    this.aggrThresholds = a;
    this.normal = new Profile(n);
    this.aggr = new Profile(a);
    this.profile = wasAggressive ? this.aggr : this.normal;
    return reshape ? [] : deferred;
  }

  /** New tables at the shape of `t`, holding the current rows (the local bookkeeping is rebuilt). */
  private rebuild(t: Thresholds): void {
    const old = this.table;
    const table = new T.IpTable(t);
    const row = new Uint8Array(T.ROW_BYTES);
    const now = this.clock.nowMs();
    this.table = table;
    this.blocks = 0;
    for (let id = 0; id < old.index.size && table.index.size < table.index.capacity; id++) {
      const nid = table.index.insert(old.index.keys[id]!);
      table.resetRow(nid, 0);
      table.writeRow(nid, old.readRow(id, row));
      table.queues.push(nid, 0);
      this.recount(nid, now);
      table.queues.reclass(nid, this.evictClass(nid, now));
    }
    this.pairs = new PairTable(t.maxTrackedPairs, t.accountTargeted.windowMs / 1000);
    this.nets = new NetTable(t.maxTrackedNetworks, t.network.windowMs / 1000);
    this.cursor = 0;
    this.pairCursor = 0;
    this.netCursor = 0;
  }

  get trackedCount(): number {
    return this.table.index.size;
  }
  /** Blocks not yet seen expired (exact after a sweep covering the table). */
  get activeBlockCount(): number {
    return this.blocks;
  }
  /** Entries evicted to stay under maxTrackedIps. */
  get evictions(): number {
    return this.evicted;
  }
  /**
   * New keys not tracked because the table was full of keys with more failures (or blocks): a fresh key never
   * displaces a key with more evidence against it.
   */
  get untrackedNewKeys(): number {
    return this.refused;
  }
  get trackedPairCount(): number {
    return this.pairs.size;
  }
  /** Bytes of the per-IP table (allocated for the full cap; untouched pages are not resident). */
  get ipTableBytes(): number {
    return this.table.byteLength;
  }
  get memoryBytes(): number {
    return this.table.byteLength + this.pairs.byteLength + this.nets.byteLength;
  }
  get blockingEnabled(): boolean {
    return this.blocking;
  }
  get aggressive(): boolean {
    return this.profile === this.aggr;
  }

  /** Policy action Block (true) or None/Audit (false). Off: no blocks are created or reported. */
  setBlocking(enabled: boolean): void {
    this.blocking = enabled;
  }

  /** Switch to the aggressive profile while the org is under attack. Existing blocks are kept. */
  setAggressive(on: boolean): void {
    this.profile = on ? this.aggr : this.normal;
  }

  /** ipKey() with this engine's ipv6PrefixLength. */
  keyOf(family: 4 | 6, w0: number, w1: number, w2: number, w3: number): IpKey {
    return ipKey(family, w0, w1, w2, w3, this.thresholds.ipv6PrefixLength);
  }

  /** Network (IPv4 /24, IPv6 /48) of a parsed address, for OutcomeFacts.netKey and networkLevel. */
  networkKeyOf(a: { readonly family: 4 | 6; readonly w0: number; readonly w1: number; readonly w2: number; readonly w3: number }): number {
    return networkKey(a.family, a.w0, a.w1, a.w2, a.w3);
  }

  get trackedNetworkCount(): number {
    return this.nets.index.size;
  }

  /**
   * One outcome for the client's network aggregate only (recordOutcome does it when facts.netKey is given; a
   * shared store calls it directly: network aggregates are per replica).
   */
  recordNetworkOutcome(netKey: number, key: IpKey, outcome: Outcome): void {
    if (outcome !== 'failure' && outcome !== 'success') return;
    this.nets.record(netKey, key, outcome === 'failure', Math.floor(this.clock.nowMs() / 1000));
  }

  /**
   * Level of the client's network under the profile in force, as it applies to this client: NONE for an IP
   * seen to succeed (the owner at home in an attacked network goes on). Read-only, allocation-free.
   */
  networkLevel(netKey: number, key: IpKey, nowMs?: number): ThreatLevel {
    const now = nowMs ?? this.clock.nowMs();
    if (!this.nets.counts(netKey, now, this.netCounts)) return 'NONE';
    const id = this.table.index.find(key);
    if (id >= 0 && (this.table.flags(id) & T.F_PROVEN) !== 0) return 'NONE';
    return levelName(this.profile.networkLevel(this.netCounts));
  }

  /** Aggregate counts of a network (explain, tests); undefined when untracked or idle. */
  networkCounts(netKey: number, nowMs?: number): NetworkCounts | undefined {
    const out = { failures: 0, successes: 0, distinctIps: 0 };
    return this.nets.counts(netKey, nowMs ?? this.clock.nowMs(), out) ? out : undefined;
  }

  /** Tracking key of a parsed address, with this engine's ipv6PrefixLength. */
  keyOfAddress(a: { readonly family: 4 | 6; readonly w0: number; readonly w1: number; readonly w2: number; readonly w3: number }): IpKey {
    return ipKey(a.family, a.w0, a.w1, a.w2, a.w3, this.thresholds.ipv6PrefixLength);
  }

  /** The key has a recorded success (its "seen to succeed" mark). Read-only, allocation-free. */
  proven(key: IpKey): boolean {
    const id = this.table.index.find(key);
    return id >= 0 && (this.table.flags(id) & T.F_PROVEN) !== 0;
  }

  /** Current verdict for a key; does not record. Allocates only when the key is blocked. */
  evaluate(key: IpKey, nowMs?: number): Verdict {
    const id = this.table.index.find(key);
    if (id < 0) return NONE_VERDICT;
    const now = nowMs ?? this.clock.nowMs();
    return this.verdictOf(id, this.combo(id, now, this.profile), now);
  }

  /** A sign-in attempt passed the gate. A key already at MEDIUM/HIGH is blocked from the next request on. */
  recordAttempt(key: IpKey, facts: AttemptFacts = {}): RecordResult {
    const now = this.clock.nowMs();
    const id = this.upsert(key, now, 0);
    if (id < 0) return { verdict: NONE_VERDICT, newlyBlocked: false };
    this.table.inc(id, T.B_ATT);
    if (facts.usernameHash !== undefined) this.table.addStuffUser(id, fmix32(facts.usernameHash ^ U_SALT) >>> 8);
    return this.finish(id, now);
  }

  /**
   * A sign-in attempt that Portcullis refused (an active block, or a refused account): evidence of persistence,
   * never a failed sign-in (no account counter moves). Three within 10 min from an IP never seen to succeed is
   * HIGH (docs/detection.md, Persistence).
   */
  recordRefused(key: IpKey): RecordResult {
    const now = this.clock.nowMs();
    // Refused attempts are evidence like a failure: worth a place as much as one failure.
    const id = this.upsert(key, now, 1);
    if (id < 0) return { verdict: NONE_VERDICT, newlyBlocked: false };
    this.table.inc(id, T.B_REF);
    return this.finish(id, now);
  }

  /** Outcome of a sign-in that was not blocked (the caller guarantees blocked requests never get here). */
  recordOutcome(key: IpKey, outcome: Outcome, facts: OutcomeFacts = {}): RecordResult {
    const now = this.clock.nowMs();
    const blocked = this.learnOutcome(key, outcome, facts, now);
    if (blocked !== undefined) return { verdict: blocked, newlyBlocked: true };
    return { verdict: this.evaluate(key, now), newlyBlocked: false };
  }

  /**
   * recordOutcome for the outcome path, which needs the verdict only when a block starts: returns it then (this
   * outcome started a block or raised a MEDIUM block to HIGH), else undefined, and allocates nothing otherwise.
   * Every outcome of an access-log stream comes here. Subclasses that watch writes override this one.
   */
  learnOutcome(key: IpKey, outcome: Outcome, facts: OutcomeFacts = {}, now = this.clock.nowMs()): Verdict | undefined {
    if (outcome !== 'failure' && outcome !== 'success') return undefined;
    if (facts.netKey !== undefined) this.recordNetworkOutcome(facts.netKey, key, outcome);
    const id = this.upsert(key, now, outcome === 'failure' ? 1 : 0);
    if (id < 0) return undefined;
    const t = this.table;
    const uh = facts.usernameHash;
    if (outcome === 'failure') {
      t.incRing(id);
      t.inc(id, T.B_MID);
      t.inc(id, T.B_LONG);
      if (facts.unknownUser) t.inc(id, T.B_UNK);
      if (uh !== undefined) {
        t.addSprayUser(id, fmix32(uh ^ U_SALT));
        t.raise(id, T.B_TGT, this.pairs.fail(pairKey(key, uh), Math.floor(now / 1000)));
      }
    } else {
      t.inc(id, T.B_SUCC);
      t.setFlags(id, t.flags(id) | T.F_PROVEN);
      if (uh !== undefined) this.pairs.succeed(pairKey(key, uh));
    }
    const combo = this.combo(id, now, this.profile);
    return this.settle(id, now, combo) ? this.verdictOf(id, combo, now) : undefined;
  }

  /** Failures recorded for one (IP, username) pair since its last success. */
  accountFailures(key: IpKey, usernameHash: number): number {
    return this.pairs.get(pairKey(key, usernameHash), Math.floor(this.clock.nowMs() / 1000));
  }

  /**
   * Level of one (IP, account) pair under the profile in force. Used per attempt, so that a targeted account
   * is protected even where the IP-wide level is held down (a busy NAT); not part of evaluate().
   */
  accountLevel(key: IpKey, usernameHash: number): ThreatLevel {
    const failures = this.accountFailures(key, usernameHash);
    if (failures === 0) return 'NONE';
    const id = this.table.index.find(key);
    const proven = id >= 0 && (this.table.flags(id) & T.F_PROVEN) !== 0;
    return levelName(accountTargetedLevel(this.profile, proven, failures));
  }

  /**
   * Reclaims up to `budget` idle entries (every window empty, no block, no remembered offence) and retires
   * expired blocks from activeBlockCount. Meant for one shared coarse interval. Returns entries removed.
   */
  sweep(budget = 4096, nowMs?: number): number {
    const now = nowMs ?? this.clock.nowMs();
    const nowSec = Math.floor(now / 1000);
    const t = this.table;
    const idle = 2 * t.wMax;
    let removed = 0;
    let i = this.cursor;
    for (let n = 0; n < budget && t.index.size > 0; n++) {
      if (i >= t.index.size) i = 0;
      this.retire(i, now);
      if (
        nowSec - t.lastSec(i) >= idle &&
        t.blockedUntilSec(i) * 1000 <= now &&
        rememberedOffences(t, i, now, this.profile) === 0
      ) {
        t.remove(i);
        removed++;
      } else {
        // Failures age out of their windows without a write: keep the entry's class honest (its age is kept).
        t.queues.reclass(i, this.evictClass(i, now));
        i++;
      }
    }
    this.cursor = i;
    this.netCursor = this.nets.sweep(budget, nowSec, this.netCursor);
    const p = this.pairs.sweep(budget, nowSec, this.pairCursor);
    this.pairCursor = p.cursor;
    return removed;
  }

  /** Counters, levels, reasons and block of a key, for `explain` and the admin endpoint. */
  inspect(key: IpKey, nowMs?: number): KeyInspection | undefined {
    const id = this.table.index.find(key);
    if (id < 0) return undefined;
    const now = nowMs ?? this.clock.nowMs();
    return inspectRow(this.table, id, key, now, this.profile, this.aggressive);
  }

  // Shared stores (src/store) keep the rows elsewhere and use this engine as the local view.

  /** End of the key's stored block in seconds (active or not, blocking on or off); 0 when untracked. */
  blockUntilSec(key: IpKey): number {
    const id = this.table.index.find(key);
    return id < 0 ? 0 : this.table.blockedUntilSec(id);
  }

  /** A tracked key's row in the shared-store format (ROW_BYTES), or undefined. */
  exportRow(key: IpKey): Uint8Array | undefined {
    const id = this.table.index.find(key);
    return id < 0 ? undefined : this.table.readRow(id, new Uint8Array(T.ROW_BYTES));
  }

  /**
   * Replaces a key's row with the shared store's copy. A longer active local block is kept: a stale copy
   * (or one from before an outage) never shortens a block.
   */
  loadRow(key: IpKey, row: Uint8Array, nowMs?: number): void {
    const now = nowMs ?? this.clock.nowMs();
    const id = this.upsert(key, now, T.EVICT_BLOCKED); // the shared store's rows always get a place
    const t = this.table;
    const until = t.blockedUntilSec(id);
    const blockBits = t.flags(id) & (3 << T.F_BLOCK_LEVEL_SHIFT);
    t.writeRow(id, row);
    if (until * 1000 > now && until > t.blockedUntilSec(id)) {
      t.setBlockedUntilSec(id, until);
      t.setFlags(id, (t.flags(id) & ~(3 << T.F_BLOCK_LEVEL_SHIFT)) | blockBits);
    }
    this.recount(id, now);
    t.queues.touch(id, this.evictClass(id, now));
  }

  /** Failures of one (IP, username) pair as a shared store holds them (0: the pair was reset by a success). */
  loadAccountFailures(key: IpKey, usernameHash: number, failures: number, nowSec: number): void {
    this.pairs.set(pairKey(key, usernameHash), failures, nowSec);
  }

  /** An active block learnt from a block index (no counters); never shortens a longer local block. */
  loadBlock(key: IpKey, untilMs: number, level: 'MEDIUM' | 'HIGH', nowMs?: number): void {
    const now = nowMs ?? this.clock.nowMs();
    const id = this.upsert(key, now, T.EVICT_BLOCKED);
    const t = this.table;
    const untilSec = Math.ceil(untilMs / 1000);
    if (untilSec <= t.blockedUntilSec(id)) return t.queues.touch(id, this.evictClass(id, now));
    t.setBlockedUntilSec(id, untilSec);
    const lv = level === 'HIGH' ? LEVEL_HIGH : LEVEL_MEDIUM;
    t.setFlags(id, (t.flags(id) & ~(3 << T.F_BLOCK_LEVEL_SHIFT)) | (lv << T.F_BLOCK_LEVEL_SHIFT));
    this.recount(id, now);
    t.queues.touch(id, this.evictClass(id, now));
  }

  /**
   * The block the key's current level calls for, as a compare-and-set on its row: `expect*` are the block
   * fields now, `until*`/`flags` the new ones (flags never include local bookkeeping). Undefined: none.
   */
  planBlock(key: IpKey, nowMs?: number): BlockPlan | undefined {
    const id = this.table.index.find(key);
    if (id < 0) return undefined;
    const now = nowMs ?? this.clock.nowMs();
    if (!this.plan(id, now, this.combo(id, now, this.profile))) return undefined;
    const t = this.table;
    return { expectUntilSec: t.blockedUntilSec(id), expectFlags: t.flags(id) & ~T.F_BLOCK_COUNTED, untilSec: this.planUntil, flags: this.planFlags };
  }

  /** Calls fn for every key with an active block (a full scan: for a store reconciling after an outage). */
  forEachActiveBlock(fn: (key: IpKey, row: Uint8Array) => void, nowMs?: number): void {
    const now = nowMs ?? this.clock.nowMs();
    const t = this.table;
    for (let id = 0; id < t.index.size; id++) {
      if (t.blockedUntilSec(id) * 1000 > now) fn(t.index.keys[id]!, t.readRow(id, new Uint8Array(T.ROW_BYTES)));
    }
  }

  /** Keeps activeBlockCount in step with a row written from outside. */
  private recount(id: number, now: number): void {
    const t = this.table;
    const f = t.flags(id);
    if ((f & T.F_BLOCK_COUNTED) === 0 && t.blockedUntilSec(id) * 1000 > now) {
      t.setFlags(id, f | T.F_BLOCK_COUNTED);
      this.blocks++;
    } else this.retire(id, now);
  }

  private combo(id: number, now: number, p: Profile): number {
    return p.combo(this.table, id, now);
  }

  private verdictOf(id: number, combo: number, now: number): Verdict {
    const t = this.table;
    const until = t.blockedUntilSec(id) * 1000;
    if (!this.blocking || until <= now) return unblockedVerdict(combo);
    return {
      level: levelName(comboLevel(combo)),
      detections: detectionsOf(combo),
      blockedUntilMs: until,
      blockLevel: levelName((t.flags(id) >>> T.F_BLOCK_LEVEL_SHIFT) & 3),
    };
  }

  private finish(id: number, now: number): RecordResult {
    const combo = this.combo(id, now, this.profile);
    const newlyBlocked = this.settle(id, now, combo);
    return { verdict: this.verdictOf(id, combo, now), newlyBlocked };
  }

  /** After a write to row `id`: any block its combo starts, and its eviction class. True when a block started. */
  private settle(id: number, now: number, combo: number): boolean {
    const newlyBlocked = this.maybeBlock(id, now, combo);
    this.table.queues.touch(id, this.evictClass(id, now));
    return newlyBlocked;
  }

  /** HIGH: block, escalating with remembered offences. MEDIUM: short rate-limit block. */
  private maybeBlock(id: number, now: number, combo: number): boolean {
    if (!this.plan(id, now, combo)) return false;
    const t = this.table;
    let flags = this.planFlags;
    if ((t.flags(id) & T.F_BLOCK_COUNTED) === 0) this.blocks++;
    flags |= T.F_BLOCK_COUNTED;
    t.setFlags(id, flags);
    t.setBlockedUntilSec(id, this.planUntil);
    return true;
  }

  /** Sets planUntil / planFlags (without F_BLOCK_COUNTED) to the block `combo` calls for; false: none. */
  private plan(id: number, now: number, combo: number): boolean {
    let level = comboLevel(combo);
    if (!this.blocking || level < LEVEL_MEDIUM) return false;
    const t = this.table;
    const p = this.profile;
    const untilSec = t.blockedUntilSec(id);
    const flags = t.flags(id) & ~T.F_BLOCK_COUNTED;
    const active = untilSec * 1000 > now;
    let offences = rememberedOffences(t, id, now, p);
    // Persistence across blocks: an IP never seen to succeed that earns a rate limit again after serving a HIGH
    // block has not stopped, so it is blocked HIGH (escalated) instead of getting one more guess a minute.
    const persistent = ((combo >>> PERSIST_SHIFT) & 3) === LEVEL_HIGH || (p.persistenceOn && level === LEVEL_MEDIUM && offences > 0 && (flags & T.F_PROVEN) === 0);
    if (persistent) level = LEVEL_HIGH;
    if (active && level <= ((flags >>> T.F_BLOCK_LEVEL_SHIFT) & 3)) return false;
    let ms = p.rateLimitMs;
    if (level === LEVEL_HIGH) {
      const base = persistent ? Math.max(p.blockMs, p.persistenceBlockMs) : p.blockMs;
      ms = Math.min(base * p.escalationFactor ** offences, p.maxBlockMs);
      offences = Math.min(offences + 1, T.F_OFFENCES);
    }
    this.planUntil = Math.max(Math.ceil((now + ms) / 1000), active ? untilSec : 0);
    this.planFlags = (flags & ~(T.F_OFFENCES | (3 << T.F_BLOCK_LEVEL_SHIFT))) | offences | (level << T.F_BLOCK_LEVEL_SHIFT);
    return true;
  }

  /** Retires an expired block from activeBlockCount. */
  private retire(id: number, now: number): void {
    const t = this.table;
    const f = t.flags(id);
    if ((f & T.F_BLOCK_COUNTED) !== 0 && t.blockedUntilSec(id) * 1000 <= now) {
      t.setFlags(id, f & ~T.F_BLOCK_COUNTED);
      this.blocks--;
    }
  }

  /**
   * Id of `key`'s row, created if absent. At the cap the least recently used key of the lowest eviction class
   * makes room, but only if that class is at most `newClass` (what the new key will be worth after this event):
   * otherwise the new key is not tracked (-1). O(1) whatever the table holds.
   */
  private upsert(key: IpKey, now: number, newClass: number): number {
    const t = this.table;
    const nowSec = Math.floor(now / 1000);
    let id = t.index.find(key);
    if (id >= 0) {
      t.touch(id, nowSec);
      this.retire(id, now);
      return id;
    }
    if (t.index.size < t.index.capacity) id = t.index.insert(key);
    else {
      id = t.queues.victim();
      if (t.queues.classOf(id) > newClass) {
        this.refused++;
        return -1;
      }
      if ((t.flags(id) & T.F_BLOCK_COUNTED) !== 0) this.blocks--;
      t.queues.unlink(id);
      t.index.rekey(id, key);
      this.evicted++;
    }
    t.resetRow(id, nowSec);
    t.queues.push(id, 0);
    return id;
  }

  /**
   * Eviction class of a row: active blocks last; then by failures in the longest window plus remembered offences,
   * in log2 buckets (1, 2-3, 4-7, ... 64+); keys with neither (attempts, successes only) first.
   */
  private evictClass(id: number, now: number): number {
    const t = this.table;
    if (t.blockedUntilSec(id) * 1000 > now) return T.EVICT_BLOCKED;
    const w = Math.floor(t.count(id, T.B_LONG, t.wLong, now)) + 16 * rememberedOffences(t, id, now, this.profile);
    return w <= 0 ? 0 : Math.min(T.EVICT_BLOCKED - 1, 32 - Math.clz32(w));
  }
}

function checkProfiles(normal: Thresholds, aggr: Thresholds): void {
  const problems = [
    ...validateThresholds(normal).map((p) => `thresholds: ${p}`),
    ...validateThresholds(aggr, normal).map((p) => `aggressive: ${p}`),
  ];
  if (problems.length > 0) throw new PortcullisError('CONFIG_SCHEMA', problems.join('; '));
}

/** The engine as the Check and outcome paths see it: everything but the shared-store surface. */
export type Detector = Omit<DetectionEngine, keyof ReplicatedRows>;
