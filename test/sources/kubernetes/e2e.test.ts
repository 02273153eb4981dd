import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPortcullis, type Running } from '../../../src/main.ts';
import { readSettings } from '../../../src/settings.ts';
import { MemoryEventSink } from '../../../src/telemetry/events.ts';
import { envoyCheckRequest } from '../../helpers/envoy-request.ts';
import { FakeApiServer } from '../../helpers/fake-apiserver.ts';
import { AuthzClient } from '../../helpers/grpc-client.ts';
import { condition, ipzone, NS, object, policy, until } from './harness.ts';

let server: FakeApiServer;
let running: Running;
let client: AuthzClient;
let dir: string;

beforeAll(async () => {
  server = await FakeApiServer.start({ bookmarkMs: 500 });
  dir = mkdtempSync(join(tmpdir(), 'portcullis-e2e-'));
  // As the Helm chart does: trusted proxies in a mounted file, everything else from the API server.
  const files = join(dir, 'config');
  mkdirSync(files);
  writeFileSync(join(files, 'proxies.yaml'), 'apiVersion: portcullis.dev/v1alpha1\nkind: IPZone\nmetadata: { name: load-balancer }\nspec: { usage: Policy, proxies: [10.0.0.0/16] }\n');
  const settings = readSettings({
    'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '127.0.0.1:0', 'drain-seconds': '1',
    'config-source': 'kubernetes', kubeconfig: server.writeKubeconfig(dir, NS), config: [files],
  }, {});
  running = await startPortcullis(settings, { logger: pino({ level: 'silent' }), events: new MemoryEventSink() });
  client = new AuthzClient(`127.0.0.1:${running.grpcPort}`);
});

afterAll(async () => {
  client?.close();
  await running?.stop();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const attacker = () => client.check(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } }));

describe('end to end: kubectl apply → Portcullis gRPC Check', () => {
  it('is ready once the API server has been listed, with the pod namespace from the kubeconfig', async () => {
    expect(running.holder.ready).toBe(true);
    expect(running.kubernetes?.ready).toBe(true);
    const ready = await fetch(`http://127.0.0.1:${running.httpPort}/readyz`);
    expect(ready.status).toBe(200);
    expect((await attacker()).status?.code ?? 0).toBe(0);
  });

  it('a Blocklist IPZone created through the API server denies the client within a second', async () => {
    // POSTed over HTTP exactly as kubectl would.
    const t0 = performance.now();
    const res = await fetch(`${server.url}/apis/portcullis.dev/v1alpha1/namespaces/${NS}/ipzones`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer fake-token' },
      body: JSON.stringify(ipzone('attackers', { usage: 'Blocklist', gateways: ['192.0.2.0/24'] })),
    });
    expect(res.status).toBe(201);
    let denied = await attacker();
    while (denied.deniedResponse === null || denied.deniedResponse === undefined) {
      if (performance.now() - t0 > 1000) throw new Error('not denied within 1 s');
      denied = await attacker();
    }
    const ms = performance.now() - t0;
    console.log(`create → denied over gRPC: ${ms.toFixed(1)} ms`);
    expect(denied.deniedResponse.status?.code).toBe('Forbidden');
    expect(JSON.parse(denied.deniedResponse.body!)).toMatchObject({ reason: 'blocklist_zone' });
  });

  it('writes status as the only replica, and exports its metrics', async () => {
    await until(() => condition(server.get('IPZone', NS, 'attackers'), 'Ready')?.status === 'True', 5000, 'status');
    const metrics = await (await fetch(`http://127.0.0.1:${running.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/portcullis_kube_leader 1/);
    expect(metrics).toMatch(/portcullis_kube_objects\{kind="IPZone",state="accepted"\} 1/);
    expect(metrics).toMatch(/portcullis_kube_apply_seconds_count [1-9]/);
  });

  it('a Kubernetes object may not shadow one from the files', async () => {
    server.apply(ipzone('load-balancer', { usage: 'Policy', proxies: ['0.0.0.0/0'] }));
    await until(() => condition(server.get('IPZone', NS, 'load-balancer'), 'Accepted')?.reason === 'DuplicateName', 5000);
    expect(running.holder.current!.zones.find((z) => z.name === 'load-balancer')).toMatchObject({ proxies: 1 });
    expect(running.holder.current!.objects.find((o) => o.name === 'load-balancer')!.origin.source).toContain('proxies.yaml');
  });

  it('the leader writes what the feed manager reports: feed entries, a DynamicZone missing its database, an exempt Policy DynamicZone', async () => {
    server.apply(object('ThreatFeed', 'incident', { source: { inline: [{ address: '45.155.205.0/24' }, { address: '193.142.146.7' }] }, semantics: 'Blocklist' }));
    server.apply(object('DynamicZone', 'vpn-users', { usage: 'Policy', proxyType: 'NotTorAnonymizer' }));
    server.apply(policy('default', { exemptZones: ['vpn-users'] }));
    await until(() => (server.get('ThreatFeed', NS, 'incident')?.status as { entries?: number } | undefined)?.entries === 2, 5000, 'feed entries');
    expect(condition(server.get('ThreatFeed', NS, 'incident'), 'Ready')).toMatchObject({ status: 'True', reason: 'Serving' });
    await until(() => condition(server.get('ThreatPolicy', NS, 'default'), 'Ready')?.status === 'True', 5000, 'policy in force');
    expect(running.feeds.config.dynamicZones).toEqual([expect.objectContaining({ name: 'vpn-users', exempt: true })]);
    // No --geoip-anonymous: the zone is valid config but cannot match, and says so.
    await until(() => condition(server.get('DynamicZone', NS, 'vpn-users'), 'Ready')?.reason === 'MissingDatabase', 5000, 'MissingDatabase');
    expect(condition(server.get('DynamicZone', NS, 'vpn-users'), 'Accepted')).toMatchObject({ status: 'True' });
  });

  it('deleting the zone lets the client through again', async () => {
    server.remove('IPZone', NS, 'attackers');
    await until(() => !running.holder.current!.zones.some((z) => z.name === 'attackers'), 2000);
    expect((await attacker()).status?.code ?? 0).toBe(0);
  });
});
