import type { IpKey } from './ip-key.ts';
import * as T from './ip-table.ts';
import type { IpTable } from './ip-table.ts';
import { levelName, THREAT_REASONS } from './levels.ts';
import type { ThreatLevel, ThreatReason } from './levels.ts';
import { rememberedOffences, riskOf, type Profile } from './profile.ts';
import { comboLevel, detectionsOf, type Detections } from './verdict.ts';

export interface KeyInspection {
  readonly key: IpKey;
  readonly lastSeenMs: number;
  /** A success was seen from this key (relaxes the aggressive profile's unproven factor). */
  readonly proven: boolean;
  readonly profile: 'normal' | 'aggressive';
  /** Sliding-window estimates; windows are the thresholds' windowMs. */
  readonly counters: {
    readonly failuresShort: number;
    readonly failuresMedium: number;
    readonly failuresLong: number;
    readonly successesMedium: number;
    readonly unknownUserFailures: number;
    readonly distinctFailedUsernames: number;
    readonly attempts: number;
    readonly distinctAttemptedUsernames: number;
    readonly maxAccountFailures: number;
    readonly offences: number;
  };
  readonly levels: Readonly<Record<ThreatReason, ThreatLevel>>;
  readonly level: ThreatLevel;
  readonly detections: Detections;
  readonly block: { readonly active: boolean; readonly untilMs: number; readonly level: ThreatLevel };
}

/** Counters, levels, reasons and block of row `id`, for `explain` and the admin endpoint. */
export function inspectRow(t: IpTable, id: number, key: IpKey, now: number, p: Profile, aggressive: boolean): KeyInspection {
  const combo = p.combo(t, id, now);
  const r2 = (v: number): number => Math.round(v * 100) / 100;
  const levels = {} as Record<ThreatReason, ThreatLevel>;
  THREAT_REASONS.forEach((r, i) => (levels[r] = levelName((combo >>> (2 * i)) & 3)));
  const until = t.blockedUntilSec(id) * 1000;
  const active = until > now;
  return {
    key,
    lastSeenMs: t.lastSec(id) * 1000,
    proven: (t.flags(id) & T.F_PROVEN) !== 0,
    profile: aggressive ? 'aggressive' : 'normal',
    counters: {
      failuresShort: r2(t.ringCount(id, now)),
      failuresMedium: r2(t.count(id, T.B_MID, t.wMid, now)),
      failuresLong: r2(t.count(id, T.B_LONG, t.wLong, now)),
      successesMedium: r2(t.count(id, T.B_SUCC, t.wMid, now)),
      unknownUserFailures: r2(t.count(id, T.B_UNK, t.wUnk, now)),
      distinctFailedUsernames: r2(t.sprayUsers(id, now)),
      attempts: r2(t.count(id, T.B_ATT, t.wStuff, now)),
      distinctAttemptedUsernames: r2(t.stuffUsers(id, now)),
      maxAccountFailures: t.peak(id, T.B_TGT, t.wTgt, now),
      offences: rememberedOffences(t, id, now, p),
    },
    levels,
    level: levelName(comboLevel(combo)),
    detections: detectionsOf(combo),
    block: {
      active,
      untilMs: active ? until : 0,
      level: active ? levelName((t.flags(id) >>> T.F_BLOCK_LEVEL_SHIFT) & 3) : 'NONE',
    },
  };
}

const SAMPLES = 8;

/** Least risky of a few random entries; an actively blocked one only if no unblocked entry exists. */
export function pickVictim(t: IpTable, now: number, p: Profile, random: () => number): number {
  const size = t.index.size;
  let best = -1;
  let bestRisk = Infinity;
  let soonest = 0;
  let soonestUntil = Infinity;
  // Independent samples, not a run of neighbours: keys inserted in one burst sit next to each other.
  for (let k = 0; k < SAMPLES; k++) {
    const id = random() % size;
    const r = riskOf(t, id, now, p);
    if (r < bestRisk) {
      best = id;
      bestRisk = r;
      if (r === 0) break;
    } else if (r === Infinity && t.blockedUntilSec(id) < soonestUntil) {
      soonest = id;
      soonestUntil = t.blockedUntilSec(id);
    }
  }
  if (best >= 0) return best;
  const start = random() % size;
  for (let k = 0; k < size; k++) {
    const id = (start + k) % size;
    if (t.blockedUntilSec(id) * 1000 <= now) return id;
  }
  return soonest;
}
