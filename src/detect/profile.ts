import * as T from './ip-table.ts';
import type { IpTable } from './ip-table.ts';
import type { NetworkCounts } from './net-table.ts';
import type { LevelCounts, Thresholds } from './thresholds.ts';

// Detector slots in the compiled threshold arrays (3 numbers each: low, medium, high).
const D_SHORT = 0;
const D_MID = 3;
const D_LONG = 6;
const D_SPRAY = 9;
const D_UNK = 12;
const D_STUFF = 15;
const D_TGT = 18;
const D_REPEAT = 21;
const D_PERSIST = 24;
const D_NET = 27;

/**
 * A thresholds object compiled for the hot path: numbers in typed arrays, 0 ("off") as Infinity, and a
 * second copy scaled by unprovenFactor for keys never seen to succeed.
 */
export class Profile {
  readonly proven: Float64Array;
  readonly unproven: Float64Array;
  readonly minDistinct: number;
  readonly tolMinSuccesses: number;
  readonly tolMaxFailureRatio: number;
  readonly tolLevelsDown: number;
  readonly blockMs: number;
  readonly escalationFactor: number;
  readonly maxBlockMs: number;
  readonly rateLimitMs: number;
  readonly offenceMemoryMs: number;
  readonly persistenceBlockMs: number;
  /** persistence.high set: also a rate limit earned again after a HIGH block is HIGH. */
  readonly persistenceOn: boolean;
  readonly netMinDistinct: number;

  /** Level of a network's aggregate counts (not scaled by unprovenFactor: it applies to unproven IPs only). */
  networkLevel(c: NetworkCounts): number {
    if (c.distinctIps < this.netMinDistinct) return 0;
    const l = lv(c.failures, this.proven, D_NET);
    if (l === 0 || this.tolLevelsDown === 0 || this.tolMinSuccesses === 0) return l;
    // A busy network that mostly succeeds (a university, a CGNAT pool) is not attacking.
    if (c.successes >= this.tolMinSuccesses && c.failures <= this.tolMaxFailureRatio * (c.failures + c.successes)) return Math.max(0, l - this.tolLevelsDown);
    return l;
  }

  constructor(t: Thresholds) {
    const order: LevelCounts[] = [
      t.bruteForceShort,
      t.bruteForce,
      t.bruteForceLong,
      t.passwordSpray,
      t.unknownUserSpray,
      t.credentialStuffing,
      t.accountTargeted,
      t.repeatOffender,
      t.persistence,
      t.network,
    ];
    this.proven = new Float64Array(order.length * 3);
    this.unproven = new Float64Array(order.length * 3);
    order.forEach((c, i) => {
      [c.low, c.medium, c.high].forEach((v, j) => {
        const off = v === 0;
        this.proven[i * 3 + j] = off ? Infinity : v;
        // Offences are not a volume: the unproven factor does not apply to them.
        const scaled = i * 3 === D_REPEAT ? v : Math.max(1, Math.ceil(v * t.unprovenFactor));
        this.unproven[i * 3 + j] = off ? Infinity : scaled;
      });
    });
    // Slow guessers never seen to succeed: the long window's own counts for them, where lower.
    const slow = t.bruteForceLongUnproven;
    [slow.low, slow.medium, slow.high].forEach((v, j) => {
      if (v !== 0) this.unproven[D_LONG + j] = Math.min(this.unproven[D_LONG + j]!, v);
    });
    this.minDistinct = t.credentialStuffing.minDistinctUsernames;
    this.tolMinSuccesses = t.successTolerance.minSuccesses;
    this.tolMaxFailureRatio = t.successTolerance.maxFailureRatio;
    this.tolLevelsDown = t.successTolerance.levelsDown;
    this.blockMs = t.blockMs;
    this.escalationFactor = t.escalationFactor;
    this.maxBlockMs = t.maxBlockMs;
    this.rateLimitMs = t.rateLimitMs;
    this.offenceMemoryMs = t.offenceMemoryMs;
    this.persistenceBlockMs = t.persistence.blockMs;
    this.persistenceOn = t.persistence.high !== 0;
    this.netMinDistinct = t.network.minDistinctIps;
  }

