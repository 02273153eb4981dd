import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { AuthzClient, headerValue } from '../helpers/grpc-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { eventually, startTestInstance, ZONES_YAML, type TestInstance } from '../helpers/portcullis.ts';

// Both transports: http2 (the default) and grpc-js (the reference implementation behind --grpc-transport).
for (const transport of ['http2', 'grpc-js'] as const) describe(`ext_authz Check over a real gRPC connection (${transport})`, () => {
  let inst: TestInstance;
  let client: AuthzClient;
  beforeAll(async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'grpc-transport': transport });
    client = new AuthzClient(inst.grpcTarget);
  });
  afterAll(async () => {
    client.close();
    await inst.stop();
  });

  it('denies a blocklisted client behind a trusted load balancer with a 403 denied_response', async () => {
    const res = await client.check(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } }));
    expect(res.status?.code).toBe(7);
    expect(res.httpResponse).toBe('deniedResponse');
    expect(res.deniedResponse?.status?.code).toBe('Forbidden'); // HTTP 403; enums decode as names
    expect(headerValue(res, 'content-type')).toBe('application/json');
    const body = JSON.parse(res.deniedResponse!.body!);
    expect(body).toMatchObject({ error: 'forbidden', reason: 'blocklist_zone' });
    expect(body.eventId).toMatch(/^[0-9a-f-]{36}$/);
    const event = inst.events.events.find((e) => e.uuid === body.eventId);
    expect(event).toMatchObject({
      eventType: 'security.request.blocked',
      client: { ipAddress: '192.0.2.44', zone: 'bad-actors' },
      outcome: { result: 'DENY', reason: 'blocklist_zone' },
      request: { ipChain: [{ ip: '192.0.2.44', version: 'V4' }, { ip: '10.0.1.5', version: 'V4' }] },
    });
  });

  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    // The attacker claims to be an office address; its real address is the peer.
    const spoof = await client.check(envoyCheckRequest({ peer: '192.0.2.9', headers: { 'x-forwarded-for': '203.0.113.5' } }));
    expect(spoof.status?.code).toBe(7);
    // And an innocent peer cannot be framed by a forged blocklisted XFF.
    const res = await client.check(envoyCheckRequest({ peer: '198.51.100.7', headers: { 'x-forwarded-for': '192.0.2.44' } }));
    expect(res.status?.code).toBe(0);
    expect(headerValue(res, 'x-portcullis-client-ip')).toBe('198.51.100.7');
  });

  it('lets exempt zones through even when also blocklisted, and resolves IPv6 through the chain', async () => {
    const exempt = await client.check(envoyCheckRequest({ peer: '10.0.9.9', headers: { 'x-forwarded-for': '203.0.113.66' } }));
    expect(exempt.status?.code).toBe(0);
    const v6 = await client.check(envoyCheckRequest({ peer: '2001:db8:ffff::1', headers: { 'x-forwarded-for': '2001:db8:bad::7, 2001:db8:ffff::2' } }));
    expect(v6.status?.code).toBe(7);
  });

  it('sets the upstream headers and removes forged x-portcullis-* headers on allow', async () => {
    const res = await client.check(envoyCheckRequest({
      peer: '10.0.1.5',
      headers: { 'x-forwarded-for': '198.51.100.23, 10.0.7.7', 'x-portcullis-client-ip': '1.2.3.4', 'x-portcullis-threat-level': 'NONE' },
    }));
    expect(res.status?.code).toBe(0);
    expect(res.httpResponse).toBe('okResponse');
    expect(headerValue(res, 'x-portcullis-client-ip')).toBe('198.51.100.23');
    expect(headerValue(res, 'x-portcullis-decision-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.okResponse?.headersToRemove).toEqual(expect.arrayContaining(['x-portcullis-client-ip', 'x-portcullis-threat-level']));
    expect(res.okResponse?.headers?.map((h) => h.appendAction)).toEqual(res.okResponse?.headers?.map(() => 'OVERWRITE_IF_EXISTS_OR_ADD'));
  });

  it('answers malformed requests instead of failing the call (failure mode allow)', async () => {
    const empty = await client.check({});
    expect(empty.status?.code).toBe(0);
    const badPeer = await client.check(envoyCheckRequest({ peer: 'not-an-ip' }));
    expect(badPeer.status?.code).toBe(0);
    const metrics = await (await fetch(`${inst.httpBase}/metrics`)).text();
    expect(metrics).toMatch(/portcullis_checks_total\{verdict="allow",reason="malformed_request"\} 2/);
  });

  it('reports health SERVING once config is loaded', async () => {
    const Health = makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(inst.grpcTarget, credentials.createInsecure()) as unknown as {
      check(req: { service: string }, cb: (e: ServiceError | null, r: { status: string | number }) => void): void;
      close(): void;
    };
    const status = await new Promise<string | number>((resolve, reject) => health.check({ service: 'envoy.service.auth.v3.Authorization' }, (e, r) => (e ? reject(e) : resolve(r.status))));
    health.close();
    expect(status === 'SERVING' || status === 1).toBe(true);
  });

  it('exports metrics by verdict and reason without any address label', async () => {
    const text = await (await fetch(`${inst.httpBase}/metrics`)).text();
    expect(text).toMatch(/portcullis_checks_total\{verdict="deny",reason="blocklist_zone"\} [1-9]/);
    expect(text).toMatch(/portcullis_check_duration_seconds_count\{transport="grpc"\} [1-9]/);
    expect(text).toMatch(/portcullis_config_zones\{usage="Blocklist"\} 1/);
    expect(text).not.toMatch(/\d+\.\d+\.\d+\.\d+"/); // no IPv4 as a label value
    expect(text).not.toMatch(/"[0-9a-f]*:[0-9a-f:]+"/); // no IPv6 as a label value
    expect((await fetch(`${inst.httpBase}/readyz`)).status).toBe(200);
    expect((await fetch(`${inst.httpBase}/healthz`)).status).toBe(200);
  });

  it('reloads on file change, and keeps the last good snapshot when the new config is invalid', async () => {
    const before = inst.running.holder.current!.version;
    inst.write('zones.yaml', `${ZONES_YAML}\n---\napiVersion: portcullis.dev/v1alpha1\nkind: IPZone\nmetadata: { name: broken }\nspec:\n  usage: Blocklist\n  gateways: [300.1.1.1]\n`);
    await eventually(() => inst.running.reloader.lastReport?.accepted === false);
    expect(inst.running.holder.current!.version).toBe(before);
    const stillBlocked = await client.check(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } }));
    expect(stillBlocked.status?.code).toBe(7);
    const metrics = await (await fetch(`${inst.httpBase}/metrics`)).text();
    expect(metrics).toMatch(/portcullis_config_reloads_total\{result="invalid"\} [1-9]/);

    inst.write('zones.yaml', ZONES_YAML.replace('192.0.2.0/24', '198.51.100.0/24'));
    await eventually(() => inst.running.holder.current!.version > before);
    const unblocked = await client.check(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } }));
    expect(unblocked.status?.code).toBe(0);
    const nowBlocked = await client.check(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '198.51.100.1' } }));
    expect(nowBlocked.status?.code).toBe(7);
  });
});
