import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { envoyValidator } from '../../deploy/envoy-essentials.ts';
import { validateObjects } from '../../deploy/k8s-validate.ts';
import type { K8sObject } from '../../deploy/helm.ts';
import { NGINX_BIN } from '../../helpers/nginx.ts';

// The copy-paste configs in deploy/proxies, checked with the tools at hand: Kubernetes schemas, Envoy's protos,
// and `nginx -t` (Traefik, Caddy and Envoy binaries are not installed here; their conventions are tested against
// the endpoint in decision-server.test.ts).
const DIR = 'deploy/proxies';

describe('deploy/proxies configs', () => {
  it.each(['authz.yaml', 'ingress-nginx/configmap.yaml', 'ingress-nginx/ingress.yaml'])('%s: valid Kubernetes objects', async (file) => {
    const objects = parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => d.toJSON() as K8sObject);
    expect(await validateObjects(objects)).toEqual([]);
  });

  it('authz.yaml adds to deploy/manifests/portcullis.yaml: what its pods use is among that file\'s shared objects', () => {
    const load = (f: string) => parseAllDocuments(readFileSync(f, 'utf8')).map((d) => d.toJSON() as K8sObject).filter(Boolean);
    const authz = load(join(DIR, 'authz.yaml'));
    // What `kubectl apply -l '!app.kubernetes.io/component'` keeps (authz.yaml's header): no component label.
    const shared = load('deploy/manifests/portcullis.yaml').filter((o) => !o.metadata.labels?.['app.kubernetes.io/component']);
    expect(shared.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(['ConfigMap/portcullis-config', 'ServiceAccount/portcullis']);
    const pod = (authz.find((o) => o.kind === 'Deployment')!.spec as any).template.spec;
    expect(shared).toContainEqual(expect.objectContaining({ kind: 'ServiceAccount', metadata: expect.objectContaining({ name: pod.serviceAccountName, namespace: 'portcullis' }) }));
    for (const v of pod.volumes) if (v.configMap) expect(shared.map((o) => o.kind === 'ConfigMap' && o.metadata.name)).toContain(v.configMap.name);
    // The proxies' configs point at the Service it defines.
    const svc = authz.find((o) => o.kind === 'Service')!;
    const host = `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`;
    const ports = (svc.spec as any).ports.map((p: any) => p.port);
    for (const f of ['caddy/Caddyfile', 'traefik/middleware.yaml', 'ingress-nginx/ingress.yaml', 'ingress-nginx/configmap.yaml']) {
      const text = readFileSync(join(DIR, f), 'utf8');
      const refs = [...text.matchAll(/\bportcullis-[a-z-]+\.portcullis\.svc\.cluster\.local(?::(\d+))?/g)];
      expect(refs.length, f).toBeGreaterThan(0);
      for (const [ref, port] of refs) {
        expect(ref.split(':')[0], f).toBe(host);
        if (port) expect(ports, `${f}: ${ref}`).toContain(Number(port));
      }
    }
  });

  it('envoy/http-service.yaml: filters and cluster are valid Envoy config, pointing at the Envoy convention', () => {
    const c = parse(readFileSync(join(DIR, 'envoy/http-service.yaml'), 'utf8'));
    for (const f of c.http_filters) expect(envoyValidator().validate('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', f)).toEqual([]);
    for (const cl of c.clusters) expect(envoyValidator().validate('envoy.config.cluster.v3.Cluster', cl)).toEqual([]);
    expect(c.http_filters[0].typed_config.http_service.path_prefix).toBe('/auth/envoy');
  });

  it('nginx/nginx.conf with the shipped snippets passes nginx -t', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-nginx-t-'));
    try {
      const conf = readFileSync(join(DIR, 'nginx/nginx.conf'), 'utf8')
        .replaceAll('/etc/nginx/portcullis/', `${resolve(DIR, 'nginx')}/`)
        .replace('listen 80;', 'listen 127.0.0.1:1;');
      writeFileSync(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\n${conf}`);
      const r = spawnSync(NGINX_BIN, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { encoding: 'utf8' });
      expect(r.stderr).toMatch(/syntax is ok/);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ingress-nginx and plain nginx log the same JSON fields', () => {
    const ingress = parse(readFileSync(join(DIR, 'ingress-nginx/configmap.yaml'), 'utf8')).data['log-format-upstream'] as string;
    const plain = /log_format portcullis_json escape=json '([^']+)'/.exec(readFileSync(join(DIR, 'nginx/portcullis.http.conf'), 'utf8'))![1]!;
    expect(ingress.replace('$req_id', '$request_id')).toBe(plain);
  });
});
