import { IPV6_TRACKING_PREFIX } from './ip-key.ts';
/**
 * Detector thresholds. A count at or above `low` / `medium` / `high` yields that level; 0 disables a level.
 * Counts over a window use an approximate sliding window (see docs/detection.md). Windows, table sizes and
 * the IPv6 prefix come from the normal profile only: the aggressive profile must use the same windows,
 * because the per-IP buckets are laid out by window width.
 */
export interface LevelCounts {
  readonly low: number;
  readonly medium: number;
  readonly high: number;
}

export interface WindowThresholds extends LevelCounts {
  /** Whole seconds, >= 1000. */
  readonly windowMs: number;
}

export interface StuffingThresholds extends WindowThresholds {
  /** Distinct attempted usernames in the window required before velocity counts as stuffing. */
  readonly minDistinctUsernames: number;
}

/** Damping for IPs that mostly succeed (office NAT, carrier-grade NAT): volume detectors drop levels. */
export interface SuccessTolerance {
  /** Successes in the `bruteForce` window before the IP is considered mostly-legitimate. 0 disables. */
  readonly minSuccesses: number;
  /** ... and at most this share of its sign-ins in that window failed. */
  readonly maxFailureRatio: number;
  /** Levels removed from brute_force, password_spray, unknown_user_spray, credential_stuffing. */
  readonly levelsDown: number;
}

/** Persistence: sign-in attempts an IP sends while refused (429/403), counted over windowMs. */
export interface PersistenceThresholds extends WindowThresholds {
  /** A HIGH block caused by persistence lasts at least this (escalated like any HIGH block). */
  readonly blockMs: number;
}

/** Failures per network (IPv4 /24, IPv6 /48), once they come from at least minDistinctIps distinct IPs. */
export interface NetworkThresholds extends WindowThresholds {
  /** Distinct failing IPs of the network in the window (estimated, 32-bit sketch) before its failures count. */
  readonly minDistinctIps: number;
}

export interface Thresholds {
  /** Failed sign-ins per IP, short window. */
  readonly bruteForceShort: WindowThresholds;
  /** Failed sign-ins per IP, medium window. */
  readonly bruteForce: WindowThresholds;
  /** Failed sign-ins per IP, long window. */
  readonly bruteForceLong: WindowThresholds;
  /**
   * The long window's counts for IPs never seen to succeed, where they are lower than bruteForceLong × unprovenFactor:
   * a slow guesser (one attempt every few minutes, below every short window) that never once succeeds.
   */
  readonly bruteForceLongUnproven: LevelCounts;
  /** Distinct usernames with a failed sign-in from the IP (estimated; keep high <= 60). */
  readonly passwordSpray: WindowThresholds;
  /** Failed sign-ins for usernames that do not exist. */
  readonly unknownUserSpray: WindowThresholds;
  /** Sign-in attempts per IP per window, across >= minDistinctUsernames usernames. */
  readonly credentialStuffing: StuffingThresholds;
  /** Failures per (IP, username) since its last success; windowMs: forgotten after that long without one. */
  readonly accountTargeted: WindowThresholds;
  /**
   * Refused sign-in attempts (attempts that arrived while the IP was refused). Counted for IPs never seen to
   * succeed only: a shared address (office NAT) whose users retry during a 429 is not escalated.
   */
  readonly persistence: PersistenceThresholds;
  /**
   * Failures per /24 (IPv4) or /48 (IPv6): a botnet concentrated in a few networks. Enforced on the network's IPs
   * never seen to succeed (MEDIUM 429, HIGH 403); damped by successTolerance like the per-IP volume detectors.
   */
  readonly network: NetworkThresholds;
  /** Remembered HIGH blocks. medium/high here re-block on sight until the offence memory expires. */
  readonly repeatOffender: LevelCounts;
  readonly successTolerance: SuccessTolerance;
  /** Count thresholds are multiplied by this (rounded up, min 1) for IPs never seen to succeed. 1 = off. */
  readonly unprovenFactor: number;
  /** HIGH block duration for a first offence. */
  readonly blockMs: number;
  /** Each remembered offence multiplies the HIGH block by this ... */
  readonly escalationFactor: number;
  /** ... up to this. */
  readonly maxBlockMs: number;
  /** Offences are remembered this long after the last block expired. */
  readonly offenceMemoryMs: number;
  /** MEDIUM: short rate-limit block (429 + Retry-After upstream). Does not escalate. */
  readonly rateLimitMs: number;
  readonly ipv6PrefixLength: number;
  /** Cap on tracked IP keys (least risky evicted beyond it). */
  readonly maxTrackedIps: number;
  /** Cap on tracked (IP, username) failure counters. */
  readonly maxTrackedPairs: number;
  /** Cap on tracked networks (the quietest of 4 sampled is replaced beyond it). */
  readonly maxTrackedNetworks: number;
}

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

