import type { Address } from '../net/address.ts';
import type { ThreatLevel } from '../detect/levels.ts';
import type { Verdict as DetectorVerdict } from '../detect/verdict.ts';
import type { CompiledPolicy } from './snapshot.ts';

export type { ThreatLevel } from '../detect/levels.ts';

/** The decision's view of one client's threat: detector facts, feeds, and what the policy makes of them. */
export interface ThreatAssessment {
  readonly level: ThreatLevel;
  /** Okta's threatDetections: reason -> level. */
  readonly detections: Readonly<Record<string, ThreatLevel>>;
  /** What the policy makes of it: only 'block' / 'rate_limit' when the policy action is Block. */
  readonly enforce: 'none' | 'block' | 'rate_limit';
  readonly retryAfterSeconds: number | undefined;
  /** ThreatFeeds listing the client, when `threat_feed` is among the detections. */
  readonly feeds: readonly string[] | undefined;
}

/** What the detectors know about one client (and the account it targets), read at decision time. */
export interface DetectorFacts {
  readonly verdict: DetectorVerdict;
  /** Level of the (client, account) pair; NONE when no username or nothing known. */
  readonly account: ThreatLevel;
  /** Level of the client's network (/24, /48) as it applies to this client; NONE for a client seen to succeed. */
  readonly network?: ThreatLevel;
  /** Level of the client's autonomous system as it applies to this client; NONE for a client seen to succeed. */
  readonly asn?: ThreatLevel;
  /** The client's network signed in to this account recently (never refused by the account rules below). */
  readonly familiar?: boolean;
  /** The account is failing from many distinct unfamiliar sources now. */
  readonly accountUnderAttack?: boolean;
  /** Many distinct wrong passwords failed on the account recently. */
  readonly accountGuessed?: boolean;
  /** This attempt's password fingerprint is a spray password (failing on many accounts). */
  readonly sprayPassword?: boolean;
  /** The client failed a sign-in with a spray password recently. */
  readonly sprayingSource?: boolean;
  /** Org Under Attack is declared for the policy (its aggressive rule applies: DetectionSettings.underAttack). */
  readonly orgUnderAttack?: boolean;
  /** The client has a recorded success (on any account). */
  readonly proven?: boolean;
  /** The time these facts are true at (ms since epoch): blocks are compared with it. */
  readonly nowMs: number;
}

/** Read-only lookup into detector state, implemented by the service over the store's local view. No I/O. */
export interface DetectorView {
  /** `fingerprint`: the attempt's password fingerprint (decide/password.ts), when the policy reads passwords. */
  facts(client: Address, usernameHash: number | undefined, fingerprint: number | undefined): DetectorFacts;
}

/** What threat feeds and dynamic zones say about one client (built by src/feeds/, read once per Check). */
export interface FeedMatch {
  /** A Policy DynamicZone named in the policy's exemptZones. */
  readonly exemptZone: string | undefined;
  /** A Blocklist DynamicZone. */
  readonly blockZone: string | undefined;
  /** A ThreatFeed with Blocklist semantics. */
  readonly blockFeed: string | undefined;
  /** Highest level among the ThreatLevel feeds listing the client; NONE when none does. */
  readonly threatLevel: ThreatLevel;
  readonly threatFeeds: readonly string[];
}

export interface FeedMatcher {
  /** Synchronous and allocation-free on a miss: it runs on every Check. */
  match(client: Address): FeedMatch;
}

const RANK: Readonly<Record<ThreatLevel, number>> = { NONE: 0, LOW: 1, MEDIUM: 2, HIGH: 3 };
/** Retry-After of a 429 for a network under attack: its failures are counted over minutes, not seconds. */
export const NETWORK_RETRY_AFTER_SECONDS = 60;
/** Retry-After of a 429 from the account rules (spray password, account under attack). */
export const ACCOUNT_RETRY_AFTER_SECONDS = 60;

/**
 * Detector facts → what the policy enforces. An active block answers 403 (HIGH) or 429 (MEDIUM); otherwise a
 * HIGH (client, account) pair refuses that account from that client only (Auth0's IP+user rule) while the
 * client itself stays unblocked. Off sign-in routes only an active block matters. Undefined: nothing to say.
 */
