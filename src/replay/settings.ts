import type { ConfigObject, DetectionSpec, ThreatPolicyObject } from '../api/objects.ts';
import { API_VERSION, SPEC_SCHEMAS } from '../api/schema.ts';
import { compile } from '../config/compile.ts';
import { detectionSpecOf } from '../config/detection.ts';
import { formatDuration, UNIT_MS } from '../duration.ts';
import { formatIssues } from '../config/reloader.ts';
import { validateObject } from '../config/validate.ts';
import type { Snapshot } from '../decide/snapshot.ts';
import { DEFAULT_DETECTION } from '../detect/detection.ts';
import { DEFAULT_AGGRESSIVE_THRESHOLDS } from '../detect/thresholds.ts';
import { PortcullisError } from '../errors.ts';
import { loadPaths } from '../sources/files.ts';

/**
 * One threshold setting to replay: a ThreatPolicy, compiled exactly as the server compiles it (the one schema,
 * the same defaults), with action Block so that the replay shows what it would refuse.
 */
export interface ReplaySetting {
  readonly name: string;
  /** The policy's spec.detection as written (what to deploy is its changed fields). */
  readonly detection: DetectionSpec;
  readonly snapshot: Snapshot;
}

/** What every setting is built on: the objects of --policy (its zones, its ThreatPolicy), or a bare policy. */
export interface ReplayBase {
  /** Every object but ThreatPolicies. */
  readonly objects: readonly ConfigObject[];
  readonly policy: ThreatPolicyObject;
  /** Said in the output: what the replay does differently from the file. */
  readonly notes: readonly string[];
  /** True when the policy came from --policy. */
  readonly fromFile: boolean;
}

export type ProfileName = 'default' | 'aggressive';

const ORIGIN = { source: '(replay)' };

function policyObject(spec: ThreatPolicyObject['spec'], name = 'replay'): ThreatPolicyObject {
  return { kind: 'ThreatPolicy', name, spec, origin: ORIGIN };
}

/** No --policy: a ThreatPolicy with nothing but action Block (every detection default, account protection on). */
export function builtInBase(): ReplayBase {
  return { objects: [], policy: policyObject({ action: 'Block' }), notes: [], fromFile: false };
}

/** --policy <file|dir>: its ThreatPolicy in force (and the IPZones it names), as the server would load them. */
export function policyBase(path: string): ReplayBase {
  const batch = loadPaths([path]);
  const { snapshot, issues } = compile(batch.objects, 1, 0);
  const all = [...batch.issues, ...issues];
  if (all.length > 0) throw new PortcullisError('USAGE', `--policy ${path}: the config has problems:\n${formatIssues(all, 20).map((l) => `  ${l}`).join('\n')}`);
  const policy = batch.objects.find((o): o is ThreatPolicyObject => o.kind === 'ThreatPolicy' && o.name === snapshot.policy.name);
  if (!policy) throw new PortcullisError('USAGE', `--policy ${path}: no ThreatPolicy in it`);
  const notes: string[] = [];
  const action = policy.spec.action ?? 'Audit';
  if (action !== 'Block') notes.push(`ThreatPolicy ${policy.name} has action ${action}: replayed as Block, to show what it would refuse`);
  const feeds = batch.objects.filter((o) => o.kind === 'ThreatFeed' || o.kind === 'DynamicZone').length;
  if (feeds > 0) notes.push(`${feeds} ThreatFeed/DynamicZone object(s) in ${path} are not read by replay (detectors and IPZones only)`);
  return {
    // The other objects as they are (zones for exemptZones and trusted proxies); other ThreatPolicies are not in force.
    objects: batch.objects.filter((o) => o.kind !== 'ThreatPolicy'),
    policy: { ...policy, spec: { ...policy.spec, action: 'Block' } },
    notes,
    fromFile: true,
  };
}

/** The base with another spec.detection, compiled as the server does. `what` names it in errors. */
export function settingOf(base: ReplayBase, name: string, detection: DetectionSpec, what: string): ReplaySetting {
  const { detection: _, ...rest } = base.policy.spec;
  const spec = Object.keys(detection).length > 0 ? { ...rest, detection } : rest;
  const doc = { apiVersion: API_VERSION, kind: 'ThreatPolicy', metadata: { name: base.policy.name }, spec };
  const checked = validateObject(doc, base.policy.origin);
  const compiled = 'issues' in checked ? undefined : compile([...base.objects, checked.object], 1, 0);
  const issues = 'issues' in checked ? checked.issues : compiled!.issues;
  if (issues.length > 0) throw new PortcullisError('USAGE', `${what}: ${issues.map((i) => `${i.field ?? ''}: ${i.message}`.replace(/^spec\.detection\./, '')).join('; ')}`);
  return { name, detection, snapshot: compiled!.snapshot };
}

/** The aggressive defaults as the normal profile too (`--profile aggressive`). */
export function aggressiveSpec(): DetectionSpec {
  const { aggressive, ...normal } = detectionSpecOf({ ...DEFAULT_DETECTION, thresholds: DEFAULT_AGGRESSIVE_THRESHOLDS, aggressive: DEFAULT_AGGRESSIVE_THRESHOLDS });
  return { ...normal, aggressive } as DetectionSpec;
}