export const DEFAULT_THRESHOLDS: Thresholds = deepFreeze({
  // CrowdSec http-bf: 5 failures in 10 s is a ban -> MEDIUM (rate limit) at 5, HIGH at twice that.
  bruteForceShort: { windowMs: 10_000, low: 3, medium: 5, high: 10 },
  // AWS WAF ATP: more than 10 failed logins per IP in 10 min is high-confidence -> HIGH at 11.
  bruteForce: { windowMs: 10 * MIN, low: 5, medium: 8, high: 11 },
  // Auth0 brute-force protection: 100 failed logins per IP per day.
  bruteForceLong: { windowMs: DAY, low: 30, medium: 60, high: 100 },
  // fail2ban's recidive-style memory for the slow: 7 failures in a day and not one success is not a person.
  bruteForceLongUnproven: { low: 5, medium: 7, high: 9 },
  // Spraying: one password over many accounts; a person rarely fails on more than 2 usernames.
  passwordSpray: { windowMs: 10 * MIN, low: 4, medium: 6, high: 10 },
  // Unknown usernames mean a list, not a forgetful user.
  unknownUserSpray: { windowMs: 10 * MIN, low: 3, medium: 5, high: 10 },
  // Stuffing: a fast stream of different usernames.
  credentialStuffing: { windowMs: 60_000, low: 10, medium: 20, high: 40, minDistinctUsernames: 5 },
  // Auth0: 10 consecutive failures for one account from one IP blocks that pair.
  accountTargeted: { windowMs: DAY, low: 5, medium: 7, high: 9 },
  // Three sign-ins sent into a block within 10 min: the client does not heed 429 (a person retries once or
  // twice; Retry-After tells a well-behaved client when). Blocked for an hour: fail2ban's recidive jail idea.
  persistence: { windowMs: 10 * MIN, low: 1, medium: 2, high: 3, blockMs: HOUR },
  // A /24 is up to 256 hosts: 10 failures in 10 min from 5 different IPs of it, mostly failing, is no household.
  // AWS WAF ATP and Cloudflare aggregate by network/ASN the same way for distributed credential attacks.
  network: { windowMs: 10 * MIN, low: 5, medium: 10, high: 20, minDistinctIps: 5 },
  repeatOffender: { low: 1, medium: 0, high: 0 },
  successTolerance: { minSuccesses: 5, maxFailureRatio: 0.25, levelsDown: 2 },
  unprovenFactor: 1,
  blockMs: 15 * MIN,
  escalationFactor: 2,
  maxBlockMs: DAY,
  offenceMemoryMs: DAY,
  rateLimitMs: 60_000,
  ipv6PrefixLength: IPV6_TRACKING_PREFIX,
  maxTrackedIps: 1_000_000,
  maxTrackedPairs: 262_144,
  maxTrackedNetworks: 65_536,
});

