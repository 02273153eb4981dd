import { changedDetectionFields } from '../config/detection.ts';
import { formatDuration as d } from '../duration.ts';
import { DEFAULT_DETECTION, type DetectionSettings } from '../detect/detection.ts';
import type { LevelCounts, Thresholds, WindowThresholds } from '../detect/thresholds.ts';

const DETECTORS = ['bruteForceShort', 'bruteForce', 'bruteForceLong', 'bruteForceLongUnproven', 'passwordSpray', 'unknownUserSpray', 'credentialStuffing', 'accountTargeted', 'persistence', 'network', 'repeatOffender'] as const;

const counts = (c: LevelCounts): string => `${c.low}/${c.medium}/${c.high}`;

/** The detection settings in force, for `explain`: one line per detector, then blocks and the org-wide rules. */
export function describeDetection(s: DetectionSettings, defaults: DetectionSettings = DEFAULT_DETECTION): string[] {
  const changed = changedDetectionFields(s, defaults);
  const t: Thresholds = s.thresholds;
  const a: Thresholds = s.aggressive;
  const lines = [
    `detection: ${changed.length ? `spec.detection sets ${changed.join(', ')}` : 'the defaults (no spec.detection field changes them)'}`,
    `  ${'detector'.padEnd(20)} ${'window'.padEnd(7)} ${'LOW/MEDIUM/HIGH'.padEnd(16)} under attack`,
  ];
  for (const name of DETECTORS) {
    const w = (t[name] as Partial<WindowThresholds>).windowMs;
    lines.push(`  ${name.padEnd(20)} ${(w === undefined ? '-' : d(w)).padEnd(7)} ${counts(t[name]).padEnd(16)} ${counts(a[name])}`);
  }
  const o = s.orgUnderAttack;
  const acc = s.accounts;
  const sp = s.sprayPasswords;
  const ua = s.underAttack;
  lines.push(
    `  blocks: HIGH ${d(t.blockMs)} (under attack ${d(a.blockMs)}), ×${t.escalationFactor} per remembered offence up to ${d(t.maxBlockMs)}; persistence at least ${d(t.persistence.blockMs)}; offences remembered ${d(t.offenceMemoryMs)}; MEDIUM rate limit ${d(t.rateLimitMs)}`,
    `  never seen to succeed: counts × ${t.unprovenFactor} (under attack × ${a.unprovenFactor}); mostly succeeding (≥ ${t.successTolerance.minSuccesses} successes, ≤ ${t.successTolerance.maxFailureRatio * 100} % failing): ${t.successTolerance.levelsDown} levels down`,
    `  orgUnderAttack: ${d(o.bucketMs)} buckets; declared after ${o.consecutiveBuckets} scoring above ${o.scoreThreshold} with ≥ ${o.minFailures} failures each; ends ${d(o.cooldownMs)} without one above ${o.clearScore}`,
    `  accounts: under attack at ${acc.attackSources} unfamiliar networks failing within ${d(acc.attackWindowMs)} (held ${d(acc.attackHoldMs)}); a success keeps a network familiar ${d(acc.familiarMs)}`,
    `  sprayPasswords: a password failing on ${sp.accounts} accounts within ${d(sp.windowMs)} (held ${d(sp.holdMs)})`,
    `  underAttack: while declared, refused (429, Retry-After ${d(ua.retryAfterMs)}) unless familiar to the account: ${[ua.refuseUnproven ? 'sources never seen to succeed' : '', ua.refuseUnfamiliar ? 'every unfamiliar source' : ''].filter(Boolean).join(', ') || 'nothing more'}`,
  );
  return lines;
}