export function profile(name: ProfileName, base: ReplayBase = builtInBase()): ReplaySetting {
  return settingOf(base, name, name === 'default' ? {} : aggressiveSpec(), `--profile ${name}`);
}

export interface Override {
  readonly text: string;
  /** Path in spec.detection. */
  readonly path: readonly string[];
  readonly value: number | string | boolean;
}

interface SchemaNode {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
}

const DETECTION_SCHEMA = (SPEC_SCHEMAS.ThreatPolicy as SchemaNode).properties!.detection!;

function nodeAt(path: readonly string[]): SchemaNode | undefined {
  let n: SchemaNode | undefined = DETECTION_SCHEMA;
  for (const p of path) n = n?.properties && Object.hasOwn(n.properties, p) ? n.properties[p] : undefined;
  return n;
}

/**
 * `key=value`, key a ThreatPolicy spec.detection path (`bruteForce.high=20`, `aggressive.block=1h`,
 * `orgUnderAttack.minFailures=10`). Durations take a unit (90s, 15m, 1h, 2d; a bare number is ms). The
 * detectors' own names are accepted too: `bruteForce.windowMs=12h`, `org.minFailures=10`.
 */
export function parseOverride(text: string): Override {
  const eq = text.indexOf('=');
  const usage = (msg: string) => new PortcullisError('USAGE', `--set ${text}: ${msg}`);
  if (eq <= 0) throw usage('expected key=value');
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  const path = key.split('.');
  if (path[0] === 'org') path[0] = 'orgUnderAttack';
  const last = path.length - 1;
  if (path[last]!.endsWith('Ms') && nodeAt([...path.slice(0, last), path[last]!.slice(0, -2)])?.type === 'string') path[last] = path[last]!.slice(0, -2);
  const node = nodeAt(path);
  if (!node || node.type === 'object' || node.type === undefined) throw usage(`no field ${JSON.stringify(key)} in ThreatPolicy spec.detection (docs/detection.md lists them)`);
  if (node.type === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw usage('value must be true or false');
    return { text: `${key}=${raw}`, path, value: raw === 'true' };
  }
  const m = /^(-?\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(raw);
  if (!m) throw usage(node.type === 'string' ? 'value must be a duration (90s, 15m, 1h, 2d) or a number of ms' : 'value must be a number');
  if (node.type !== 'string') {
    if (m[2]) throw usage('a unit only applies to durations');
    return { text: `${key}=${raw}`, path, value: Number(m[1]) };
  }
  const ms = Number(m[1]) * UNIT_MS[m[2] ?? 'ms']!;
  if (!Number.isSafeInteger(ms) || ms < 0) throw usage('a duration must be a whole number of milliseconds');
  return { text: `${key}=${raw}`, path, value: formatDuration(ms) };
}

/** One --set: `key=value`, or several joined by commas that only make sense together (`a.medium=30,a.high=40`). */
export function parseVariant(text: string): Override[] {
  return text.split(',').map((t) => parseOverride(t.trim()));
}

/** `spec` with the overrides written over it (a copy). */
export function withOverrides(spec: DetectionSpec, overrides: readonly Override[]): DetectionSpec {
  const out = structuredClone(spec) as Record<string, unknown>;
  for (const o of overrides) {
    let at = out;
    for (const p of o.path.slice(0, -1)) {
      const next = at[p];
      at = (at[p] = next !== null && typeof next === 'object' ? next : {}) as Record<string, unknown>;
    }
    at[o.path.at(-1)!] = o.value;
  }
  return out as DetectionSpec;
}

/**
 * The comparison: both default profiles, then the --policy (when given), then each --set variant alone on the
 * base (the policy, or the chosen profile), and all of them together. Every setting shares the base's zones and
 * policy switches; only spec.detection differs.
 */
export function comparisonSettings(base: ReplayBase, chosen: ProfileName, variants: readonly (readonly Override[])[]): { settings: ReplaySetting[]; selected: number } {
  const settings = [profile('default', base), profile('aggressive', base)];
  let baseSpec: DetectionSpec = chosen === 'default' ? {} : aggressiveSpec();
  let baseName: string = chosen;
  if (base.fromFile) {
    baseSpec = base.policy.spec.detection ?? {};
    baseName = `policy ${base.policy.name}`;
    settings.push(settingOf(base, baseName, baseSpec, `--policy`));
  }
  const baseIndex = base.fromFile ? 2 : chosen === 'default' ? 0 : 1;
  const variant = (ov: readonly Override[], name: string) => settingOf(base, name, withOverrides(baseSpec, ov), `--set ${ov.map((o) => o.text).join(' ')}`);
  for (const v of variants) settings.push(variant(v, `${baseName} + ${v.map((o) => o.text).join(',')}`));
  if (variants.length > 1) settings.push(variant(variants.flat(), `${baseName} + all ${variants.length} --set`));
  return { settings, selected: variants.length ? settings.length - 1 : baseIndex };
}
