import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { AlsClient, alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient, headerValue } from '../helpers/grpc-client.ts';
import { eventually, lbPolicyYaml, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';


let inst: TestInstance | undefined;
let authz: AuthzClient | undefined;
let als: AlsClient | undefined;
afterEach(async () => {
  authz?.close();
  als?.close();
  await inst?.stop();
});

let seq = 0;
/** One sign-in as Envoy would carry it: Check, then (if allowed) the app's answer on the access-log stream. */
async function signIn(client: string, username: string, status: number) {
  const requestId = `req-${++seq}`;
  const res = await authz!.check(envoyCheckRequest({
    peer: '10.0.0.5',
    body: `username=${encodeURIComponent(username)}&password=hunter2`,
    headers: { 'x-forwarded-for': client, 'x-request-id': requestId, 'content-type': 'application/x-www-form-urlencoded' },
  }));
  const denied = res.status?.code !== 0;
  // Envoy logs every request; ones ext_authz refused carry the UAEX flag and a 403/429 from Envoy itself.
  als!.send([alsEntry({ requestId, status: denied ? 403 : status, xff: client, deniedByExtAuthz: denied })]);
  return res;
}

async function start(action: 'Audit' | 'Block', clock: ManualClock) {
  inst = await startTestInstance({ 'p.yaml': lbPolicyYaml(action) }, {}, clock);
  authz = new AuthzClient(inst.grpcTarget);
  als = new AlsClient(inst.grpcTarget);
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${inst!.httpBase}/metrics`)).text();
  const m = new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('credential-attack detection through real Check and access-log streams', () => {
  it('Block: rate-limits at MEDIUM (429 + Retry-After), blocks at HIGH (403), never counts its own denials', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 28, 12));
    await start('Block', clock);
    const attacker = '198.18.7.7';
    const user = '198.51.100.20';

    // CrowdSec-style burst: the 5th failure within 10 s makes the IP MEDIUM.
    for (let i = 0; i < 5; i++) {
      expect((await signIn(attacker, 'alice@example.com', 401)).status?.code).toBe(0);
      clock.advance(1000);
    }
    await eventually(async () => (await metric('portcullis_outcomes_total{result="failure"}')) === 5);
    const limited = await signIn(attacker, 'alice@example.com', 401);
    expect(limited.deniedResponse?.status?.code).toBe('TooManyRequests');
    const retryAfter = Number(headerValue(limited, 'retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Its access-log entry carries UAEX (refused by ext_authz) and is not an outcome at all.
    await eventually(async () => (await metric('portcullis_access_log_entries_total{accepted="false"}')) === 1);
    expect(await metric('portcullis_outcomes_total{result="failure"}')).toBe(5);

    // An ordinary user from another IP is untouched.
    expect((await signIn(user, 'bob@example.com', 200)).status?.code).toBe(0);

    // The attack goes on, waiting out each rate limit: 11 failures in 10 min is HIGH (AWS WAF ATP) -> 403.
    clock.advance(61_000);
    let blocked = undefined;
    let failures = 5;
    for (let i = 0; i < 30 && !blocked; i++) {
      const r = await signIn(attacker, `user${i}@example.com`, 401);
      if (r.deniedResponse?.status?.code === 'Forbidden') blocked = r;
      else if (r.status?.code !== 0) clock.advance(Number(headerValue(r, 'retry-after')) * 1000);
      else {
        failures++;
        await eventually(async () => (await metric('portcullis_outcomes_total{result="failure"}')) === failures);
        clock.advance(5_000);
      }
    }
    expect(failures).toBe(11);
    expect(blocked?.deniedResponse?.status?.code).toBe('Forbidden');
    expect(JSON.parse(blocked!.deniedResponse!.body!).reason).toBe('threat_block');

    const blockEvents = inst!.events.events.filter((e) => e.eventType === 'security.threat.detected' && e.debugContext.debugData.blockedUntil);
    // One event per block started: rate limits while MEDIUM, then the HIGH block.
    const results = blockEvents.map((e) => e.outcome.result);
    expect(results.at(-1)).toBe('DENY');
    expect(results.slice(0, -1).every((r) => r === 'RATE_LIMIT')).toBe(true);
    const last = blockEvents.at(-1)!;
    expect(last.client?.ipAddress).toBe(attacker);
    expect(JSON.parse(last.debugContext.debugData.threatDetections!)).toHaveProperty('brute_force', 'HIGH');
    // Usernames never appear raw anywhere in the events.
    expect(JSON.stringify(inst!.events.events)).not.toMatch(/alice|user\d+@/);

    const admin = await (await fetch(`${inst!.adminBase}/admin/ip?ip=${attacker}`)).json();
    expect(admin).toMatchObject({ ip: attacker, tracked: true, detectors: { block: { active: true, level: 'HIGH' } } });
    expect(await metric('portcullis_active_blocks')).toBe(1);
    expect(await metric('portcullis_blocks_started_total{level="HIGH"}')).toBe(1);
  });

  it('Audit: never blocks, tells the upstream and emits threat events with outcome ALLOW', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 28, 12));
    await start('Audit', clock);
    for (let i = 0; i < 12; i++) {
      expect((await signIn('198.18.9.9', `u${i}`, 401)).status?.code).toBe(0);
      clock.advance(500);
    }
    await eventually(async () => (await metric('portcullis_outcomes_total{result="failure"}')) === 12);
    const res = await signIn('198.18.9.9', 'u', 401);
    expect(res.status?.code).toBe(0);
    expect(headerValue(res, 'x-portcullis-threat-level')).toBe('HIGH');
    expect(headerValue(res, 'x-portcullis-threat-suspected')).toBe('true');
    const ev = inst!.events.events.find((e) => e.eventType === 'security.threat.detected' && e.outcome.result === 'ALLOW');
    expect(ev?.debugContext.debugData.threatSuspected).toBe('true');
    expect(await metric('portcullis_active_blocks')).toBe(0);
  });
});
