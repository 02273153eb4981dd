import type { DetectionSpec } from '../api/objects.ts';
import { DEFAULT_DETECTION, detectionProblems, type DetectionSettings } from '../detect/detection.ts';
import { SHAPE_FIELDS, withShapeOf, type Thresholds } from '../detect/thresholds.ts';

/** A problem with spec.detection: `field` is the path in the object ("spec.detection.bruteForce.low"). */
export interface DetectionProblem {
  readonly field: string;
  readonly message: string;
}

import { formatDuration, parseDuration } from '../duration.ts';

/** A settings path ("thresholds.bruteForce.windowMs") as the spec names it ("spec.detection.bruteForce.window"). */
export function specFieldOf(settingsPath: string): string {
  const parts = settingsPath.split('.');
  if (parts[0] === 'thresholds') parts.shift();
  const last = parts.length - 1;
  if (parts[last]!.endsWith('Ms')) parts[last] = parts[last]!.slice(0, -2);
  return `spec.detection.${parts.join('.')}`;
}

/**
 * `base` with the spec's fields written over it. The schema has already admitted only known fields; a spec field
 * `foo` holding text is the settings field `fooMs` (a duration).
 */
function overlay<T>(base: T, spec: unknown, path: string, problems: DetectionProblem[]): T {
  if (spec === undefined || spec === null || typeof spec !== 'object') return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(spec as Record<string, unknown>)) {
    if (v !== null && typeof v === 'object') {
      out[k] = overlay(out[k], v, `${path}.${k}`, problems);
    } else if (typeof v === 'string') {
      const ms = parseDuration(v);
      if (ms === undefined) problems.push({ field: `${path}.${k}`, message: `${JSON.stringify(v)} is not a duration (e.g. 10s, 15m, 1h, 2d)` });
      else out[`${k}Ms`] = ms;
    } else {
      out[k] = v;
    }
  }
  return out as T;
}

function freeze<T>(o: T): T {
  if (o !== null && typeof o === 'object') {
    for (const v of Object.values(o)) freeze(v);
    Object.freeze(o);
  }
  return o;
}

/** The defaults with another cap on tracked IPs (the --max-tracked-ips flag: the cap when a policy sets none). */
export function detectionDefaults(maxTrackedIps: number): DetectionSettings {
  if (maxTrackedIps === DEFAULT_DETECTION.thresholds.maxTrackedIps) return DEFAULT_DETECTION;
  return freeze({
    ...DEFAULT_DETECTION,
    thresholds: { ...DEFAULT_DETECTION.thresholds, maxTrackedIps },
    aggressive: { ...DEFAULT_DETECTION.aggressive, maxTrackedIps },
  });
}

/**
 * spec.detection (schema-valid) → the settings every detector runs with, `defaults` filling what is unset. The
 * aggressive profile starts from the aggressive defaults and takes the normal profile's windows, IPv6 prefix
 * and caps. Problems name spec fields; the rules between fields are the detectors' own (detectionProblems).
 */
export function compileDetection(spec: DetectionSpec | undefined, defaults: DetectionSettings = DEFAULT_DETECTION): { settings: DetectionSettings } | { problems: DetectionProblem[] } {
  if (spec === undefined) return { settings: defaults };
  const problems: DetectionProblem[] = [];
  const at = 'spec.detection';
  const { aggressive: aggressiveSpec, orgUnderAttack, accounts, sprayPasswords, underAttack, asn, ...profile } = spec;
  const thresholds = overlay<Thresholds>(defaults.thresholds, profile, at, problems);
  const aggressive = withShapeOf(overlay<Thresholds>(defaults.aggressive, aggressiveSpec, `${at}.aggressive`, problems), thresholds);
  const settings: DetectionSettings = freeze({
    thresholds,
    aggressive,
    orgUnderAttack: overlay(defaults.orgUnderAttack, orgUnderAttack, `${at}.orgUnderAttack`, problems),
    accounts: overlay(defaults.accounts, accounts, `${at}.accounts`, problems),
    sprayPasswords: overlay(defaults.sprayPasswords, sprayPasswords, `${at}.sprayPasswords`, problems),
    underAttack: overlay(defaults.underAttack, underAttack, `${at}.underAttack`, problems),
    asn: overlay(defaults.asn, asn, `${at}.asn`, problems),
  });
  if (problems.length > 0) return { problems };
  // Messages name other fields the detectors' way ("maxBlockMs"); the spec writes them without the unit.
  // The aggressive profile's windows, prefix and caps are the normal one's: a problem there is reported once.
  const bad = detectionProblems(settings).filter((p) => !(p.field.startsWith('aggressive.') && SHAPE_FIELDS.includes(p.field.slice('aggressive.'.length)))).map((p) => ({ field: specFieldOf(p.field), message: p.message.replace(/\b([a-z]\w*?)Ms\b/g, '$1') }));
  return bad.length > 0 ? { problems: bad } : { settings };
}

/** Settings back to spec.detection text: every field, durations as text (explain, replay's "to deploy"). */
export function detectionSpecOf(d: DetectionSettings): Record<string, unknown> {
  const { thresholds, aggressive, ...rest } = d;
  const shape = new Set(['ipv6PrefixLength', 'maxTrackedIps', 'maxTrackedPairs', 'maxTrackedNetworks', 'windowMs']);
  return { ...toSpec(thresholds, () => true), aggressive: toSpec(aggressive, (k) => !shape.has(k)), ...toSpec(rest, () => true) };
}

function toSpec(o: object, keep: (key: string) => boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (!keep(k)) continue;
    if (v !== null && typeof v === 'object') out[k] = toSpec(v as object, keep);
    else if (k.endsWith('Ms') && typeof v === 'number') out[k.slice(0, -2)] = formatDuration(v);
    else out[k] = v;
  }
  return out;
}

/** Leaves of a spec.detection object as path -> value text. */
export function detectionSpecLeaves(o: Record<string, unknown>): Map<string, string> {
  return leaves(o);
}

function leaves(o: Record<string, unknown>, prefix = '', out = new Map<string, string>()): Map<string, string> {
  for (const [k, v] of Object.entries(o)) {
    if (v !== null && typeof v === 'object') leaves(v as Record<string, unknown>, `${prefix}${k}.`, out);
    else out.set(`${prefix}${k}`, String(v));
  }
  return out;
}

/** The spec.detection fields whose values differ from `defaults`, as "field=value" (spec order). */
export function changedDetectionFields(s: DetectionSettings, defaults: DetectionSettings = DEFAULT_DETECTION): string[] {
  const base = leaves(detectionSpecOf(defaults));
  return [...leaves(detectionSpecOf(s))].filter(([k, v]) => base.get(k) !== v).map(([k, v]) => `${k}=${v}`);
}

/** Only the fields of `s` that differ from `defaults`, as a (nested) spec.detection object: what to deploy. */
export function changedDetectionSpec(s: DetectionSettings, defaults: DetectionSettings = DEFAULT_DETECTION): Record<string, unknown> {
  const base = leaves(detectionSpecOf(defaults));
  const out: Record<string, unknown> = {};
  const walk = (o: Record<string, unknown>, into: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(o)) {
      if (v !== null && typeof v === 'object') {
        const sub: Record<string, unknown> = {};
        walk(v as Record<string, unknown>, sub, `${prefix}${k}.`);
        if (Object.keys(sub).length > 0) into[k] = sub;
      } else if (base.get(`${prefix}${k}`) !== String(v)) into[k] = v;
    }
  };
  walk(detectionSpecOf(s), out, '');
  return out;
}