  /** Levels of the reasons for row `id` at `now`, packed 2 bits each in THREAT_REASONS order (threat_feed: 0). */
  combo(t: IpTable, id: number, now: number): number {
    const flags = t.flags(id);
    // Idle past every window: nothing to count (the common case in a large table).
    if ((flags & T.F_OFFENCES) === 0 && now / 1000 - t.lastSec(id) >= 2 * t.wMax) return 0;
    const th = (flags & T.F_PROVEN) !== 0 ? this.proven : this.unproven;
    const fMid = t.count(id, T.B_MID, t.wMid, now);
    let bf = lv(t.ringCount(id, now), th, D_SHORT);
    if (bf < 3) bf = Math.max(bf, lv(fMid, th, D_MID));
    if (bf < 3) bf = Math.max(bf, lv(t.count(id, T.B_LONG, t.wLong, now), th, D_LONG));
    let spray = lv(t.sprayUsers(id, now), th, D_SPRAY);
    let unk = lv(t.count(id, T.B_UNK, t.wUnk, now), th, D_UNK);
    let stuff = 0;
    if (t.stuffUsers(id, now) >= this.minDistinct) stuff = lv(t.count(id, T.B_ATT, t.wStuff, now), th, D_STUFF);
    // Failures on one account say the account is targeted, not that every user behind this IP is an attacker
    // (one forgetful colleague behind an office NAT would lock out the office). At the IP level it is only
    // informational; the account is protected per (IP, account) by decide/threat.ts (assessThreat) via accountLevel().
    const tgt = Math.min(1, lv(t.peak(id, T.B_TGT, t.wTgt, now), th, D_TGT));
    const succ = stuff | bf | spray | unk ? t.count(id, T.B_SUCC, t.wMid, now) : 0;
    // Stuffing is mostly failing: more successes than failures is a busy NAT, not a combo list.
    if (stuff !== 0 && succ >= this.tolMinSuccesses && succ > fMid) stuff = 0;
    const rep = lv(rememberedOffences(t, id, now, this), th, D_REPEAT);
    // Sign-ins sent while refused. Not for an address seen to succeed: behind a NAT, people retry after a 429.
    const per = (flags & T.F_PROVEN) !== 0 ? 0 : lv(t.count(id, T.B_REF, t.wRef, now), th, D_PERSIST);
    if (this.tolLevelsDown > 0 && this.tolMinSuccesses > 0 && (bf | spray | unk | stuff) !== 0) {
      // Mostly-succeeding IPs (NAT, CGNAT): volume is not evidence on its own.
      if (succ >= this.tolMinSuccesses && fMid <= this.tolMaxFailureRatio * (fMid + succ)) {
        const d = this.tolLevelsDown;
        bf = Math.max(0, bf - d);
        spray = Math.max(0, spray - d);
        unk = Math.max(0, unk - d);
        stuff = Math.max(0, stuff - d);
      }
    }
    return bf | (spray << 2) | (unk << 4) | (stuff << 6) | (tgt << 8) | (rep << 10) | (per << PERSIST_SHIFT);
  }
}

/** Bit position of `persistence` in a combo (its index in THREAT_REASONS × 2). */
export const PERSIST_SHIFT = 14;

/** Level of one (IP, account) pair's failure count, for per-attempt enforcement. */
export function accountTargetedLevel(p: Profile, proven: boolean, failures: number): number {
  return lv(failures, proven ? p.proven : p.unproven, D_TGT);
}

function lv(count: number, th: Float64Array, d: number): number {
  if (count >= th[d + 2]!) return 3;
  if (count >= th[d + 1]!) return 2;
  return count >= th[d]! ? 1 : 0;
}

/** HIGH blocks remembered for escalation: forgotten offenceMemoryMs after the last block ended. */
export function rememberedOffences(t: IpTable, id: number, now: number, p: Profile): number {
  const off = t.flags(id) & T.F_OFFENCES;
  if (off === 0) return 0;
  return now >= t.blockedUntilSec(id) * 1000 + p.offenceMemoryMs ? 0 : off;
}
