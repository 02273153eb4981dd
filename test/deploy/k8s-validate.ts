import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import ts from 'typescript';
import { parse } from 'yaml';
import type { K8sObject } from './helm.ts';

/**
 * Validates Kubernetes objects offline, as close to the API server as we can get without one (kubectl's
 * --dry-run=client needs a server for discovery): the OpenAPI schemas of kubernetes-models (types, formats,
 * enums, required fields), TypeScript excess-property checks against the same models (unknown fields, which the
 * API server's strict field validation rejects), and portcullis.dev objects against our CRDs' schemas.
 */

interface Kind { module: string; type: string }

const GROUPS: Record<string, string> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'policy/v1': 'kubernetes-models/policy/v1',
  'networking.k8s.io/v1': 'kubernetes-models/networking.k8s.io/v1',
  'rbac.authorization.k8s.io/v1': 'kubernetes-models/rbac.authorization.k8s.io/v1',
  'apiextensions.k8s.io/v1': 'kubernetes-models/apiextensions.k8s.io/v1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
  'security.istio.io/v1': '@kubernetes-models/istio/security.istio.io/v1',
  'networking.istio.io/v1': '@kubernetes-models/istio/networking.istio.io/v1',
  'telemetry.istio.io/v1': '@kubernetes-models/istio/telemetry.istio.io/v1',
};

function kindOf(o: K8sObject): Kind | undefined {
  const base = GROUPS[o.apiVersion];
  return base ? { module: `${base}/${o.kind}`, type: `I${o.kind}` } : undefined;
}

const crdValidators = new Map<string, (o: unknown) => string | undefined>();

function crdValidator(o: K8sObject): ((o: unknown) => string | undefined) | undefined {
  if (crdValidators.size === 0) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    const dir = resolve('deploy/crds');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
      const crd = parse(readFileSync(join(dir, f), 'utf8'));
      for (const v of crd.spec.versions) {
        const check = ajv.compile(v.schema.openAPIV3Schema);
        crdValidators.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, (x) => (check(x) ? undefined : ajv.errorsText(check.errors)));
      }
    }
  }
  return crdValidators.get(`${o.apiVersion}/${o.kind}`);
}

/** Problems per object, as "Kind/name: message". Unknown kinds are reported, never skipped silently. */
export async function validateObjects(objects: readonly K8sObject[]): Promise<string[]> {
  const issues: string[] = [];
  const typed: { o: K8sObject; k: Kind }[] = [];
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata?.name}`;
    if (o.apiVersion.startsWith('portcullis.dev/')) {
      const check = crdValidator(o);
      const problem = check ? check(o) : 'no CRD for this kind in deploy/crds';
      if (problem) issues.push(`${id}: ${problem}`);
      continue;
    }
    const k = kindOf(o);
    if (!k) {
      issues.push(`${id}: no schema known for ${o.apiVersion}`);
      continue;
    }
    const mod = (await import(k.module)) as Record<string, new (d: unknown) => { validate(): void }>;
    const Model = mod[o.kind];
    if (!Model) {
      issues.push(`${id}: ${k.module} exports no ${o.kind}`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (err) {
      issues.push(`${id}: ${(err as Error).message}`);
    }
    typed.push({ o, k });
  }
  issues.push(...unknownFields(typed));
  return issues;
}

/** One `const oN: IKind = {...}` per line, type-checked: excess properties are unknown fields. */
function unknownFields(items: readonly { o: K8sObject; k: Kind }[]): string[] {
  if (items.length === 0) return [];
  const dir = resolve('node_modules/.cache/portcullis-k8s-check');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `check-${process.pid}-${Date.now()}.mts`);
  const imports = [...new Map(items.map(({ k }) => [k.module, `import type { ${k.type} } from '${k.module}';`])).values()];
  const lines = [...imports, ...items.map(({ o, k }, i) => `export const o${i}: ${k.type} = ${JSON.stringify(o)};`)];
  writeFileSync(file, `${lines.join('\n')}\n`);
  const program = ts.createProgram([file], {
    strict: true, noEmit: true, skipLibCheck: true, types: [],
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  rmSync(file, { force: true });
  return diagnostics.map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const item = items[line - imports.length];
    const id = item ? `${item.o.kind}/${item.o.metadata.name}` : (d.file?.fileName ?? 'program');
    return `${id}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
