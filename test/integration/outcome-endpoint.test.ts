import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestInstance, ZONES_YAML, type TestInstance } from '../helpers/portcullis.ts';

const TOKEN = 'outcome-token-0123456789';
let inst: TestInstance;
beforeAll(async () => {
  inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'outcome-token': TOKEN });
});
afterAll(async () => inst.stop());

const post = (body: string, token = TOKEN) =>
  fetch(`${inst.httpBase}/v1/outcomes`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });

describe('POST /v1/outcomes', () => {
  it('accepts outcomes from the app and counts them against the client', async () => {
    const res = await post(JSON.stringify([
      { clientIp: '198.18.1.1', result: 'failure', path: '/login' },
      { clientIp: '198.18.1.1', result: 'unknown_user', path: '/login' },
      { clientIp: '198.18.1.2', result: 'success', path: '/login' },
    ]));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 3 });
    await eventually(async () => {
      const admin = await (await fetch(`${inst.adminBase}/admin/ip?ip=198.18.1.1`)).json();
      return admin.tracked === true && admin.detectors.counters.failuresMedium === 2 && admin.detectors.counters.unknownUserFailures === 1;
    });
  });

  it('refuses a wrong token, bad JSON and invalid items with a reason', async () => {
    expect((await post('{}', 'wrong-token-00000000000')).status).toBe(401);
    expect((await post('{nope')).status).toBe(400);
    const bad = await post(JSON.stringify([{ clientIp: '198.18.1.1', result: 'maybe' }, { result: 'failure' }]));
    expect(bad.status).toBe(400);
    expect((await bad.json()).details).toEqual([
      '[0].result: must be one of success, failure, unknown_user',
      '[1]: needs requestId (x-request-id of the sign-in) or clientIp',
    ]);
    expect((await fetch(`${inst.httpBase}/v1/outcomes`)).status).toBe(405);
  });

  it('admin endpoint answers bad input clearly', async () => {
    const res = await fetch(`${inst.adminBase}/admin/ip?ip=nope`);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toBe('invalid_ip');
  });
});
