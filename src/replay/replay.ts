import { ManualClock } from '../clock.ts';
import { decide, type DecideOptions } from '../decide/decide.ts';
import type { Decision, RequestFacts } from '../decide/decision.ts';
import type { OutcomeReport } from '../decide/outcome.ts';
import type { RouteMatcher } from '../decide/sign-in-routes.ts';
import type { Snapshot } from '../decide/snapshot.ts';
import type { DetectorView } from '../decide/threat.ts';
import { DetectionEngine } from '../detect/engine.ts';
import type { IpKey } from '../detect/ip-key.ts';
import { OrgAttackDetector } from '../detect/org-attack.ts';
import type { Address } from '../net/address.ts';
import { formatV6 } from '../net/ip-text.ts';
import { accountSignals } from '../service/account-signals.ts';
import { recordSignIn } from '../service/check.ts';
import { AttemptCorrelator } from '../service/correlator.ts';
import { detectorView } from '../service/detector-view.ts';
import { Learner } from '../service/learn.ts';
import { MemoryStore } from '../store/memory.ts';
import { LABEL_ATTACK, LABEL_LEGIT, type SignInRecords } from './records.ts';
import type { ReplaySetting } from './settings.ts';

export interface SourceFigures {
  /** The IP, or the IPv6 prefix the detectors aggregate it to. */
  readonly source: string;
  readonly attempts: number;
  /** Attempts let through before the first refusal or block (including the one that started a block). */
  readonly allowedBeforeBlock: number;
  readonly firstBlockMs: number;
  readonly firstBlockLevel: string;
  /** Detections at the first block or refusal: reason -> level. */
  readonly reasons: Readonly<Record<string, string>>;
  readonly highBlock: boolean;
  readonly denied: number;
  readonly successesDenied: number;
}

/** Against the records' labels: refused attempts are the positives. Null without a label column. */
export interface LabelFigures {
  readonly attackAttempts: number;
  readonly legitimateAttempts: number;
  readonly attacksDenied: number;
  readonly legitimateDenied: number;
  /** Refused attempts that were attacks, of the labelled refused attempts. */
  readonly precision: number | null;
  /** Attack attempts refused, of all attack attempts. */
  readonly recall: number | null;
}

