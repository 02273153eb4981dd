import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkEnvoyConfig, envoyPath } from './envoy-essentials.ts';
import { CHART, find, get, render, type K8sObject } from './helm.ts';
import { validateObjects } from './k8s-validate.ts';

const SIGN_IN = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')).signIn.routes.map(envoyPath);
const GATEWAY = ['--set', 'gateway.enabled=true', '--set', 'gateway.upstream.service=app'];
const containers = (objects: K8sObject[]) => (get(objects, 'Deployment', '-gateway').spec as any).template.spec.containers as any[];
const tokenEnv = (c: any) => (c.env ?? []).find((e: any) => e.name === 'PORTCULLIS_GRPC_TOKEN');
/** Both gRPC services of a rendered Envoy config: ext_authz and the access logger. */
function grpcServices(envoyYaml: string): any[] {
  const c = parse(envoyYaml);
  const hcm = c.static_resources.listeners.find((l: any) => l.name === 'ingress').filter_chains[0].filters[0].typed_config;
  return [hcm.http_filters.find((f: any) => f.name === 'envoy.filters.http.ext_authz').typed_config.grpc_service, hcm.access_log[0].typed_config.common_config.grpc_service];
}

describe('chart: the gRPC bearer token (grpcToken)', () => {
  it('off by default: no Secret, no token env, no initial_metadata, Portcullis on loopback', () => {
    const objects = render(GATEWAY);
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const c of containers(objects)) expect(tokenEnv(c), c.name).toBeUndefined();
    for (const s of grpcServices((get(objects, 'ConfigMap', '-envoy').data as any)['envoy.yaml'])) expect(s.initial_metadata).toBeUndefined();
    const portcullis = containers(objects).find((c) => c.name === 'portcullis');
    expect(portcullis.env.find((e: any) => e.name === 'PORTCULLIS_GRPC_ADDRESS').value).toBe('127.0.0.1:9001');
  });

  it('enabled: a generated Secret, read by Portcullis and by Envoy, which sends it on both gRPC services', async () => {
    const objects = render([...GATEWAY, '--set', 'grpcToken.enabled=true']);
    expect(await validateObjects(objects)).toEqual([]);
    const secret = get(objects, 'Secret', '-grpc-token');
    const token = Buffer.from((secret.data as any)['grpc-token'], 'base64').toString();
    expect(token).toMatch(/^[A-Za-z0-9]{48}$/);
    const [envoy, portcullis] = [containers(objects).find((c) => c.name === 'envoy'), containers(objects).find((c) => c.name === 'portcullis')];
    for (const c of [envoy, portcullis]) expect(tokenEnv(c).valueFrom.secretKeyRef).toEqual({ name: secret.metadata.name, key: 'grpc-token' });

    // The ConfigMap holds a placeholder, never the token; it is a valid Envoy bootstrap either way.
    const template = (get(objects, 'ConfigMap', '-envoy').data as any)['envoy.yaml'] as string;
    expect(template).not.toContain(token);
    checkEnvoyConfig(template, { failureModeAllow: true, signInPaths: SIGN_IN });

    // Run the Envoy container's own shell command (with `envoy` swapped for `cat`) on the ConfigMap's text.
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-envoy-'));
    try {
      expect(envoy.command).toEqual(['/bin/sh', '-c']);
      const script = (envoy.args[0] as string).replaceAll('/etc/envoy/', `${dir}/in-`).replace('/tmp/envoy.yaml', join(dir, 'out.yaml')).replace(/exec envoy .*$/, `cat ${join(dir, 'out.yaml')}`);
      writeFileSync(join(dir, 'in-envoy.yaml'), template);
      const rendered = execFileSync('/bin/sh', ['-c', script], { env: { PATH: process.env.PATH, PORTCULLIS_GRPC_TOKEN: token }, encoding: 'utf8' });
      checkEnvoyConfig(rendered, { failureModeAllow: true, signInPaths: SIGN_IN });
      for (const s of grpcServices(rendered)) expect(s.initial_metadata).toEqual([{ key: 'authorization', value: `Bearer ${token}` }]);
      expect(envoy.args[0]).toMatch(/exec envoy --config-path \/tmp\/envoy\.yaml --log-level info --disable-hot-restart$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('existingSecret: no Secret rendered, both containers read the one named', () => {
    const objects = render([...GATEWAY, '--set', 'grpcToken.enabled=true', '--set', 'grpcToken.existingSecret=mine', '--set', 'grpcToken.existingSecretKey=token']);
    expect(find(objects, 'Secret')).toBeUndefined();
    for (const c of containers(objects)) expect(tokenEnv(c).valueFrom.secretKeyRef, c.name).toEqual({ name: 'mine', key: 'token' });
  });

  it('the sidecar Envoy ConfigMap carries the placeholder too', () => {
    const objects = render(['--set', 'sidecar.envoyConfig=true', '--set', 'grpcToken.enabled=true']);
    for (const s of grpcServices((get(objects, 'ConfigMap', '-sidecar-envoy').data as any)['envoy.yaml'])) {
      expect(s.initial_metadata).toEqual([{ key: 'authorization', value: 'Bearer @PORTCULLIS_GRPC_TOKEN@' }]);
    }
  });
});
