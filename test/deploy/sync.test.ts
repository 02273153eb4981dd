import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { SETTING_FLAGS } from '../../src/settings.ts';
import { chartSync, documentedValues } from '../../scripts/chart-sync.ts';
import { HELM } from '../../scripts/helm.mjs';
import { CHART, get, helm, parseObjects, render } from './helm.ts';
import { validateObjects } from './k8s-validate.ts';

describe('single sources', () => {
  it('the chart and the plain deploy/ files match their sources (npm run chart:sync)', () => {
    expect(chartSync(true), 'stale: run npm run chart:sync').toEqual([]);
  });

  it('the chart carries exactly the CRDs in deploy/crds (Helm installs them from crds/)', () => {
    const list = (d: string) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.yaml')).sort() : []);
    expect(list(join(CHART, 'crds'))).toEqual(list('deploy/crds'));
    for (const f of list('deploy/crds')) expect(readFileSync(join(CHART, 'crds', f), 'utf8'), f).toBe(readFileSync(join('deploy/crds', f), 'utf8'));
  });

  it('every key in values.yaml is documented, and the README table lists it', () => {
    const { rows, undocumented } = documentedValues(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    expect(undocumented).toEqual([]);
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    for (const r of rows) expect(readme).toContain(`| \`${r.key}\` |`);
  });

  it('every PORTCULLIS_* variable the chart sets is a setting', () => {
    const known = new Set<string>(Object.values(SETTING_FLAGS).map((s) => s.env));
    const set = new Set<string>();
    for (const file of ['kubernetes-values.yaml', 'redis-values.yaml', 'authz-values.yaml']) {
      for (const o of render(['-f', join(CHART, 'ci', file)]).filter((x) => x.kind === 'Deployment')) {
        for (const c of (o.spec as any).template.spec.containers) for (const e of c.env ?? []) if (e.name.startsWith('PORTCULLIS_')) set.add(e.name);
      }
    }
    expect([...set].filter((n) => !known.has(n))).toEqual([]);
  });
});

describe('the named templates work from a user\'s own chart', () => {
  it('renders app + Envoy + Portcullis in one pod, with ConfigMaps the dependency provides', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-consumer-'));
    try {
      cpSync('test/deploy/fixtures/consumer-chart', dir, { recursive: true });
      const chartYaml = join(dir, 'Chart.yaml');
      writeFileSync(chartYaml, readFileSync(chartYaml, 'utf8').replace('file://../../../../charts/portcullis', `file://${resolve(CHART)}`));
      const dep = helm(['dependency', 'update', dir]);
      expect(dep.code, dep.stderr).toBe(0);
      const r = helm(['template', 'shop', dir, '--namespace', 'shop']);
      expect(r.code, r.stderr).toBe(0);
      const objects = parseObjects(r.stdout);
      expect(await validateObjects(objects)).toEqual([]);
      const pod = (get(objects, 'Deployment', '-my-app').spec as any).template.spec;
      expect(pod.containers.map((c: { name: string }) => c.name)).toEqual(['app', 'envoy', 'portcullis']);
      const configMaps = new Set(objects.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name));
      for (const v of pod.volumes) if (v.configMap) expect(configMaps, v.configMap.name).toContain(v.configMap.name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docs/deploy.md examples', () => {
  const blocks = [...readFileSync('docs/deploy.md', 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

  it('Kubernetes objects are valid (Deployment, ServiceEntry, AuthorizationPolicy, Telemetry)', async () => {
    const objects = blocks.filter((b) => /^apiVersion:/m.test(b)).flatMap((b) => parseAllDocuments(b).map((d) => d.toJS()));
    expect(objects.map((o) => o.kind).sort()).toEqual(['AuthorizationPolicy', 'Deployment', 'ServiceEntry', 'Telemetry']);
    expect(await validateObjects(objects)).toEqual([]);
  });

  it('the Istio extension providers use MeshConfig field names', () => {
    const mesh = parse(blocks.find((b) => b.startsWith('meshConfig:'))!).meshConfig;
    // Field names of istio.mesh.v1alpha1.MeshConfig.ExtensionProvider (EnvoyExternalAuthorizationGrpcProvider, EnvoyHttpGrpcV3LogProvider).
    const fields: Record<string, string[]> = {
      envoyExtAuthzGrpc: ['service', 'port', 'timeout', 'failOpen', 'statusOnError', 'includeRequestBodyInCheck', 'clearRouteCache', 'pathPrefix'],
      envoyHttpAls: ['service', 'port', 'logName', 'filterStateObjectsToLog', 'additionalRequestHeadersToLog', 'additionalResponseHeadersToLog', 'additionalResponseTrailersToLog'],
    };
    for (const p of mesh.extensionProviders) {
      const [kind, ...more] = Object.keys(p).filter((k) => k !== 'name');
      expect(more).toEqual([]);
      for (const k of Object.keys(p[kind!])) expect(fields[kind!], `${kind}.${k}`).toContain(k);
    }
    expect(Object.keys(mesh.extensionProviders[0].envoyExtAuthzGrpc.includeRequestBodyInCheck).sort()).toEqual(['allowPartialMessage', 'maxRequestBytes']);
  });
});

describe('the image', () => {
  const dockerfile = readFileSync('deploy/Dockerfile', 'utf8');

  it('builds on a Node LTS slim image, compiles in a build stage, ships runtime dependencies only, and runs serve as a non-root user', () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)\.\d+\.\d+-[\w-]*slim$/m.exec(dockerfile);
    expect(image, 'a slim node image').not.toBeNull();
    expect(Number(image![1]) % 2, 'LTS lines are even').toBe(0);
    expect(Number(image![1])).toBeGreaterThanOrEqual(22);
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(/^USER (\d+)(:\d+)?$/m.exec(dockerfile)?.[1]).toBe('1000');
    // The compiled build, with no TypeScript loader: only dist/ leaves the build stage, and src/ is not copied.
    expect(dockerfile).toMatch(/^FROM \$\{NODE_IMAGE\} AS build$[\s\S]*^RUN npm run build$/m);
    expect(dockerfile).toContain('COPY --from=build /app/dist ./dist');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).not.toMatch(/^COPY (\S+ )*src\b/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "dist/cli/bin.js"]');
    expect(dockerfile).toMatch(/^CMD \["serve"/m);
  });

  it('copies what the process reads at run time, and the build context leaves the rest out', () => {
    for (const [, src] of dockerfile.matchAll(/^COPY (?!--from)(\S+)/gm)) expect(existsSync(src!), src).toBe(true);
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n');
    for (const p of ['.git', 'node_modules', 'test']) expect(ignore).toContain(p);
    const codegen = JSON.parse(readFileSync('proto/codegen.json', 'utf8'));
    expect(codegen.includeDirs.length).toBeGreaterThan(0); // protos are read from node_modules at run time: a runtime dependency
    expect(JSON.parse(readFileSync('package.json', 'utf8')).dependencies['@grpc/grpc-js-xds']).toBeDefined();
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.dependencies.tsx, 'no TypeScript loader among the runtime dependencies').toBeUndefined();
    expect(pkg.devDependencies.tsx, 'bin/portcullis.js runs the sources through tsx in a checkout').toBeDefined();
    expect(pkg.scripts.start).toBe('node dist/cli/bin.js serve --config deploy/examples');
  });
});

describe('tools', () => {
  it('the pinned helm is the version scripts/helm.mjs promises', () => {
    expect(helm(['version', '--short']).stdout).toContain(HELM.helmVersion);
  });
});
