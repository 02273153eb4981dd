/** Threat levels, in the order Okta ThreatInsight grades them. Index = severity (0..3). */
export const THREAT_LEVELS = ['NONE', 'LOW', 'MEDIUM', 'HIGH'] as const;
export type ThreatLevel = (typeof THREAT_LEVELS)[number];

/**
 * Closed set of detection reasons: used as map keys in `threatDetections` and as metric labels, so the
 * set is fixed here and nowhere else.
 */
export const THREAT_REASONS = [
  'brute_force', // failed sign-ins per IP (10 s, 10 min, 1 day windows)
  'password_spray', // distinct usernames failing from one IP
  'unknown_user_spray', // failures for usernames that do not exist
  'credential_stuffing', // attempt velocity across many usernames, mostly failing
  'account_targeted', // failures per (IP, username)
  'repeat_offender', // remembered earlier HIGH blocks
  'threat_feed', // listed by a ThreatFeed (the feed's name is in the event's debugData, never a label)
  'persistence', // sign-in attempts sent while refused (429/403): an IP that keeps going through its rate limit
  'network_attack', // failures per /24 (IPv4) or /48 (IPv6) from many IPs: a botnet concentrated in a few networks
  'spray_password', // the attempt carries a password failing on many accounts, or its source failed with one
  'account_under_attack', // the account fails from many distinct unfamiliar sources; this source is one more
  'account_brute_force', // many distinct wrong passwords failed on the account (password signals); this source is a stranger
  'asn_attack', // failures per autonomous system (GeoLite2-ASN) from many IPs; enforced on its IPs never seen to succeed
  'org_under_attack', // Org Under Attack is declared and this source is unproven (or unfamiliar) to the account
] as const;
export type ThreatReason = (typeof THREAT_REASONS)[number];

/**
 * Reasons the engine packs into a combo (2 bits each, THREAT_REASONS order): those before spray_password. The
 * account and password reasons after it are decide()'s (from detect/accounts.ts and spray-passwords.ts), never
 * in a combo, so the interned-verdict tables stay 2^18 entries and not 2^22 (~64 MB).
 */
export const COMBO_REASONS = THREAT_REASONS.indexOf('spray_password');

/** What a sign-in attempt turned out to be: the one spelling of the set (detectors, stores, telemetry). */
export const OUTCOMES = ['failure', 'success', 'unknown'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const LEVEL_NONE = 0;
export const LEVEL_LOW = 1;
export const LEVEL_MEDIUM = 2;
export const LEVEL_HIGH = 3;

export function levelName(index: number): ThreatLevel {
  return THREAT_LEVELS[index] ?? 'NONE';
}

export function levelIndex(level: ThreatLevel): number {
  return THREAT_LEVELS.indexOf(level);
}
