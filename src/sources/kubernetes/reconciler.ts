import { compile } from '../../config/compile.ts';
import type { ConfigIssue, ConfigObject, DynamicZoneObject, IPZoneObject, ThreatPolicyObject } from '../../api/objects.ts';
import { API_VERSION, type Kind } from '../../api/schema.ts';
import { validateObject } from '../../config/validate.ts';
import type { KubeObject } from './client.ts';

/** What became of one object in the last build. */
export interface ObjectVerdict {
  /** The latest generation passed validation. */
  readonly accepted: boolean;
  /** Why the latest generation was not accepted. */
  readonly issues: readonly ConfigIssue[];
  /** Which version contributes to the snapshot: the latest, the last good one, or none. */
  readonly serving: 'current' | 'previous' | 'none';
  readonly servingGeneration?: number;
  /** ThreatPolicy: whether it is the one in force (the first valid one by name). */
  readonly inForce?: boolean;
  readonly gateways?: number;
  readonly proxies?: number;
}

export interface Tracked {
  readonly uid: string;
  readonly kind: Kind;
  raw: KubeObject;
  generation: number;
  /** The latest version, when it passes the schema. */
  current: ConfigObject | undefined;
  schemaIssues: readonly ConfigIssue[];
  lastGood: { readonly object: ConfigObject; readonly generation: number } | undefined;
  verdict: ObjectVerdict | undefined;
}

export type Change = 'spec' | 'status' | 'none';

interface Candidate { object: ConfigObject; version: 'current' | 'previous'; generation: number }

/**
 * Kubernetes semantics on top of the all-or-nothing compile(): every object stands alone. An invalid object is
 * left out (its verdict says why) and the last good version of it keeps serving, so compile() only ever sees
 * objects that are valid together and the snapshot swap never fails because of one bad object.
 * Zone, feed and dynamic-zone checks are self-contained, so each object version is checked alone once (cached
 * by identity); a ThreatPolicy is checked against the names and usages of the zones it refers to. A check that
 * comes to depend on other objects must be added here, or one bad object would reject the whole batch.
 */
export class Reconciler {
  readonly #objects = new Map<string, Tracked>();
  readonly #checked = new WeakMap<ConfigObject, readonly ConfigIssue[]>();
  #static: readonly ConfigObject[] = [];
  /** Problems of file objects that only show next to the Kubernetes ones (a file policy naming a missing zone). */
  staticIssues: readonly ConfigIssue[] = [];

  /** Objects from config files, already valid together: they always serve, and win name clashes. */
  setStatic(objects: readonly ConfigObject[]): void {
    this.#static = objects;
  }

  get size(): number {
    return this.#objects.size;
  }

  get(uid: string): Tracked | undefined {
    return this.#objects.get(uid);
  }

  values(): IterableIterator<Tracked> {
    return this.#objects.values();
  }

  upsert(kind: Kind, raw: KubeObject): Change {
    const uid = raw.metadata.uid;
    const old = this.#objects.get(uid);
    if (old && old.raw.metadata.resourceVersion === raw.metadata.resourceVersion) return 'none';
    const generation = raw.metadata.generation ?? 0;
    // With a status subresource the API server bumps generation on every spec change and never on status writes.
    const specChanged = !old || old.generation !== generation || (raw.metadata.generation === undefined && JSON.stringify(old.raw.spec) !== JSON.stringify(raw.spec));
    if (old && !specChanged) {
      old.raw = raw;
      return 'status';
    }
    const origin = { source: `kubernetes/${raw.metadata.namespace ?? ''}` };
    const doc = { apiVersion: API_VERSION, kind, metadata: { name: raw.metadata.name, namespace: raw.metadata.namespace }, spec: raw.spec };
    const r = validateObject(doc, origin);
    const t: Tracked = old ?? { uid, kind, raw, generation, current: undefined, schemaIssues: [], lastGood: undefined, verdict: undefined };
    t.raw = raw;
    t.generation = generation;
    t.current = 'object' in r ? r.object : undefined;
    t.schemaIssues = 'issues' in r ? r.issues : [];
    this.#objects.set(uid, t);
    return 'spec';
  }