export interface ReplayFigures {
  readonly setting: string;
  readonly records: number;
  readonly sources: number;
  /** Successful sign-ins not labelled as attacks (every success when there are no labels). */
  readonly successes: number;
  readonly denied: number;
  /** Successful sign-ins not labelled as attacks that would have been refused: the false positives. */
  readonly successesDenied: number;
  readonly falsePositiveShare: number;
  readonly failuresDenied: number;
  readonly sourcesBlocked: number;
  readonly sourcesBlockedHigh: number;
  /** Sources with at least one denied success (not labelled attack): the users who would have noticed. */
  readonly sourcesWithDeniedSuccess: number;
  readonly labels: LabelFigures | null;
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

/** Every record is a sign-in: the policy's routes decide nothing here. */
const EVERY_ROUTE: RouteMatcher = Object.freeze({ matches: () => true, routeCount: 1, usesDefaults: false });
const RESULT_HEADER = ['success', 'failure', 'unknown_user'] as const;
const NO_EVENTS = { outcome: () => undefined, attack: () => undefined };

/**
 * Replays recorded sign-ins through the server's own code on a ManualClock that follows the records: per record
 * the Check path (decide() on the setting's compiled policy, with action Block, then the Check's recording rule:
 * an attempt let through counts, one the detectors refused is persistence evidence) and the outcome path (the
 * Learner: engine, network aggregates, familiar sources, Org Under Attack), on a memory store with the policy's
 * spec.detection applied as at a server's start. A refused record's outcome is never learnt, as with Envoy.
 * Records are sign-ins whatever the policy's routes; passwords are not in records (spray passwords never fire).
 * Buckets close and the profile switches on 1 s ticks with traffic, as main.ts's interval does.
 * `onRecord` hears each record's decision (index in time order).
 */
export function replay(records: SignInRecords, setting: ReplaySetting, onRecord?: (index: number, d: Decision) => void): ReplayFigures {
  const n = records.timeMs.length;
  const clock = new ManualClock(n ? records.timeMs[0]! : 0);
  const policy = { ...setting.snapshot.policy, signIn: EVERY_ROUTE };
  const snapshot: Snapshot = { ...setting.snapshot, policy };
  const d = policy.detection;
  const engine = new DetectionEngine({ clock, thresholds: d.thresholds, aggressive: d.aggressive });
  const org = new OrgAttackDetector({ clock, ...d.orgUnderAttack });
  const store = new MemoryStore(engine, org);
  const signals = accountSignals();
  const correlator = new AttemptCorrelator<IpKey>();
  const v6 = d.thresholds.ipv6PrefixLength;
  const keys: IpKey[] = records.addresses.map((a) => engine.keyOfAddress(a));
  const tallies = new Map<IpKey, Tally>();
  const texts = new Map<IpKey, string>();
  const attacks: { startMs: number; endMs: number | null }[] = [];
  const tallyOf = (key: IpKey): Tally => {
    let t = tallies.get(key);
    if (!t) tallies.set(key, (t = { attempts: 0, allowed: 0, firstBlockMs: 0, level: '', reasons: {}, high: false, denied: 0, successesDenied: 0 }));
    return t;
  };
  const learner = new Learner({
    store, correlator, clock, signals, snapshot: () => snapshot, maxChainHops: 10,
    observer: {
      ...NO_EVENTS,
      blockStarted: (key, _text, v) => {
        const t = tallyOf(key);
        if (v.blockLevel === 'HIGH') t.high = true;
        if (t.firstBlockMs === 0) {
          t.firstBlockMs = clock.nowMs();
          t.level = v.blockLevel;
          t.reasons = v.detections;
        }
      },
    },
  });
  learner.applyPolicy(policy, true);

  // decide() hashes usernames itself from a request body; records carry the hash already, handed in here.
  let currentHash: number | undefined;
  const view = detectorView(store, clock, signals);
  const detectors: DetectorView = { facts: (client, _hash, fingerprint) => view.facts(client, currentHash, fingerprint) };
  const options: DecideOptions = { clientIp: { mode: 'xff', maxHops: 10 }, failureMode: 'allow', newId: () => '', detectors };
  const attempts = { store, correlator, keyOf: (a: Address) => engine.keyOfAddress(a) };
  const facts: { -readonly [K in keyof RequestFacts]: RequestFacts[K] } = {
    peer: undefined, xForwardedFor: undefined, forwarded: undefined, envoyExternalAddress: undefined,
    method: 'POST', path: '/', host: 'replay', requestId: undefined, userAgent: undefined,
  };
  const labels = records.label;
  let nextTick = n ? Math.floor(records.timeMs[0]! / 1000) * 1000 + 1000 : 0;
  let successes = 0;
  let denied = 0;
  let successesDenied = 0;
  let failuresDenied = 0;
  const lab = { attackAttempts: 0, legitimateAttempts: 0, attacksDenied: 0, legitimateDenied: 0 };

  // MemoryStore.tick with a smaller sweep: the sweep only reclaims idle rows, and at 4096 a second a day of
  // records would spend seconds revisiting a small table.
  const tick = (now: number): void => {
    clock.set(now);
    for (const t of org.tick(now)) {
      engine.setAggressive(t.type === 'start');
      if (t.type === 'start') attacks.push({ startMs: t.atMs, endMs: null });
      else if (attacks.length) attacks[attacks.length - 1]!.endMs = t.atMs;
    }
    engine.sweep(256, now);
    correlator.sweep(now);
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
    const t = tallyOf(key);
    t.attempts++;
    const result = records.result[i]!; // 0 success, 1 failure, 2 unknown user
    const label = labels ? labels[i]! : -1;
    const legit = label !== LABEL_ATTACK;
    if (result === 0 && legit) successes++;
    const u = records.user[i]!;
    currentHash = u < 0 ? undefined : u;
    facts.peer = records.addresses[addr];
    facts.requestId = `r${i}`;
    const dec = decide(facts, snapshot, options);
    onRecord?.(i, dec);
    const refused = dec.verdict !== 'allow';
    if (label === LABEL_ATTACK) {
      lab.attackAttempts++;
      if (refused) lab.attacksDenied++;
    } else if (label === LABEL_LEGIT) {
      lab.legitimateAttempts++;
      if (refused) lab.legitimateDenied++;
    }
    if (refused) {
      denied++;
      t.denied++;
      if (dec.httpStatus === 403) t.high = true;
      if (t.firstBlockMs === 0) {
        t.firstBlockMs = now;
        t.level = dec.httpStatus === 403 ? 'HIGH' : 'MEDIUM';
        t.reasons = dec.threat?.detections ?? {};
      }
      if (result !== 0) failuresDenied++;
      else if (legit) {
        successesDenied++;
        t.successesDenied++;
      }
    } else if (t.firstBlockMs === 0) {
      t.allowed++;
    }
    recordSignIn(attempts, dec, facts.requestId, now, currentHash);
    const report: OutcomeReport = {
      requestId: facts.requestId, method: 'POST', path: '/', host: 'replay', clientIp: undefined,
      // Envoy logs a refused request with its own 403/429: never a sign-in outcome.
      status: refused ? dec.httpStatus : result === 0 ? 200 : 401, resultHeader: refused ? undefined : RESULT_HEADER[result],
    };
    learner.report(report);
  }
  if (n) tick(Math.floor(records.timeMs[n - 1]! / 1000) * 1000 + 1000);

  const blocked: SourceFigures[] = [];
  let withDeniedSuccess = 0;
  for (const [key, t] of tallies) {
    if (t.successesDenied > 0) withDeniedSuccess++;
    if (t.firstBlockMs === 0 || t.attempts === 0) continue;
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
  const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);
  return {
    setting: setting.name,
    records: n,
    sources: [...tallies.values()].filter((t) => t.attempts > 0).length,
    successes,
    denied,
    successesDenied,
    falsePositiveShare: successes ? successesDenied / successes : 0,
    failuresDenied,
    sourcesBlocked: blocked.length,
    sourcesBlockedHigh: blocked.filter((b) => b.highBlock).length,
    sourcesWithDeniedSuccess: withDeniedSuccess,
    labels: labels
      ? { ...lab, precision: ratio(lab.attacksDenied, lab.attacksDenied + lab.legitimateDenied), recall: ratio(lab.attacksDenied, lab.attackAttempts) }
      : null,
    attacks,
    blocked,
  };
}
