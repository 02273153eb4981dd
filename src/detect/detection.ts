import { DEFAULT_ACCOUNT_OPTIONS, type AccountOptions } from './accounts.ts';
import { DEFAULT_ASN_OPTIONS, type AsnOptions } from './asn.ts';
import { DEFAULT_ORG_ATTACK } from './org-attack.ts';
import { DEFAULT_SPRAY_OPTIONS, type SprayOptions } from './spray-passwords.ts';
import { DEFAULT_AGGRESSIVE_THRESHOLDS, DEFAULT_THRESHOLDS, thresholdProblems, type ThresholdProblem, type Thresholds } from './thresholds.ts';

export type OrgAttackSettings = Readonly<Record<keyof typeof DEFAULT_ORG_ATTACK, number>>;

/**
 * What "block suspicious IPs aggressively" means while Org Under Attack is declared: sign-ins from such sources
 * are refused (429 first; persistence then escalates those that carry on), while sources familiar to the account
 * always pass. A spray password is refused from a stranger whether or not an attack is declared.
 */
export interface UnderAttackOptions {
  /** Refuse sign-ins to an account from sources unfamiliar to it (the strongest reading; off by default). */
  readonly refuseUnfamiliar: boolean;
  /** Refuse sign-ins from sources never seen to succeed, on any account (unless familiar to this one). */
  readonly refuseUnproven: boolean;
  /** Retry-After of that 429. */
  readonly retryAfterMs: number;
}

export const DEFAULT_UNDER_ATTACK: UnderAttackOptions = Object.freeze({
  refuseUnfamiliar: false,
  refuseUnproven: false,
  retryAfterMs: 60_000,
});

/**
 * Every detection setting of one policy (ThreatPolicy spec.detection, compiled): the normal and aggressive
 * profiles of the per-IP engine, Org Under Attack, familiar sources and spray passwords.
 */
export interface DetectionSettings {
  readonly thresholds: Thresholds;
  /** While the org is under attack; its windows, IPv6 prefix and caps are the normal profile's. */
  readonly aggressive: Thresholds;
  readonly orgUnderAttack: OrgAttackSettings;
  readonly accounts: AccountOptions;
  readonly sprayPasswords: SprayOptions;
  /** The refusal rule while Org Under Attack is declared. */
  readonly underAttack: UnderAttackOptions;
  /** Failures per ASN (with a GeoLite2-ASN database, --geoip-asn). */
  readonly asn: AsnOptions;
}

export const DEFAULT_DETECTION: DetectionSettings = Object.freeze({
  thresholds: DEFAULT_THRESHOLDS,
  aggressive: DEFAULT_AGGRESSIVE_THRESHOLDS,
  orgUnderAttack: DEFAULT_ORG_ATTACK,
  accounts: DEFAULT_ACCOUNT_OPTIONS,
  sprayPasswords: DEFAULT_SPRAY_OPTIONS,
  underAttack: DEFAULT_UNDER_ATTACK,
  asn: DEFAULT_ASN_OPTIONS,
});

const SEC = 1000;
const DAY = 86_400_000;

/**
 * Problems with a complete settings object, each naming its field as a path into DetectionSettings
 * ("thresholds.bruteForce.low", "orgUnderAttack.clearScore"); empty when every detector accepts it.
 */
