import { ManualClock } from '../clock.ts';
import { DEFAULT_ORG_ATTACK, OrgAttackDetector } from '../detect/org-attack.ts';
import { DEFAULT_AGGRESSIVE_THRESHOLDS, DEFAULT_THRESHOLDS, validateThresholds, type Thresholds } from '../detect/thresholds.ts';
import { PortcullisError } from '../errors.ts';

export type OrgOptions = Partial<Record<keyof typeof DEFAULT_ORG_ATTACK, number>>;

/** One threshold setting to replay: the normal profile, the one used while under attack, Org Under Attack options. */
export interface ReplaySetting {
  readonly name: string;
  readonly thresholds: Thresholds;
  readonly aggressive: Thresholds;
  readonly org: OrgOptions;
}

export type ProfileName = 'default' | 'aggressive';

export function profile(name: ProfileName): ReplaySetting {
  return name === 'default'
    ? { name, thresholds: DEFAULT_THRESHOLDS, aggressive: DEFAULT_AGGRESSIVE_THRESHOLDS, org: {} }
    : { name, thresholds: DEFAULT_AGGRESSIVE_THRESHOLDS, aggressive: DEFAULT_AGGRESSIVE_THRESHOLDS, org: {} };
}

/** Fields that only the normal profile defines; an override of them applies to both profiles. */
const SHARED = /^(\w+\.windowMs|ipv6PrefixLength|maxTrackedIps|maxTrackedPairs)$/;
const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export interface Override {
  readonly text: string;
  readonly target: 'normal' | 'aggressive' | 'org';
  readonly path: readonly string[];
  readonly value: number;
}

/**
 * `key=value`: a Thresholds field by dotted path (`bruteForce.high=20`, `successTolerance.maxFailureRatio=0.2`),
 * `aggressive.<path>` for the under-attack profile only, `org.<option>` for Org Under Attack. Fields ending in
 * Ms also take a unit: 90s, 15m, 1h, 2d.
 */
export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  const usage = (msg: string) => new PortcullisError('USAGE', `--set ${text}: ${msg}`);
  if (eq <= 0) throw usage('expected key=value');
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  const parts = key.split('.');
  const target = parts[0] === 'aggressive' ? 'aggressive' : parts[0] === 'org' ? 'org' : 'normal';
  const path = target === 'normal' ? parts : parts.slice(1);
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw);
  if (!m) throw usage('value must be a number (fields ending in Ms also take ms, s, m, h or d)');
  if (m[2] && !path.at(-1)!.endsWith('Ms')) throw usage(`a unit only applies to fields ending in Ms`);
  const value = Number(m[1]) * UNITS[m[2] ?? 'ms']!;
  const base: unknown = target === 'org' ? DEFAULT_ORG_ATTACK : DEFAULT_THRESHOLDS;
  let v: unknown = base;
  for (const p of path) v = v !== null && typeof v === 'object' && Object.hasOwn(v, p) ? (v as Record<string, unknown>)[p] : undefined;
  if (typeof v !== 'number') throw usage(`no numeric field ${JSON.stringify(path.join('.'))} in ${target === 'org' ? 'the Org Under Attack options' : 'Thresholds'}`);
  return { text: `${key}=${raw}`, target, path, value };
}

function setPath<T>(obj: T, path: readonly string[], value: number): T {
  const [head, ...rest] = path;
  const o = obj as Record<string, unknown>;
  return { ...o, [head!]: rest.length ? setPath(o[head!], rest, value) : value } as T;
}

/** `base` with the overrides applied, validated the way the engine will (as a usage error naming the flag). */
export function withOverrides(base: ReplaySetting, overrides: readonly Override[], name: string): ReplaySetting {
  let { thresholds, aggressive } = base;
  let org: OrgOptions = { ...base.org };
  for (const o of overrides) {
    if (o.target === 'org') org = { ...org, [o.path[0]!]: o.value };
    if (o.target === 'normal') thresholds = setPath(thresholds, o.path, o.value);
    if (o.target === 'aggressive' || (o.target === 'normal' && SHARED.test(o.path.join('.')))) aggressive = setPath(aggressive, o.path, o.value);
  }
  const problems = [...validateThresholds(thresholds), ...validateThresholds(aggressive, thresholds).map((p) => `aggressive: ${p}`)];
  try {
    new OrgAttackDetector({ clock: new ManualClock(), ...org });
  } catch (err) {
    problems.push((err as Error).message);
  }
  if (problems.length) throw new PortcullisError('USAGE', `--set ${overrides.map((o) => o.text).join(' ')}: ${problems.join('; ')}`);
  return { name, thresholds, aggressive, org };
}

/** One --set: `key=value`, or several joined by commas that only make sense together (`a.medium=30,a.high=40`). */
export function parseVariant(text: string): Override[] {
  return text.split(',').map((t) => parseOverride(t.trim()));
}

/** The comparison: both profiles, each --set variant alone on the chosen profile, and all of them together. */
export function comparisonSettings(chosen: ProfileName, variants: readonly (readonly Override[])[]): { settings: ReplaySetting[]; selected: number } {
  const settings = [profile('default'), profile('aggressive')];
  const base = profile(chosen);
  for (const v of variants) settings.push(withOverrides(base, v, `${chosen} + ${v.map((o) => o.text).join(',')}`));
  if (variants.length > 1) settings.push(withOverrides(base, variants.flat(), `${chosen} + all ${variants.length} --set`));
  return { settings, selected: variants.length ? settings.length - 1 : chosen === 'default' ? 0 : 1 };
}
