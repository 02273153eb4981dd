import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { run, type CelInput } from '@bufbuild/cel';
import { Ajv } from 'ajv';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/config/compile.ts';
import { loadPaths } from '../../../src/sources/files.ts';
import { renderCrds } from '../../../src/sources/kubernetes/crd.ts';
import { RESOURCES } from '../../../src/sources/kubernetes/resources.ts';
import { API_VERSION, CRD_HINTS, KINDS, SPEC_SCHEMAS, type Kind } from '../../../src/api/schema.ts';
import { validateObject } from '../../../src/config/validate.ts';
import { FEED_FORMATS } from '../../../src/feeds/formats/index.ts';
import { FakeApiServer } from '../../helpers/fake-apiserver.ts';

type Doc = { apiVersion?: string; kind?: string; metadata?: { name?: string }; spec?: unknown };
const yamlDocs = (text: string): Doc[] => parseAllDocuments(text).map((d) => d.toJS() as Doc).filter(Boolean);
const crds = new Map([...renderCrds()].map(([file, text]) => [file, yamlDocs(text)[0] as Record<string, any>]));
const crdOf = (kind: Kind) => crds.get(`portcullis.dev_${RESOURCES[kind].plural}.yaml`)!;
const openApi = (kind: Kind) => crdOf(kind).spec.versions[0].schema.openAPIV3Schema;

/** Every Portcullis object written down in the repo: example files and YAML blocks in the docs. */
function exampleManifests(): Array<{ where: string; doc: Doc }> {
  const out: Array<{ where: string; doc: Doc }> = [];
  for (const f of readdirSync('deploy/examples')) for (const doc of yamlDocs(readFileSync(join('deploy/examples', f), 'utf8'))) out.push({ where: `deploy/examples/${f}`, doc });
  for (const md of ['README.md', ...readdirSync('docs').map((f) => `docs/${f}`)]) {
    for (const m of readFileSync(md, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)) {
      for (const doc of yamlDocs(m[1]!)) if (doc.apiVersion === API_VERSION) out.push({ where: md, doc });
    }
  }
  return out;
}

const toCel = (v: unknown): unknown => (Array.isArray(v) ? v.map(toCel) : v && typeof v === 'object' ? new Map(Object.entries(v).map(([k, x]) => [k, toCel(x)])) : v);
const celFailures = (kind: Kind, spec: unknown) => CRD_HINTS[kind].specRules.filter((r) => run(r.rule, { self: toCel(spec) as CelInput }) !== true).map((r) => r.message);

/** What `portcullis check-config` says about one object on its own: schema, then compile (other objects it names aside). */
function runtimeAccepts(doc: Doc): boolean {
  const r = validateObject(doc, { source: 'test' });
  return 'object' in r && compile([r.object], 1, 0).issues.filter((i) => !i.field?.startsWith('spec.exemptZones')).length === 0;
}

describe('generated CRDs', () => {
  it('deploy/crds matches a fresh `npm run crds` (regenerate when this fails)', () => {
    const onDisk = readdirSync('deploy/crds').filter((f) => f.startsWith('portcullis.dev_')).sort();
    expect(onDisk).toEqual([...renderCrds().keys()].sort());
    for (const [file, text] of renderCrds()) expect(readFileSync(join('deploy/crds', file), 'utf8'), file).toBe(text);
  });

  it('are structural: every node typed, no additionalProperties:false, no const, list-map keys required', () => {
    const problems: string[] = [];
    const walk = (s: Record<string, any>, path: string, inLogic = false) => {
      if (!inLogic && !s.type && !s['x-kubernetes-int-or-string'] && !s['x-kubernetes-preserve-unknown-fields']) problems.push(`${path}: no type`);
      if (s.additionalProperties === false) problems.push(`${path}: additionalProperties false`);
      for (const k of ['const', '$ref', 'if', 'then', 'else', 'patternProperties']) if (k in s) problems.push(`${path}: ${k}`);
      if (s['x-kubernetes-list-type'] === 'map') for (const key of s['x-kubernetes-list-map-keys']) if (!s.items.required?.includes(key)) problems.push(`${path}: map key ${key} not required`);
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v as Record<string, any>, `${path}.${k}`);
      if (s.items) walk(s.items, `${path}[]`);
      for (const k of ['anyOf', 'oneOf', 'allOf']) for (const sub of s[k] ?? []) {
        // Inside logical junctors only value validations are allowed: no types, no new properties.
        if (sub.type || sub.properties || sub.items) problems.push(`${path}.${k}: declares structure`);
        walk(sub, `${path}.${k}`, true);
      }
    };
    for (const kind of KINDS) walk(openApi(kind), kind);
    expect(problems).toEqual([]);
  });

  it('declare names, short names, the status subresource, printer columns and CEL rules', () => {
    for (const kind of KINDS) {
      const crd = crdOf(kind);
      expect(crd.metadata.name).toBe(`${RESOURCES[kind].plural}.portcullis.dev`);
      expect(crd.spec.names.shortNames).toEqual(CRD_HINTS[kind].shortNames);
      expect(crd.spec.scope).toBe('Namespaced');
      expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
      expect(crd.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name)).toContain('Ready');
      expect(openApi(kind).properties.status.properties.conditions.items.properties.status.enum).toEqual(['True', 'False', 'Unknown']);
    }
    expect(openApi('IPZone').properties.spec['x-kubernetes-validations']).toHaveLength(1);
    expect(openApi('ThreatPolicy').properties.spec.properties.action.default).toBe('Audit');
  });

  it('every default value is valid against its own schema', () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    const walk = (s: Record<string, any>) => {
      if ('default' in s) expect(ajv.validate({ ...s, default: undefined }, s.default), JSON.stringify(s)).toBe(true);
      for (const v of Object.values(s.properties ?? {})) walk(v as Record<string, any>);
      if (s.items) walk(s.items);
    };
    for (const kind of KINDS) walk(openApi(kind));
  });

  it('the feed format enum is the feed parsers list', () => {
    expect((SPEC_SCHEMAS.ThreatFeed as any).properties.format.enum).toEqual([...FEED_FORMATS]);
  });
});

