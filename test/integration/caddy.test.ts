import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caddyAdapt, caddyVersion, startCaddy, type CaddyInstance } from '../helpers/caddy.ts';
import { freePort } from '../helpers/child-server.ts';
import { httpRequest, metricValue, startSignInApp, withAddresses, type Reply, type SignInApp, type ThroughOptions } from '../helpers/proxy-rig.ts';
import { eventually, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';

// End to end behind a real Caddy (Debian 12's 2.6.2), running the shipped deploy/proxies/caddy/Caddyfile with
// only its addresses replaced: client -> Caddy (forward_auth -> Portcullis /auth/caddy) -> tiny sign-in app,
// and Caddy's JSON access log (`output net`) -> Portcullis' syslog TCP listener. The test client plays the
// load balancer at 127.0.0.1 (trusted), naming the real client in X-Forwarded-For.
const SHIPPED = readFileSync('deploy/proxies/caddy/Caddyfile', 'utf8');

const CONFIG = `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: edge }
spec: { usage: Policy, proxies: [127.0.0.1/32] }   # the load balancer and Caddy itself
---
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: bad-actors }
spec: { usage: Blocklist, gateways: [192.0.2.0/24] }
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatPolicy
metadata: { name: default }
spec:
  action: Block
  username: { header: x-username }
  signIn: { routes: [{ path: { exact: /login }, methods: [POST] }] }
`;

/** The shipped Caddyfile pointed at this test's processes; every replaced address must be in it. */
function localCaddyfile(authz: number, syslog: number, app: number): string {
  return withAddresses(SHIPPED, [
    ['app.example.com {', 'http://app.example.com:{{PORT}} {\n\tbind 127.0.0.1'],
    ['portcullis-authz.portcullis.svc.cluster.local:9002', `127.0.0.1:${authz}`],
    ['portcullis-authz.portcullis.svc.cluster.local:5514', `127.0.0.1:${syslog}`],
    ['trusted_proxies 10.0.0.0/8', 'trusted_proxies 127.0.0.1/32'],
    ['reverse_proxy app:8080', `reverse_proxy 127.0.0.1:${app}`],
  ], 'Caddyfile');
}

let inst: TestInstance;
let caddy: CaddyInstance;
let app: SignInApp;

beforeAll(async () => {
  const tcp = await freePort();
  inst = await startTestInstance({ 'p.yaml': CONFIG }, { 'authz-address': '127.0.0.1:0', 'syslog-tcp-address': `127.0.0.1:${tcp}` });
  app = await startSignInApp({ username: 'alice' });
  caddy = await startCaddy(localCaddyfile(inst.running.proxies.authzPort!, tcp, app.port));
});
afterAll(async () => {
  await caddy?.stop();
  await app?.close();
  await inst?.stop();
});

function through(client: string, path: string, opts: ThroughOptions = {}): Promise<Reply> {
  return httpRequest(caddy.port, path, { ...opts, headers: { host: `app.example.com:${caddy.port}`, 'x-forwarded-for': client, 'user-agent': 'test/1.0', ...opts.headers } });
}

const metric = (sample: string) => metricValue(inst.httpBase, sample);
const linesAccepted = () => metric('portcullis_syslog_lines_total{transport="tcp",result="accepted"}');

/** One request through Caddy, then wait until Caddy's access-log line for it reached the outcome ingest. */
async function signIn(client: string, username: string, password: string): Promise<Reply> {
  const before = await linesAccepted();
  const res = await through(client, '/login', { method: 'POST', form: { username, password }, headers: { 'x-username': username } });
  await eventually(async () => (await linesAccepted()) > before);
  return res;
}

describe(`Portcullis behind a real Caddy (forward_auth + JSON access log over TCP)`, () => {
  it(`the shipped Caddyfile adapts on this Caddy (${caddyVersion()}), with trusted_proxies per directive`, () => {
    const r = caddyAdapt(SHIPPED);
    expect(r.output).not.toMatch(/Error/);
    expect(r.ok).toBe(true);
    const json = JSON.parse(r.output);
    expect(JSON.stringify(json)).toContain('"trusted_proxies"');
    // The global form (servers { trusted_proxies ... }) is what 2.6.2 refuses; the shipped file must not use it.
    expect(caddyAdapt('{\n\tservers {\n\t\ttrusted_proxies static 10.0.0.0/8\n\t}\n}\n:80\n').ok).toBe(caddyVersion() >= 'v2.6.3');
  });

  it('a blocklisted client gets 403 from Caddy with the JSON body; the app never sees it', async () => {
    const seen = app.saw.length;
    const before = await linesAccepted();
    const res = await through('192.0.2.44', '/login', { method: 'POST', form: { username: 'alice', password: 'x' } });
    expect(res.status).toBe(403);
    const body = JSON.parse(res.body);
    expect(body.error).toBe('forbidden');
    expect(res.headers['x-portcullis-decision-id']).toBe(body.eventId);
    expect(app.saw.length).toBe(seen);
    expect(inst.events.events.find((e) => e.uuid === body.eventId)).toMatchObject({
      eventType: 'security.request.blocked',
      client: { ipAddress: '192.0.2.44', zone: 'bad-actors' },
      debugContext: { debugData: { requestUri: '/login', method: 'POST', decisionReason: 'blocklist_zone' } },
    });
    // Its access-log line arrives, and Portcullis' own denial is not counted as a failed sign-in.
    const failures = await metric('portcullis_outcomes_total{result="failure"}');
    await eventually(async () => (await linesAccepted()) > before);
    await eventually(async () => (await metric('portcullis_outcomes_total{result="ignored"}')) >= 1);
    expect(await metric('portcullis_outcomes_total{result="failure"}')).toBe(failures);
  });

  it('a real user gets through; the app sees x-portcullis-client-ip (a forged copy is overwritten) and the outcome arrives', async () => {
    const success = await metric('portcullis_outcomes_total{result="success"}');
    const res = await signIn('198.51.100.23', 'alice', 'correct-horse');
    expect(res.status).toBe(200);
    expect(res.body).toBe('welcome\n');
    const seen = app.saw.at(-1)!;
    expect(seen['x-portcullis-client-ip']).toBe('198.51.100.23');
    expect(seen['x-portcullis-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen['x-forwarded-for']).toBe('198.51.100.23, 127.0.0.1');

    const forged = await through('198.51.100.23', '/', { headers: { 'x-portcullis-client-ip': '10.9.9.9', 'x-portcullis-threat-level': 'NONE' } });
    expect(forged.status).toBe(200);
    expect(app.saw.at(-1)!['x-portcullis-client-ip']).toBe('198.51.100.23');
    expect(app.saw.at(-1)!['x-portcullis-threat-level'] ?? '').toBe('');
    await eventually(async () => (await metric('portcullis_outcomes_total{result="success"}')) === success + 1);
  });

  it('brute force through Caddy: failures from its access log get the attacker a 429 with Retry-After', async () => {
    const attacker = '198.51.100.66';
    const statuses: number[] = [];
    for (let i = 0; i < 10 && !(statuses.length >= 2 && statuses.slice(-2).every((x) => x !== 401)); i++) {
      statuses.push((await signIn(attacker, 'alice', `guess-${i}`)).status);
    }
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(5);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(8);
    const limited = await through(attacker, '/login', { method: 'POST', form: { username: 'alice', password: 'again' } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(limited.body).error).toBe('too_many_requests');
    // A real user elsewhere is unaffected.
    expect((await signIn('198.51.100.24', 'alice', 'correct-horse')).status).toBe(200);
  });

  it('every Caddy line was understood', async () => {
    expect(await metric('portcullis_syslog_lines_total{transport="tcp",result="malformed"}')).toBe(0);
    expect(await metric('portcullis_syslog_lines_total{transport="tcp",result="untrusted_source"}')).toBe(0);
    expect(caddy.output()).not.toMatch(/"level":"(error|fatal)","ts":[\d.]+,"logger":"(?!http\.log\.access)/);
  });
});