export function assessThreat(f: DetectorFacts, signIn: boolean, policy: CompiledPolicy, nowMs: number): ThreatAssessment | undefined {
  const v = f.verdict;
  const asn = signIn ? f.asn ?? 'NONE' : 'NONE';
  // The /24-/48 and the ASN aggregates are enforced alike: the higher of the two.
  const network = RANK[asn] > RANK[f.network ?? 'NONE'] ? asn : f.network ?? 'NONE';
  const blocked = v.blockedUntilMs > nowMs;
  if (!signIn && !blocked) return undefined;
  // The account rules: never for the account's own familiar networks (its owner goes on during an attack).
  const stranger = signIn && f.familiar !== true;
  const spraying = stranger && policy.passwordFields !== undefined && f.sprayingSource === true;
  const sprayPassword = stranger && policy.passwordFields !== undefined && f.sprayPassword === true;
  const accountAttacked = stranger && policy.accountProtection && f.accountUnderAttack === true;
  const accountGuessed = stranger && policy.accountProtection && policy.passwordFields !== undefined && f.accountGuessed === true;
  // While Org Under Attack is declared: strangers never seen to succeed (or, if configured, every stranger).
  const ua = policy.detection.underAttack;
  const orgRefused = stranger && f.orgUnderAttack === true && ((ua.refuseUnproven && f.proven !== true) || ua.refuseUnfamiliar);
  if (v.level === 'NONE' && v.blockedUntilMs === 0 && f.account === 'NONE' && network === 'NONE' && !spraying && !sprayPassword && !accountAttacked && !accountGuessed && !orgRefused) return undefined;
  const act = policy.action === 'Block';
  let enforce: ThreatAssessment['enforce'] = 'none';
  let retryAfterSeconds: number | undefined;
  if (act && blocked) {
    enforce = v.blockLevel === 'HIGH' ? 'block' : 'rate_limit';
    retryAfterSeconds = Math.ceil((v.blockedUntilMs - nowMs) / 1000);
  } else if (act && (f.account === 'HIGH' || (signIn && network === 'HIGH') || spraying)) {
    enforce = 'block';
  } else if (act && ((signIn && network === 'MEDIUM') || sprayPassword || accountAttacked || accountGuessed || orgRefused)) {
    // The client's network is attacking and this client was never seen to succeed, or a stranger brings a spray
    // password, tries an account under attack, or comes unproven while the org is under attack: 429 first.
    enforce = 'rate_limit';
    retryAfterSeconds = network === 'MEDIUM' ? NETWORK_RETRY_AFTER_SECONDS : sprayPassword || accountAttacked || accountGuessed ? ACCOUNT_RETRY_AFTER_SECONDS : Math.ceil(ua.retryAfterMs / 1000);
  }
  let level = v.level === 'NONE' ? v.blockLevel : v.level;
  let detections: Readonly<Record<string, ThreatLevel>> = v.detections;
  const raise = (reason: string, l: ThreatLevel): void => {
    detections = Object.assign({}, detections, { [reason]: l });
    if (RANK[l] > RANK[level]) level = l;
  };
  if (RANK[f.account] > RANK[detections.account_targeted ?? 'NONE']) raise('account_targeted', f.account);
  if ((f.network ?? 'NONE') !== 'NONE' && signIn) raise('network_attack', f.network!);
  if (asn !== 'NONE') raise('asn_attack', asn);
  if (spraying || sprayPassword) raise('spray_password', spraying ? 'HIGH' : 'MEDIUM');
  if (accountAttacked) raise('account_under_attack', 'MEDIUM');
  if (accountGuessed) raise('account_brute_force', 'MEDIUM');
  if (orgRefused) raise('org_under_attack', 'MEDIUM');
  return { level, detections, enforce, retryAfterSeconds, feeds: undefined };
}

/**
 * Feed membership as one more detection (reason `threat_feed`): it raises the level, and under a Block
 * policy a HIGH feed blocks (403) like a HIGH detector verdict. LOW and MEDIUM only inform (headers, event).
 */
export function withFeedThreat(threat: ThreatAssessment | undefined, feed: FeedMatch, policy: CompiledPolicy): ThreatAssessment {
  const level = threat && RANK[threat.level] >= RANK[feed.threatLevel] ? threat.level : feed.threatLevel;
  const blocks = policy.action === 'Block' && feed.threatLevel === 'HIGH';
  const enforce = blocks ? 'block' : threat?.enforce ?? 'none';
  return {
    level,
    detections: Object.assign({}, threat?.detections, { threat_feed: feed.threatLevel }),
    enforce,
    retryAfterSeconds: enforce === threat?.enforce ? threat.retryAfterSeconds : undefined,
    feeds: feed.threatFeeds,
  };
}