  remove(uid: string): boolean {
    return this.#objects.delete(uid);
  }

  /** A full list of one kind in one namespace (undefined: all namespaces). Returns whether anything changed. */
  replace(kind: Kind, namespace: string | undefined, raws: readonly KubeObject[]): { spec: boolean; status: boolean } {
    const seen = new Set<string>();
    let spec = false;
    let status = false;
    for (const raw of raws) {
      seen.add(raw.metadata.uid);
      const c = this.upsert(kind, raw);
      if (c === 'spec') spec = true;
      if (c === 'status') status = true;
    }
    for (const [uid, t] of this.#objects) {
      if (t.kind === kind && (namespace === undefined || t.raw.metadata.namespace === namespace) && !seen.has(uid)) {
        this.#objects.delete(uid);
        spec = true;
      }
    }
    return { spec, status };
  }

  /** Chooses what serves, records verdicts and last good versions, and returns the objects for compile(). */
  build(nowMs: number): ConfigObject[] {
    const cands = new Map<string, Candidate>();
    const issues = new Map<string, ConfigIssue[]>();
    for (const t of this.#objects.values()) {
      if (t.current) cands.set(t.uid, { object: t.current, version: 'current', generation: t.generation });
      else {
        issues.set(t.uid, [...t.schemaIssues]);
        if (t.lastGood) cands.set(t.uid, { object: t.lastGood.object, version: 'previous', generation: t.lastGood.generation });
      }
    }
    this.#dedupeNames(cands, issues);
    const staticNames = new Set(this.#static.map((o) => `${o.kind}/${o.name}`));
    for (const [uid, c] of [...cands]) {
      if (!staticNames.has(`${c.object.kind}/${c.object.name}`)) continue;
      cands.delete(uid);
      issues.set(uid, [{ origin: c.object.origin, kind: c.object.kind, name: c.object.name, field: 'metadata.name', code: 'CONFIG_DUPLICATE', message: `a ${c.object.kind} with this name is defined in the config files, which take precedence` }]);
    }

    const check = (uid: string, c: Candidate, find: (c: Candidate) => readonly ConfigIssue[]) => {
      let found = find(c);
      if (found.length === 0) return;
      if (c.version === 'current') issues.set(uid, [...found]);
      const t = this.#objects.get(uid)!;
      if (c.version === 'current' && t.lastGood) {
        const previous: Candidate = { object: t.lastGood.object, version: 'previous', generation: t.lastGood.generation };
        found = find(previous);
        if (found.length === 0) { cands.set(uid, previous); return; }
      }
      cands.delete(uid);
    };

    for (const [uid, c] of [...cands]) if (c.object.kind !== 'ThreatPolicy') check(uid, c, (x) => this.#selfIssues(x.object, nowMs));
    const zonesByName = new Map<string, Array<IPZoneObject | DynamicZoneObject>>();
    for (const o of [...this.#static, ...[...cands.values()].map((c) => c.object)]) {
      if (o.kind === 'IPZone' || o.kind === 'DynamicZone') zonesByName.set(o.name, [...(zonesByName.get(o.name) ?? []), o]);
    }
    for (const [uid, c] of [...cands]) if (c.object.kind === 'ThreatPolicy') check(uid, c, (x) => policyIssues(x.object as ThreatPolicyObject, zonesByName, nowMs));
    const staticIssues: ConfigIssue[] = [];
    const staticPolicies = this.#static.filter((o): o is ThreatPolicyObject => o.kind === 'ThreatPolicy').filter((p) => {
      const found = policyIssues(p, zonesByName, nowMs);
      staticIssues.push(...found);
      return found.length === 0;
    });
    this.staticIssues = staticIssues;

    // compile() keeps one ThreatPolicy (the first by name) and reports the rest; hand it only that one.
    const policies: Array<[string, ConfigObject]> = [
      ...[...cands].filter(([, c]) => c.object.kind === 'ThreatPolicy').map(([uid, c]): [string, ConfigObject] => [uid, c.object]),
      ...staticPolicies.map((p, i): [string, ConfigObject] => [`static:${i}`, p]),
    ].sort(([, a], [, b]) => a.name.localeCompare(b.name) || (a.namespace ?? '').localeCompare(b.namespace ?? ''));
    const inForce = policies[0]?.[0];

    const out: ConfigObject[] = this.#static.filter((o) => o.kind !== 'ThreatPolicy');
    staticPolicies.forEach((p, i) => { if (inForce === `static:${i}`) out.push(p); });
    for (const t of this.#objects.values()) {
      const c = cands.get(t.uid);
      const isPolicy = t.kind === 'ThreatPolicy';
      if (c && (!isPolicy || t.uid === inForce)) out.push(c.object);
      if (c?.version === 'current') t.lastGood = { object: c.object, generation: c.generation };
      const zone = c?.object.kind === 'IPZone' ? c.object : undefined;
      t.verdict = {
        accepted: t.current !== undefined && !issues.has(t.uid),
        issues: issues.get(t.uid) ?? [],
        serving: c?.version ?? 'none',
        ...(c ? { servingGeneration: c.generation } : {}),
        ...(isPolicy ? { inForce: t.uid === inForce } : {}),
        ...(zone ? { gateways: zone.spec.gateways?.length ?? 0, proxies: zone.spec.proxies?.length ?? 0 } : {}),
      };
    }
    return out;
  }

  /** Names are unique per namespace only; zones are referred to by name, so across namespaces the oldest wins. */
  #dedupeNames(cands: Map<string, Candidate>, issues: Map<string, ConfigIssue[]>): void {
    const byName = new Map<string, Tracked[]>();
    for (const uid of cands.keys()) {
      const t = this.#objects.get(uid)!;
      const key = `${t.kind}/${t.raw.metadata.name}`;
      byName.set(key, [...(byName.get(key) ?? []), t]);
    }
    for (const group of byName.values()) {
      if (group.length < 2) continue;
      group.sort((a, b) => (a.raw.metadata.creationTimestamp ?? '').localeCompare(b.raw.metadata.creationTimestamp ?? '')
        || (a.raw.metadata.namespace ?? '').localeCompare(b.raw.metadata.namespace ?? ''));
      const [first, ...rest] = group;
      for (const t of rest) {
        cands.delete(t.uid);
        issues.set(t.uid, [{
          origin: { source: `kubernetes/${t.raw.metadata.namespace ?? ''}` }, kind: t.kind, name: t.raw.metadata.name, field: 'metadata.name', code: 'CONFIG_DUPLICATE',
          message: `a ${t.kind} with this name in namespace "${first!.raw.metadata.namespace ?? ''}" is older and is used; names must be unique across the watched namespaces`,
        }]);
      }
    }
  }

  #selfIssues(o: ConfigObject, nowMs: number): readonly ConfigIssue[] {
    let found = this.#checked.get(o);
    if (!found) {
      found = compile([o], 0, nowMs).issues;
      this.#checked.set(o, found);
    }
    return found;
  }
}

/** A policy's own problems: its routes, and the name and usage of every zone it exempts (IPZone entries not needed). */
function policyIssues(p: ThreatPolicyObject, zones: ReadonlyMap<string, ReadonlyArray<IPZoneObject | DynamicZoneObject>>, nowMs: number): readonly ConfigIssue[] {
  const named: ConfigObject[] = [];
  for (const name of new Set(p.spec.exemptZones ?? [])) {
    for (const z of zones.get(name) ?? []) named.push(z.kind === 'IPZone' ? { ...z, spec: { usage: z.spec.usage } } : z);
  }
  return compile([...named, p], 0, nowMs).issues;
}