export function detectionProblems(d: DetectionSettings): ThresholdProblem[] {
  const out: ThresholdProblem[] = [
    ...thresholdProblems(d.thresholds).map((p) => ({ field: `thresholds.${p.field}`, message: p.message })),
    ...thresholdProblems(d.aggressive, d.thresholds).map((p) => ({ field: `aggressive.${p.field}`, message: p.message })),
  ];
  const bad = (field: string, message: string): void => void out.push({ field, message });
  const whole = (v: number, lo: number, hi: number): boolean => Number.isInteger(v) && v >= lo && v <= hi;
  const o = d.orgUnderAttack;
  if (!(o.bucketMs % SEC === 0 && o.bucketMs >= SEC && o.bucketMs <= 10 * 60 * SEC)) bad('orgUnderAttack.bucketMs', 'must be whole seconds, 1 s..10 min');
  if (!(o.halfLifeMs >= o.bucketMs && o.halfLifeMs <= 30 * DAY)) bad('orgUnderAttack.halfLifeMs', 'must be bucketMs..30 days');
  if (!(o.warmupMs >= 0 && o.warmupMs <= DAY)) bad('orgUnderAttack.warmupMs', 'must be 0..1 day');
  if (!(o.coldStartMs >= 0 && o.coldStartMs <= o.warmupMs)) bad('orgUnderAttack.coldStartMs', 'must be 0..warmupMs');
  if (!(o.cooldownMs >= o.bucketMs && o.cooldownMs <= DAY)) bad('orgUnderAttack.cooldownMs', 'must be bucketMs..1 day');
  if (!(o.scoreThreshold > 0 && o.scoreThreshold <= 100)) bad('orgUnderAttack.scoreThreshold', 'must be (0, 100]');
  if (!(o.clearScore >= 0 && o.clearScore <= o.scoreThreshold)) bad('orgUnderAttack.clearScore', 'must be 0..scoreThreshold (hysteresis: an attack clears below the score that declared it)');
  if (!whole(o.consecutiveBuckets, 1, 360)) bad('orgUnderAttack.consecutiveBuckets', 'must be 1..360');
  if (!whole(o.minFailures, 1, 1_000_000)) bad('orgUnderAttack.minFailures', 'must be 1..1000000');
  if (!(o.minSurgeFactor >= 1 && o.minSurgeFactor <= 1000)) bad('orgUnderAttack.minSurgeFactor', 'must be 1..1000');
  if (!(o.minRatioIncrease >= 0 && o.minRatioIncrease <= 1)) bad('orgUnderAttack.minRatioIncrease', 'must be 0..1');
  if (!whole(o.minRatioEvents, 1, 1_000_000)) bad('orgUnderAttack.minRatioEvents', 'must be 1..1000000');
  if (!(whole(o.sketchBits, 32, 1 << 20) && (o.sketchBits & (o.sketchBits - 1)) === 0)) bad('orgUnderAttack.sketchBits', 'must be a power of two, 32..1048576');
  if (!(o.coldStartRatio >= 0 && o.coldStartRatio <= 1)) bad('orgUnderAttack.coldStartRatio', 'must be 0..1');
  if (!whole(o.coldStartDistinctIps, 1, 100_000)) bad('orgUnderAttack.coldStartDistinctIps', 'must be 1..100000');
  const a = d.accounts;
  if (!whole(a.maxAccounts, 16, 10_000_000)) bad('accounts.maxAccounts', 'must be 16..10000000');
  if (!whole(a.familiarPerAccount, 1, 16)) bad('accounts.familiarPerAccount', 'must be 1..16');
  if (!(a.familiarMs >= SEC && a.familiarMs <= 365 * DAY)) bad('accounts.familiarMs', 'must be 1 s..365 days');
  if (!whole(a.attackSources, 1, 64)) bad('accounts.attackSources', 'must be 1..64');
  if (!(a.attackWindowMs >= SEC && a.attackWindowMs <= DAY)) bad('accounts.attackWindowMs', 'must be 1 s..1 day');
  if (!(a.attackHoldMs >= 0 && a.attackHoldMs <= 30 * DAY)) bad('accounts.attackHoldMs', 'must be 0..30 days');
  if (!whole(a.distinctPasswords, 2, 64)) bad('accounts.distinctPasswords', 'must be 2..64');
  if (!(a.staleClientMs >= 0 && a.staleClientMs <= 30 * DAY)) bad('accounts.staleClientMs', 'must be 0..30 days');
  const s = d.sprayPasswords;
  if (!whole(s.accounts, 2, 64)) bad('sprayPasswords.accounts', 'must be 2..64');
  if (!(s.windowMs >= SEC && s.windowMs <= DAY)) bad('sprayPasswords.windowMs', 'must be 1 s..1 day');
  if (!(s.holdMs >= SEC && s.holdMs <= 30 * DAY)) bad('sprayPasswords.holdMs', 'must be 1 s..30 days');
  if (!whole(s.maxFingerprints, 16, 1 << 20)) bad('sprayPasswords.maxFingerprints', 'must be 16..1048576');
  if (!whole(s.maxSources, 16, 10_000_000)) bad('sprayPasswords.maxSources', 'must be 16..10000000');
  const n = d.asn;
  if (!(n.windowMs % SEC === 0 && n.windowMs >= SEC && n.windowMs <= DAY)) bad('asn.windowMs', 'must be whole seconds, 1 s..1 day');
  for (const k of ['low', 'medium', 'high'] as const) if (!whole(n[k], 0, 1_000_000)) bad(`asn.${k}`, 'must be 0..1000000');
  const on = [n.low, n.medium, n.high].filter((v) => v !== 0);
  if (on.some((v, i) => i > 0 && v < on[i - 1]!)) bad('asn', 'low <= medium <= high required (0 switches a level off)');
  if (!whole(n.minDistinctIps, 1, 30)) bad('asn.minDistinctIps', 'must be 1..30');
  if (!(n.maxFailureRatio >= 0 && n.maxFailureRatio <= 1)) bad('asn.maxFailureRatio', 'must be 0..1');
  if (!whole(n.maxTrackedAsns, 16, 1 << 20)) bad('asn.maxTrackedAsns', 'must be 16..1048576');
  const u = d.underAttack;
  if (typeof u.refuseUnfamiliar !== 'boolean') bad('underAttack.refuseUnfamiliar', 'must be true or false');
  if (typeof u.refuseUnproven !== 'boolean') bad('underAttack.refuseUnproven', 'must be true or false');
  if (!(u.retryAfterMs % SEC === 0 && u.retryAfterMs >= SEC && u.retryAfterMs <= DAY)) bad('underAttack.retryAfterMs', 'must be whole seconds, 1 s..1 day');
  return out;
}