/** Org under attack: roughly half the counts, IPs never seen to succeed held to 0.6 of that, longer blocks. */
export const DEFAULT_AGGRESSIVE_THRESHOLDS: Thresholds = deepFreeze({
  ...DEFAULT_THRESHOLDS,
  bruteForceShort: { windowMs: 10_000, low: 2, medium: 4, high: 6 },
  bruteForce: { windowMs: 10 * MIN, low: 3, medium: 6, high: 7 },
  bruteForceLong: { windowMs: DAY, low: 15, medium: 30, high: 50 },
  passwordSpray: { windowMs: 10 * MIN, low: 3, medium: 4, high: 6 },
  unknownUserSpray: { windowMs: 10 * MIN, low: 2, medium: 3, high: 5 },
  credentialStuffing: { windowMs: 60_000, low: 5, medium: 10, high: 20, minDistinctUsernames: 3 },
  accountTargeted: { windowMs: DAY, low: 3, medium: 5, high: 7 },
  network: { windowMs: 10 * MIN, low: 3, medium: 6, high: 12, minDistinctIps: 3 },
  unprovenFactor: 0.6,
  blockMs: 30 * MIN,
});

/** Counters behind these detectors are one byte wide (saturating at 255). */
const BYTE_COUNTERS = [
  'bruteForceShort',
  'bruteForce',
  'bruteForceLong',
  'unknownUserSpray',
  'credentialStuffing',
  'accountTargeted',
  'persistence',
  'network',
] as const;
const WINDOWED = [...BYTE_COUNTERS, 'passwordSpray'] as const;

/** One problem with a thresholds object: the field (dotted Thresholds path) and what is wrong with it. */
export interface ThresholdProblem {
  readonly field: string;
  readonly message: string;
}

/**
 * Fields that shape the engine's tables: the windows the buckets are laid out by, the IPv6 key prefix and the
 * table caps. A running engine keeps them (DetectionEngine.reconfigure); they take effect when it is built.
 */
export const SHAPE_FIELDS: readonly string[] = Object.freeze([
  ...WINDOWED.map((w) => `${w}.windowMs`), 'ipv6PrefixLength', 'maxTrackedIps', 'maxTrackedPairs', 'maxTrackedNetworks',
]);

/** `t` with the shape fields (SHAPE_FIELDS) of `shape`. */
export function withShapeOf(t: Thresholds, shape: Thresholds): Thresholds {
  const out: Record<string, unknown> = { ...t };
  for (const w of WINDOWED) out[w] = { ...t[w], windowMs: shape[w].windowMs };
  for (const k of ['ipv6PrefixLength', 'maxTrackedIps', 'maxTrackedPairs', 'maxTrackedNetworks'] as const) out[k] = shape[k];
  return deepFreeze(out as unknown as Thresholds);
}

/** Shape fields (SHAPE_FIELDS) whose values differ between `a` and `b`. */
export function shapeDifferences(a: Thresholds, b: Thresholds): string[] {
  return SHAPE_FIELDS.filter((f) => valueAt(a, f) !== valueAt(b, f));
}

function valueAt(t: Thresholds, path: string): unknown {
  let v: unknown = t;
  for (const p of path.split('.')) v = (v as Record<string, unknown>)[p];
  return v;
}

/** Problems with a thresholds object, as readable strings ("field: message"); empty when valid. */
export function validateThresholds(t: Thresholds, normal?: Thresholds): string[] {
  return thresholdProblems(t, normal).map((p) => `${p.field}: ${p.message}`);
}

/**
 * Problems with a thresholds object, each naming its field; empty when valid. With `normal`, `t` is an
 * aggressive profile, whose windows must be the normal profile's.
 */
