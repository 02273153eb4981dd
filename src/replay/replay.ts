import { ManualClock } from '../clock.ts';
import { DetectionEngine } from '../detect/engine.ts';
import type { IpKey } from '../detect/ip-key.ts';
import { OrgAttackDetector } from '../detect/org-attack.ts';
import type { Address } from '../net/address.ts';
import { formatV6 } from '../net/ip-text.ts';
import type { SignInRecords } from './records.ts';
import type { ReplaySetting } from './settings.ts';

export interface SourceFigures {
  /** The IP, or the IPv6 prefix the detectors aggregate it to. */
  readonly source: string;
  readonly attempts: number;
  /** Attempts let through before the first block started (including the one that started it). */
  readonly allowedBeforeBlock: number;
  readonly firstBlockMs: number;
  readonly firstBlockLevel: string;
  /** Detections at the first block: reason -> level. */
  readonly reasons: Readonly<Record<string, string>>;
  readonly highBlock: boolean;
  readonly denied: number;
  readonly successesDenied: number;
}

export interface ReplayFigures {
  readonly setting: string;
  readonly records: number;
  readonly sources: number;
  readonly successes: number;
  readonly denied: number;
  readonly successesDenied: number;
  /** Successful sign-ins that would have been denied: the false-positive share. */
  readonly falsePositiveShare: number;
  readonly failuresDenied: number;
  readonly sourcesBlocked: number;
  readonly sourcesBlockedHigh: number;
  /** Sources with at least one denied success: the users who would have noticed. */
  readonly sourcesWithDeniedSuccess: number;
  readonly attacks: ReadonlyArray<{ readonly startMs: number; readonly endMs: number | null }>;
  /** Blocked sources by first block time. */
  readonly blocked: readonly SourceFigures[];
}

interface Tally {
  attempts: number;
  allowed: number;
  firstBlockMs: number;
  level: string;
  reasons: Readonly<Record<string, string>>;
  high: boolean;
  denied: number;
  successesDenied: number;
}

/** What the detectors aggregate an address to, as text: the address, or its IPv6 prefix. */
export function sourceText(a: Address, v6Prefix: number): string {
  if (a.family === 4 || v6Prefix >= 128) return a.text;
  const m = (w: number, i: number): number => {
    const keep = v6Prefix - 32 * i;
    return keep >= 32 ? w : keep <= 0 ? 0 : (w & (-1 << (32 - keep))) >>> 0;
  };
  return `${formatV6(m(a.w0, 0), m(a.w1, 1), m(a.w2, 2), m(a.w3, 3))}/${v6Prefix}`;
}

/**
 * Replays recorded sign-ins through a fresh DetectionEngine and OrgAttackDetector on a ManualClock that follows
 * the records, with blocking on, exactly as the live path would: a record whose source is blocked at its time
 * is denied and never reaches the detectors (so its outcome is not counted); otherwise the attempt, then its
 * outcome, are recorded. Buckets close and the profile switches on 1 s ticks, as main.ts does.
 * `onRecord` hears each record's fate (index in time order), for callers that know which records were attacks.
 */
