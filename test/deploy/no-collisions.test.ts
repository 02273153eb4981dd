import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

// Every Kubernetes object shipped under deploy/ is meant to be applied as it is, often several files together
// (the gateway manifests, the HTTP-mode add-on, RBAC, CRDs, monitoring). Two files defining the same object
// would silently overwrite each other on `kubectl apply`, so each object (API group, kind, namespace, name)
// may be defined once. Envoy bootstraps, values files and promtool tests are YAML but not objects: skipped.
function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return yamlFiles(p);
    return /\.ya?ml$/.test(e.name) ? [p] : [];
  });
}

interface Found { readonly file: string; readonly object: string; readonly namespace: string | undefined }

/** Objects a file defines: group/kind/name, and the namespace when the file names one. */
function objectsIn(file: string, text: string): Found[] {
  return parseAllDocuments(text).flatMap((d) => {
    if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
    const o = d.toJS() as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    if (!o || typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') return [];
    const group = o.apiVersion.includes('/') ? o.apiVersion.slice(0, o.apiVersion.lastIndexOf('/')) : 'core';
    return [{ file, object: `${group}/${o.kind}/${String(o.metadata?.name)}`, namespace: typeof o.metadata?.namespace === 'string' ? o.metadata.namespace : undefined }];
  });
}

/**
 * Pairs of files that define one object: same group/kind/name and the same namespace, a missing one counting as
 * its own value (kubectl's current or -n namespace). Namespace-less files are meant for the namespace of the pods
 * they serve (deploy/rbac: `kubectl apply -n <app namespace>`), so they are not matched against every namespace.
 */
function collisions(found: readonly Found[]): string[] {
  const out: string[] = [];
  found.forEach((a, i) => {
    for (const b of found.slice(i + 1)) {
      if (a.object === b.object && a.namespace === b.namespace && a.file !== b.file) out.push(`${a.object} (namespace ${a.namespace ?? 'of kubectl'}): ${a.file}, ${b.file}`);
    }
  });
  return out;
}

describe('shipped manifests', () => {
  const files = yamlFiles('deploy');
  const found = files.flatMap((f) => objectsIn(relative('.', f), readFileSync(f, 'utf8')));

  it('no two define the same object', () => {
    expect(found.length, 'objects were found at all').toBeGreaterThan(20);
    expect(collisions(found)).toEqual([]);
  });

  it('the check sees a collision across files, also between API versions of one group', () => {
    const a = objectsIn('a.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x, namespace: n }\n---\nkind: NotAnObject\n');
    const b = objectsIn('b.yaml', 'apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: { name: x, namespace: n }\n---\nstatic_resources: {}\n');
    const other = objectsIn('c.yaml', 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x, namespace: m }\n');
    expect(collisions([...a, ...b, ...other])).toEqual(['apps/Deployment/x (namespace n): a.yaml, b.yaml']);
    const unnamespaced = (f: string) => objectsIn(f, 'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: x }\n');
    expect(collisions([...unnamespaced('d.yaml'), ...unnamespaced('e.yaml')])).toEqual(['core/ServiceAccount/x (namespace of kubectl): d.yaml, e.yaml']);
  });
});