describe('example manifests', () => {
  const examples = exampleManifests();
  it('exist', () => expect(examples.length).toBeGreaterThanOrEqual(5));

  it('validate against the generated CRD schema and its CEL rules, and pass the runtime validator', () => {
    const ajv = new Ajv({ strict: false, validateFormats: false });
    for (const { where, doc } of examples) {
      const kind = doc.kind as Kind;
      expect(KINDS, where).toContain(kind);
      const ok = ajv.validate(openApi(kind), doc);
      expect(ok, `${where} ${kind}/${doc.metadata?.name}: ${ajv.errorsText()}`).toBe(true);
      expect(celFailures(kind, doc.spec), where).toEqual([]);
      expect(runtimeAccepts(doc), where).toBe(true);
    }
  });
});

describe('CEL rules agree with the runtime validator', () => {
  const bad = loadPaths(['test/fixtures/config/bad']);
  const samples: Array<{ kind: Kind; spec: unknown; runtimeOk: boolean }> = [
    ...[...bad.objects, ...loadPaths(['deploy/examples']).objects].map((o) => ({ kind: o.kind, spec: o.spec, runtimeOk: runtimeAccepts({ apiVersion: API_VERSION, kind: o.kind, metadata: { name: o.name }, spec: o.spec }) })),
    { kind: 'IPZone', spec: { usage: 'Blocklist', proxies: [] }, runtimeOk: true },
    { kind: 'IPZone', spec: { usage: 'Blocklist', proxies: ['10.0.0.1'] }, runtimeOk: false },
    { kind: 'DynamicZone', spec: { usage: 'Blocklist' }, runtimeOk: false },
    { kind: 'DynamicZone', spec: { usage: 'Blocklist', proxyType: 'Tor' }, runtimeOk: true },
    { kind: 'DynamicZone', spec: { usage: 'Policy', asns: [64496] }, runtimeOk: true },
  ];

  it('a rule never refuses what check-config accepts', () => {
    for (const s of samples) if (s.runtimeOk) expect(celFailures(s.kind, s.spec), JSON.stringify(s.spec)).toEqual([]);
  });

  it('each rule refuses what it restates (proxies only on Policy zones; dynamic zones need a criterion)', () => {
    expect(celFailures('IPZone', { usage: 'Blocklist', proxies: ['10.0.0.1'] })).toHaveLength(1);
    const fixture = bad.objects.find((o) => o.name === 'proxies-on-blocklist' || (o.kind === 'IPZone' && o.spec.usage === 'Blocklist' && (o.spec.proxies?.length ?? 0) > 0));
    expect(fixture).toBeDefined();
    expect(celFailures('IPZone', fixture!.spec)).toEqual([CRD_HINTS.IPZone.specRules[0]!.message]);
    expect(celFailures('DynamicZone', { usage: 'Policy' })).toHaveLength(1);
    for (const s of samples) expect(runtimeAccepts({ apiVersion: API_VERSION, kind: s.kind, metadata: { name: 'x' }, spec: s.spec }), JSON.stringify(s.spec)).toBe(s.runtimeOk);
  });
});

describe('kubectl', () => {
  it('reads the CRDs, RBAC and examples as Kubernetes objects (client dry run against the fake API server)', async () => {
    const server = await FakeApiServer.start({ token: undefined });
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-kubectl-'));
    try {
      const kubeconfig = server.writeKubeconfig(dir);
      const files = ['deploy/crds', 'deploy/rbac', 'deploy/rbac/cluster-wide', 'deploy/examples'];
      // --validate=false: kubectl's schema validation needs the real server's OpenAPI documents, which the fake lacks.
      const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', kubeconfig, 'create', '--dry-run=client', '--validate=false', '-o', 'yaml', ...files.flatMap((f) => ['-f', f])], { maxBuffer: 1 << 26 });
      const out = yamlDocs(stdout);
      const kinds = out.map((d) => `${d.kind}/${d.metadata?.name}`);
      for (const kind of KINDS) expect(kinds).toContain(`CustomResourceDefinition/${RESOURCES[kind].plural}.portcullis.dev`);
      for (const k of ['Role/portcullis', 'RoleBinding/portcullis', 'ServiceAccount/portcullis', 'ClusterRole/portcullis', 'IPZone/office', 'ThreatPolicy/default']) expect(kinds).toContain(k);
      // Nothing was lost on the way through kubectl's decoder.
      for (const kind of KINDS) expect(out.find((d) => d.metadata?.name === `${RESOURCES[kind].plural}.portcullis.dev`)).toEqual(crdOf(kind));
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
