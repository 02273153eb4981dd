import { describe, expect, it } from 'vitest';
import { compile } from '../../src/config/compile.ts';
import { compileDetection, detectionDefaults, detectionSpecOf, } from '../../src/config/detection.ts';
import { formatDuration as formatDetectionDuration, parseDuration as parseDetectionDuration } from '../../src/duration.ts';
import { validateObject } from '../../src/config/validate.ts';
import { DEFAULT_DETECTION } from '../../src/detect/detection.ts';
import { DEFAULT_AGGRESSIVE_THRESHOLDS, DEFAULT_THRESHOLDS } from '../../src/detect/thresholds.ts';

/** A ThreatPolicy document with this spec.detection, through the schema and compile() as a file would go. */
function policyWith(detection: unknown) {
  const r = validateObject({ apiVersion: 'portcullis.dev/v1alpha1', kind: 'ThreatPolicy', metadata: { name: 'p' }, spec: { action: 'Block', detection } }, { source: 'test.yaml' });
  if ('issues' in r) return { issues: r.issues.map((i) => `${i.field}: ${i.message}`), detection: undefined };
  const c = compile([r.object], 1, 0);
  return { issues: c.issues.map((i) => `${i.field}: ${i.message}`), detection: c.snapshot.policy.detection };
}

describe('spec.detection compiles to the detectors\' settings', () => {
  it('durations are text; unset fields keep their defaults; the aggressive profile takes the normal windows', () => {
    const { issues, detection } = policyWith({
      bruteForce: { window: '1h', high: 20 },
      block: '1h30m',
      persistence: { block: '2h' },
      aggressive: { bruteForce: { medium: 4 }, block: '3h' },
      orgUnderAttack: { bucket: '5s', cooldown: '10m', minFailures: 12 },
      accounts: { familiar: '7d', attackSources: 3 },
      sprayPasswords: { window: '20m', accounts: 4 },
    });
    expect(issues).toEqual([]);
    const d = detection!;
    expect(d.thresholds.bruteForce).toEqual({ windowMs: 3_600_000, low: 5, medium: 8, high: 20 });
    expect(d.thresholds.blockMs).toBe(5_400_000);
    expect(d.thresholds.persistence.blockMs).toBe(7_200_000);
    expect(d.thresholds.bruteForceShort).toEqual(DEFAULT_THRESHOLDS.bruteForceShort);
    // Aggressive: its own defaults where unset, the normal profile's windows.
    expect(d.aggressive.bruteForce).toEqual({ windowMs: 3_600_000, low: 3, medium: 4, high: 7 });
    expect(d.aggressive.blockMs).toBe(10_800_000);
    expect(d.aggressive.unprovenFactor).toBe(DEFAULT_AGGRESSIVE_THRESHOLDS.unprovenFactor);
    expect(d.orgUnderAttack).toMatchObject({ bucketMs: 5000, cooldownMs: 600_000, minFailures: 12, scoreThreshold: 6 });
    expect(d.accounts).toMatchObject({ familiarMs: 7 * 86_400_000, attackSources: 3, maxAccounts: 50_000 });
    expect(d.sprayPasswords).toMatchObject({ windowMs: 1_200_000, accounts: 4, holdMs: 3_600_000 });
    expect(Object.isFrozen(d.thresholds.bruteForce)).toBe(true);
  });

  it('no spec.detection is the defaults; the defaults written as a spec compile back to themselves', () => {
    expect(compileDetection(undefined)).toEqual({ settings: DEFAULT_DETECTION });
    const { aggressive, ...normal } = detectionSpecOf(DEFAULT_DETECTION) as Record<string, unknown>;
    const r = policyWith({ ...normal, aggressive });
    expect(r.issues).toEqual([]);
    expect(r.detection).toEqual(DEFAULT_DETECTION);
  });

  it('problems name the spec field, in the spec\'s words', () => {
    expect(policyWith({ bruteForceShort: { low: 6 } }).issues).toEqual(['spec.detection.bruteForceShort: low <= medium <= high required (0 switches a level off)']);
    expect(policyWith({ persistence: { block: '2d' } }).issues).toEqual(['spec.detection.persistence.block: must be 1 s..maxBlock']);
    expect(policyWith({ orgUnderAttack: { coldStart: '20m' } }).issues).toEqual(['spec.detection.orgUnderAttack.coldStart: must be 0..warmup']);
    expect(policyWith({ orgUnderAttack: { sketchBits: 1000 } }).issues).toEqual(['spec.detection.orgUnderAttack.sketchBits: must be a power of two, 32..1048576']);
    expect(policyWith({ bruteForce: { window: '1500ms' } }).issues).toEqual(['spec.detection.bruteForce.window: must be whole seconds between 1 s and 30 days']);
    expect(policyWith({ unprovenFactor: 0 }).issues).toEqual(['spec.detection.unprovenFactor: must be (0, 1]']);
    expect(policyWith({ aggressive: { maxTrackedIps: 10 } }).issues).toEqual(['spec.detection.aggressive.maxTrackedIps: unknown field']);
    expect(policyWith({ bruteForce: { high: 300 } }).issues).toEqual(['spec.detection.bruteForce.high: must be <= 250']);
  });

  it('--max-tracked-ips is the cap a policy does not set', () => {
    const defaults = detectionDefaults(5000);
    expect(defaults.thresholds.maxTrackedIps).toBe(5000);
    expect(defaults.aggressive.maxTrackedIps).toBe(5000);
    const r = compileDetection({ bruteForce: { high: 12 } }, defaults);
    expect('settings' in r && r.settings.thresholds.maxTrackedIps).toBe(5000);
    const set = compileDetection({ maxTrackedIps: 7000 }, defaults);
    expect('settings' in set && [set.settings.thresholds.maxTrackedIps, set.settings.aggressive.maxTrackedIps]).toEqual([7000, 7000]);
  });

  it('durations both ways', () => {
    expect(parseDetectionDuration('1h30m')).toBe(5_400_000);
    expect(parseDetectionDuration('2d')).toBe(172_800_000);
    expect(parseDetectionDuration('10 m')).toBeUndefined();
    expect(parseDetectionDuration('')).toBeUndefined();
    expect([10_000, 600_000, 86_400_000, 5_400_000, 1500].map(formatDetectionDuration)).toEqual(['10s', '10m', '1d', '90m', '1500ms']);
  });
});