export function replay(records: SignInRecords, setting: ReplaySetting, onRecord?: (index: number, denied: boolean) => void): ReplayFigures {
  const n = records.timeMs.length;
  const clock = new ManualClock(n ? records.timeMs[0]! : 0);
  const engine = new DetectionEngine({ clock, thresholds: setting.thresholds, aggressive: setting.aggressive, blocking: true });
  const org = new OrgAttackDetector({ clock, ...setting.org });
  const v6 = setting.thresholds.ipv6PrefixLength;
  const keys: IpKey[] = records.addresses.map((a) => engine.keyOf(a.family, a.w0, a.w1, a.w2, a.w3));
  const tallies = new Map<IpKey, Tally>();
  const texts = new Map<IpKey, string>();
  const attacks: { startMs: number; endMs: number | null }[] = [];
  let nextTick = n ? Math.floor(records.timeMs[0]! / 1000) * 1000 + 1000 : 0;
  let successes = 0;
  let denied = 0;
  let successesDenied = 0;

  const tick = (now: number): void => {
    clock.set(now);
    for (const t of org.tick(now)) {
      engine.setAggressive(t.type === 'start');
      if (t.type === 'start') attacks.push({ startMs: t.atMs, endMs: null });
      else if (attacks.length) attacks[attacks.length - 1]!.endMs = t.atMs;
    }
    engine.sweep(256, now);
  };

  for (let i = 0; i < n; i++) {
    const now = records.timeMs[i]!;
    // One tick per second that saw records; idle stretches are caught up in one (the detector closes every bucket).
    if (now >= nextTick) {
      const sec = Math.floor(now / 1000) * 1000;
      tick(sec);
      nextTick = sec + 1000;
    }
    clock.set(now);
    const addr = records.addr[i]!;
    const key = keys[addr]!;
    if (!texts.has(key)) texts.set(key, sourceText(records.addresses[addr]!, v6));
    let t = tallies.get(key);
    if (!t) tallies.set(key, (t = { attempts: 0, allowed: 0, firstBlockMs: 0, level: '', reasons: {}, high: false, denied: 0, successesDenied: 0 }));
    t.attempts++;
    const result = records.result[i]!; // 0 success, 1 failure, 2 unknown user
    if (result === 0) successes++;
    const u = records.user[i]!;
    const usernameHash = u < 0 ? undefined : u;
    const v = engine.evaluate(key, now);
    // As decide/threat.ts (assessThreat) does: an IP-wide block, or this account from this IP at HIGH (per-pair refusal).
    const pairRefused = v.blockedUntilMs <= now && usernameHash !== undefined && engine.accountLevel(key, usernameHash) === 'HIGH';
    const isDenied = v.blockedUntilMs > now || pairRefused;
    onRecord?.(i, isDenied);
    if (isDenied) {
      denied++;
      t.denied++;
      if (pairRefused && t.firstBlockMs === 0) {
        t.firstBlockMs = now;
        t.level = 'HIGH';
        t.reasons = { account_targeted: 'HIGH' };
      }
      if (v.blockLevel === 'HIGH' || pairRefused) t.high = true;
      if (result === 0) {
        successesDenied++;
        t.successesDenied++;
      }
      continue;
    }
    if (t.firstBlockMs === 0) t.allowed++;
    const a = engine.recordAttempt(key, { usernameHash });
    const o = engine.recordOutcome(key, result === 0 ? 'success' : 'failure', { usernameHash, unknownUser: result === 2 });
    org.record(result === 0 ? 'success' : 'failure', { clientKey: key, unknownUser: result === 2 }, now);
    for (const r of [a, o]) {
      if (!r.newlyBlocked) continue;
      if (r.verdict.blockLevel === 'HIGH') t.high = true;
      if (t.firstBlockMs === 0) {
        t.firstBlockMs = now;
        t.level = r.verdict.blockLevel;
        t.reasons = r.verdict.detections;
      }
    }
  }
  if (n) tick(Math.floor(records.timeMs[n - 1]! / 1000) * 1000 + 1000);

  const blocked: SourceFigures[] = [];
  let withDeniedSuccess = 0;
  for (const [key, t] of tallies) {
    if (t.successesDenied > 0) withDeniedSuccess++;
    if (t.firstBlockMs === 0) continue;
    blocked.push({
      source: texts.get(key)!,
      attempts: t.attempts,
      allowedBeforeBlock: t.allowed,
      firstBlockMs: t.firstBlockMs,
      firstBlockLevel: t.level,
      reasons: t.reasons,
      highBlock: t.high,
      denied: t.denied,
      successesDenied: t.successesDenied,
    });
  }
  blocked.sort((x, y) => x.firstBlockMs - y.firstBlockMs || x.source.localeCompare(y.source));
  return {
    setting: setting.name,
    records: n,
    sources: tallies.size,
    successes,
    denied,
    successesDenied,
    falsePositiveShare: successes ? successesDenied / successes : 0,
    failuresDenied: denied - successesDenied,
    sourcesBlocked: blocked.length,
    sourcesBlockedHigh: blocked.filter((b) => b.highBlock).length,
    sourcesWithDeniedSuccess: withDeniedSuccess,
    attacks,
    blocked,
  };
}
