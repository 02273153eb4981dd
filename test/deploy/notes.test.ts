import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHART, dryRunInstall, type K8sObject } from './helm.ts';

// NOTES.txt is what a user reads right after `helm install`: every object it names must be one the install made,
// and every address it gives must be a port of that Service. Checked for every values file the chart ships.
const FILES = ['ci', 'examples'].flatMap((d) => readdirSync(join(CHART, d)).filter((f) => f.endsWith('-values.yaml')).map((f) => `${d}/${f}`)).sort();

function servicePorts(objects: readonly K8sObject[], name: string): number[] | undefined {
  const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === name);
  return svc ? (svc.spec as { ports: { port: number }[] }).ports.map((p) => p.port) : undefined;
}

describe('NOTES.txt names only what was rendered', () => {
  it.each(FILES)('%s', (file) => {
    const { objects, notes } = dryRunInstall(['-f', join(CHART, file)]);
    expect(notes.length).toBeGreaterThan(0);
    const names = new Set(objects.map((o) => o.metadata.name));
    // Every release-prefixed name in the text is a rendered object.
    for (const [name] of notes.matchAll(/\bdemo-portcullis(?:-[a-z0-9]+)*/g)) expect(names, `NOTES mentions ${name}`).toContain(name);
    // kubectl targets: svc/<name> must be a rendered Service.
    for (const [, name] of notes.matchAll(/\bsvc\/([a-z0-9-]+)/g)) expect(servicePorts(objects, name!), `NOTES points at svc/${name}`).toBeDefined();
    // In-cluster addresses: <service>.<namespace>.svc[.<domain>]:<port> must be a port of that Service.
    for (const [, name, port] of notes.matchAll(/\b([a-z0-9-]+)\.shop\.svc(?:\.[a-z.]+)?:(\d+)/g)) expect(servicePorts(objects, name!), `${name}:${port}`).toContain(Number(port));
    // port-forward <target> <port>: the Service (or pod) must expose that port.
    for (const [, target, port] of notes.matchAll(/port-forward (svc\/[a-z0-9-]+|pod\/<[^>]+>) (\d+)/g)) {
      if (target!.startsWith('svc/')) expect(servicePorts(objects, target!.slice(4)), `port-forward ${target} ${port}`).toContain(Number(port));
    }
  });

  it('tells each mode what to do next, and nothing about modes that are off', () => {
    const gateway = dryRunInstall(['-f', join(CHART, 'ci/gateway-values.yaml')]).notes;
    expect(gateway).toMatch(/send sign-in traffic to the Service svc\/demo-portcullis-gateway/);
    expect(gateway).not.toMatch(/HTTP mode|Sidecars:/);
    expect(gateway, 'trusted proxies are set in this file').not.toMatch(/WARNING/);

    const authz = dryRunInstall(['-f', join(CHART, 'examples/ingress-nginx-values.yaml')]).notes;
    expect(authz).toContain('nginx.ingress.kubernetes.io/auth-url: "http://demo-portcullis-authz.shop.svc.cluster.local:9002/auth/ingress-nginx"');
    expect(authz).toMatch(/as syslog over UDP or TCP to\n\s+demo-portcullis-authz\.shop\.svc\.cluster\.local:5514/);
    expect(authz).not.toMatch(/Gateway:|Sidecars:|svc\/demo-portcullis-metrics/);

    const sidecar = dryRunInstall(['-f', join(CHART, 'ci/sidecar-values.yaml')]).notes;
    expect(sidecar).toMatch(/Sidecars: your pods mount the ConfigMaps demo-portcullis-config/);
    expect(sidecar).toMatch(/port-forward pod\/<one of your pods> 9090/);
    expect(sidecar, 'no Service was rendered to point at').not.toMatch(/svc\//);

    const blind = dryRunInstall(['--set', 'gateway.enabled=true', '--set', 'gateway.upstream.service=my-app']).notes;
    expect(blind).toMatch(/WARNING: config\.trustedProxies is empty/);
  });
});
