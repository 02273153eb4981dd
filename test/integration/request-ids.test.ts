// Issue 11 items 2 and 7 through the public interfaces: real grpc-js Check calls and a real access-log stream.
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { parseAddress } from '../../src/net/address.ts';
import { AlsClient, alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { eventually, lbPolicyYaml, scrapeMetric, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';

let inst: TestInstance | undefined;
let authz: AuthzClient | undefined;
let als: AlsClient | undefined;
afterEach(async () => {
  authz?.close();
  als?.close();
  await inst?.stop();
  inst = undefined;
});

async function start() {
  const clock = new ManualClock(Date.UTC(2026, 10, 28, 12));
  inst = await startTestInstance({ 'p.yaml': lbPolicyYaml('Block') }, {}, clock);
  authz = new AuthzClient(inst.grpcTarget);
  als = new AlsClient(inst.grpcTarget);
  return clock;
}

/** A sign-in Check as Envoy sends it, behind the trusted load balancer. */
async function check(client: string, requestId: string) {
  const res = await authz!.check(envoyCheckRequest({
    peer: '10.0.0.5',
    body: 'username=alice&password=hunter2',
    headers: { 'x-forwarded-for': client, 'x-request-id': requestId, 'content-type': 'application/x-www-form-urlencoded' },
  }));
  return res.status?.code === 0 ? 'allow' : res.deniedResponse?.status?.code;
}
const metric = (series: string) => scrapeMetric(inst!.httpBase, series);
const failures = () => metric('portcullis_outcomes_total{result="failure"}');
const counters = (client: string) => inst!.running.engine.inspect(inst!.running.engine.keyOfAddress(parseAddress(client)!))?.counters;

describe('request ids on the outcome path', () => {
  it("an attacker's refused request reusing the id of its failed sign-in does not hide the failure", async () => {
    await start();
    const attacker = '198.18.7.7';
    for (let i = 1; i <= 4; i++) {
      expect(await check(attacker, `f${i}`)).toBe('allow');
      als!.send([alsEntry({ requestId: `f${i}`, status: 401, xff: attacker })]);
    }
    await eventually(async () => (await failures()) === 4);
    // The sign-in whose failure the attacker wants to hide; its answer is still on its way.
    expect(await check(attacker, 'hide-me')).toBe('allow');
    expect(await check(attacker, 'f5')).toBe('allow');
    als!.send([alsEntry({ requestId: 'f5', status: 401, xff: attacker })]);
    await eventually(async () => (await failures()) === 5);
    // Now rate-limited: a request reusing the id is refused (and logged by Envoy with UAEX)...
    expect(await check(attacker, 'hide-me')).toBe('TooManyRequests');
    als!.send([alsEntry({ requestId: 'hide-me', status: 429, xff: attacker, deniedByExtAuthz: true })]);
    // ...and the first sign-in's failure still counts.
    als!.send([alsEntry({ requestId: 'hide-me', status: 401, xff: attacker })]);
    await eventually(async () => (await failures()) === 6);
    expect(counters(attacker)?.failuresShort).toBe(6);
    expect(await metric('portcullis_outcomes_uncorrelatable_total{reason="duplicate_id"}')).toBe(1);
    const ignored = await metric('portcullis_outcomes_total{result="ignored"}');
    expect(Number.isNaN(ignored) || ignored === 0, `ignored = ${ignored}`).toBe(true); // absent until counted
  });

  it("an outcome naming another client's request id counts for its own client, and the victim's Check stays pending", async () => {
    await start();
    const victim = '198.51.100.20';
    const attacker = '198.18.7.8';
    expect(await check(victim, 'victim-id')).toBe('allow');
    als!.send([alsEntry({ requestId: 'victim-id', status: 401, xff: attacker })]);
    await eventually(async () => (await metric('portcullis_outcomes_client_mismatch_total')) === 1);
    expect(await failures()).toBe(1);
    expect(counters(attacker)?.failuresShort).toBe(1);
    expect(counters(victim)?.failuresShort ?? 0).toBe(0);
    als!.send([alsEntry({ requestId: 'victim-id', status: 200, xff: victim })]);
    await eventually(async () => (await metric('portcullis_outcomes_total{result="success"}')) === 1);
    expect(counters(victim)?.successesMedium).toBe(1);
    expect(inst!.running.correlator.size).toBe(0);
  });

  it('does not hold huge request ids: sign-in Checks with 60 KB ids leave nothing pending (4,000 in test/service/correlator.test.ts)', async () => {
    await start();
    const huge = 'x'.repeat(60 * 1024);
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) {
      pending.push(check(`198.18.${(i >> 8) & 255}.${i & 255}`, `${i}-${huge}`));
      if (pending.length === 100) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    expect(inst!.running.correlator.size).toBe(0);
    expect(await metric('portcullis_outcomes_pending_bytes')).toBe(0);
    expect(await metric('portcullis_outcomes_uncorrelatable_total{reason="id_too_long"}')).toBe(400);
    // Their outcomes still count, for the client each outcome resolves to.
    als!.send([alsEntry({ requestId: `1-${huge}`, status: 401, xff: '198.18.0.1' })]);
    await eventually(async () => (await failures()) === 1);
    expect(counters('198.18.0.1')?.failuresShort).toBe(1);
  }, 60_000);
});