export function thresholdProblems(t: Thresholds, normal?: Thresholds): ThresholdProblem[] {
  const errs: ThresholdProblem[] = [];
  const bad = (field: string, message: string): void => void errs.push({ field, message });
  const levels = (name: string, c: LevelCounts, max: number): void => {
    for (const k of ['low', 'medium', 'high'] as const) {
      const v = c[k];
      if (!Number.isInteger(v) || v < 0 || v > max) bad(`${name}.${k}`, `counts must be integers 0..${max}`);
    }
    const set = [c.low, c.medium, c.high].filter((v) => v !== 0);
    for (let i = 1; i < set.length; i++) {
      if (set[i]! < set[i - 1]!) {
        bad(name, 'low <= medium <= high required (0 switches a level off)');
        break;
      }
    }
  };
  for (const name of WINDOWED) {
    const w = t[name];
    if (!Number.isInteger(w.windowMs / 1000) || w.windowMs < 1000 || w.windowMs > 30 * DAY) {
      bad(`${name}.windowMs`, 'must be whole seconds between 1 s and 30 days');
    }
    if (normal && normal[name].windowMs !== w.windowMs) {
      bad(`${name}.windowMs`, `must equal the normal profile's (${normal[name].windowMs})`);
    }
  }
  for (const name of BYTE_COUNTERS) levels(name, t[name], 250);
  levels('passwordSpray', t.passwordSpray, 60);
  levels('repeatOffender', t.repeatOffender, 15);
  levels('bruteForceLongUnproven', t.bruteForceLongUnproven, 250);
  const nd = t.network.minDistinctIps;
  if (!(Number.isInteger(nd) && nd >= 1 && nd <= 30)) bad('network.minDistinctIps', 'must be 1..30');
  const nc = t.maxTrackedNetworks;
  if (!(Number.isInteger(nc) && nc >= 16 && nc <= 1 << 24)) bad('maxTrackedNetworks', 'must be 16..16777216');
  const pb = t.persistence.blockMs;
  if (!(pb >= 1000 && pb <= t.maxBlockMs)) bad('persistence.blockMs', 'must be 1 s..maxBlockMs');
  const cs = t.credentialStuffing.minDistinctUsernames;
  if (!Number.isInteger(cs) || cs < 0 || cs > 16) bad('credentialStuffing.minDistinctUsernames', 'must be 0..16');
  const st = t.successTolerance;
  if (!(Number.isInteger(st.minSuccesses) && st.minSuccesses >= 0 && st.minSuccesses <= 250)) bad('successTolerance.minSuccesses', 'must be 0..250');
  if (!(st.maxFailureRatio >= 0 && st.maxFailureRatio <= 1)) bad('successTolerance.maxFailureRatio', 'must be 0..1');
  if (!(Number.isInteger(st.levelsDown) && st.levelsDown >= 0 && st.levelsDown <= 3)) bad('successTolerance.levelsDown', 'must be 0..3');
  if (!(t.unprovenFactor > 0 && t.unprovenFactor <= 1)) bad('unprovenFactor', 'must be (0, 1]');
  if (!(t.blockMs >= 1000)) bad('blockMs', 'must be >= 1 s');
  if (!(t.maxBlockMs >= t.blockMs)) bad('maxBlockMs', 'must be >= blockMs');
  if (!(t.maxBlockMs <= 365 * DAY)) bad('maxBlockMs', 'must be <= 365 days');
  if (!(t.escalationFactor >= 1 && t.escalationFactor <= 16)) bad('escalationFactor', 'must be 1..16');
  if (!(t.offenceMemoryMs >= 0 && t.offenceMemoryMs <= 365 * DAY)) bad('offenceMemoryMs', 'must be 0..365 days');
  if (!(t.rateLimitMs >= 1000 && t.rateLimitMs <= t.maxBlockMs)) bad('rateLimitMs', 'must be 1 s..maxBlockMs');
  const p = t.ipv6PrefixLength;
  if (!(Number.isInteger(p) && p >= 1 && p <= 128)) bad('ipv6PrefixLength', 'must be 1..128');
  const m = t.maxTrackedIps;
  if (!(Number.isInteger(m) && m >= 16 && m <= 1 << 26)) bad('maxTrackedIps', 'must be 16..67108864');
  const q = t.maxTrackedPairs;
  if (!(Number.isInteger(q) && q >= 16 && q <= 1 << 26)) bad('maxTrackedPairs', 'must be 16..67108864');
  return errs;
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (v && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(o);
}
