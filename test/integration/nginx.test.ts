import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/child-server.ts';
import { startNginx, type NginxInstance } from '../helpers/nginx.ts';
import { httpRequest, metricValue, startSignInApp, type Reply, type SignInApp, type ThroughOptions } from '../helpers/proxy-rig.ts';
import { eventually, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';

// End to end behind a real nginx (Debian's, with auth_request and realip), configured with the snippets shipped
// in deploy/proxies/nginx: client -> nginx (auth_request -> Portcullis /auth/nginx) -> tiny sign-in app, and
// nginx's access_log syslog -> Portcullis' UDP outcome listener. The test client plays the load balancer at
// 127.0.0.1 (trusted), naming the real client in X-Forwarded-For.
const SNIPPETS = resolve('deploy/proxies/nginx');

const CONFIG = `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: edge }
spec: { usage: Policy, proxies: [127.0.0.1/32] }   # the load balancer and nginx itself
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
  username: { header: x-username }   # no body reaches an auth subrequest
  signIn: { routes: [{ path: { exact: /login }, methods: [POST] }] }
`;

let inst: TestInstance;
let nginx: NginxInstance;
let app: SignInApp;

beforeAll(async () => {
  const udp = await freePort();
  inst = await startTestInstance({ 'p.yaml': CONFIG }, { 'authz-address': '127.0.0.1:0', 'syslog-udp-address': `127.0.0.1:${udp}` });
  app = await startSignInApp({ username: 'alice' });
  nginx = await startNginx(`
  include ${SNIPPETS}/portcullis.http.conf;
  upstream portcullis { server 127.0.0.1:${inst.running.proxies.authzPort}; keepalive 8; }
  upstream app { server 127.0.0.1:${app.port}; }
  server {
    listen 127.0.0.1:{{PORT}};
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    access_log syslog:server=127.0.0.1:${udp},tag=nginx portcullis_json;
    include ${SNIPPETS}/portcullis.server.conf;
    location / {
      include ${SNIPPETS}/portcullis.location.conf;
      proxy_pass http://app;
    }
  }`);
});
afterAll(async () => {
  await nginx?.stop();
  await app?.close();
  await inst?.stop();
});

function through(client: string, path: string, opts: ThroughOptions = {}): Promise<Reply> {
  return httpRequest(nginx.port, path, { ...opts, headers: { host: 'app.example.com', 'x-forwarded-for': client, 'user-agent': 'test/1.0', ...opts.headers } });
}

const metric = (sample: string) => metricValue(inst.httpBase, sample);
const linesAccepted = () => metric('portcullis_syslog_lines_total{transport="udp",result="accepted"}');

/** One request through nginx, then wait until nginx's access-log line for it reached the outcome ingest. */
async function signIn(client: string, username: string, password: string): Promise<Reply> {
  const before = await linesAccepted();
  const res = await through(client, '/login', { method: 'POST', form: { username, password }, headers: { 'x-username': username } });
  await eventually(async () => (await linesAccepted()) > before);
  return res;
}

/** Sign-ins until two in a row are refused (at most 10); returns the statuses nginx answered. */
async function untilStopped(attempt: (i: number) => Promise<Reply>): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < 10 && !(statuses.length >= 2 && statuses.slice(-2).every((x) => x !== 401)); i++) statuses.push((await attempt(i)).status);
  return statuses;
}

describe('Portcullis behind a real nginx (auth_request + access_log syslog)', () => {
  it('a blocklisted client (named by a trusted X-Forwarded-For) gets 403 from nginx with the JSON body; the app never sees it', async () => {
    const seen = app.saw.length;
    const res = await through('192.0.2.44', '/login', { method: 'POST', form: { username: 'alice', password: 'x' } });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/json');
    const body = JSON.parse(res.body);
    expect(body.error).toBe('forbidden');
    expect(res.headers['x-portcullis-decision-id']).toBe(body.eventId);
    expect(app.saw.length).toBe(seen);
    expect(inst.events.events.find((e) => e.uuid === body.eventId)).toMatchObject({
      eventType: 'security.request.blocked',
      client: { ipAddress: '192.0.2.44', zone: 'bad-actors', userAgent: { rawUserAgent: 'test/1.0' } },
      request: { ipChain: [{ ip: '192.0.2.44' }, { ip: '127.0.0.1' }, { ip: '127.0.0.1' }] },
      debugContext: { debugData: { requestUri: '/login', method: 'POST', signIn: 'true', decisionReason: 'blocklist_zone' } },
    });
  });

  it('a real user gets through; the app sees x-portcullis-client-ip (a forged copy is overwritten) and the outcome arrives by syslog', async () => {
    const success = await metric('portcullis_outcomes_total{result="success"}');
    const res = await signIn('198.51.100.23', 'alice', 'correct-horse');
    expect(res.status).toBe(200);
    expect(res.body).toBe('welcome\n');
    const seen = app.saw.at(-1)!;
    expect(seen['x-portcullis-client-ip']).toBe('198.51.100.23');
    expect(seen['x-portcullis-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen['x-portcullis-threat-level']).toBeUndefined();

    const forged = await through('198.51.100.23', '/', { headers: { 'x-portcullis-client-ip': '10.9.9.9', 'x-portcullis-threat-level': 'NONE' } });
    expect(forged.status).toBe(200);
    expect(app.saw.at(-1)!['x-portcullis-client-ip']).toBe('198.51.100.23');
    expect(app.saw.at(-1)!['x-portcullis-threat-level']).toBeUndefined();
    // Correlated by nginx's $request_id: the auth subrequest and the access-log line carry the same one.
    await eventually(async () => (await metric('portcullis_outcomes_total{result="success"}')) === success + 1);
    expect(inst.running.correlator.size).toBe(0);
  });

  it('brute force through nginx: failures reported by syslog get the attacker a 429 with Retry-After from nginx', async () => {
    const attacker = '198.51.100.66';
    // MEDIUM at 5 failures within 10 s, or at 8 within 10 min when a loaded machine is slower than that.
    const statuses = await untilStopped((i) => signIn(attacker, 'alice', `guess-${i}`));
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(8);
    expect(statuses.slice(statuses.indexOf(429))).toEqual([429, 429]);
    const limited = await through(attacker, '/login', { method: 'POST', form: { username: 'alice', password: 'again' } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const body = JSON.parse(limited.body);
    expect(body.error).toBe('too_many_requests');
    expect(inst.events.events.find((e) => e.uuid === body.eventId)).toMatchObject({
      eventType: 'security.threat.detected',
      client: { ipAddress: attacker },
      outcome: { result: 'RATE_LIMIT', reason: 'threat_rate_limit' },
    });
    // A real user elsewhere is unaffected.
    expect((await signIn('198.51.100.24', 'alice', 'correct-horse')).status).toBe(200);
  });

  it('password spraying through nginx: one password over many usernames (from the username header) is detected and stopped', async () => {
    const sprayer = '198.51.100.77';
    const users = ['bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory'];
    // Brute force stops it at 5 failures within 10 s; on a slower run, password_spray at 6 distinct usernames.
    const statuses = await untilStopped((i) => signIn(sprayer, users[i]!, 'Summer2026!'));
    expect(statuses.indexOf(429)).toBeGreaterThanOrEqual(5);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(6);
    const events = inst.events.events.filter((e) => e.client?.ipAddress === sprayer && e.eventType === 'security.threat.detected');
    const detections = events.map((e) => JSON.parse(e.debugContext.debugData.threatDetections ?? '{}') as Record<string, string>);
    // Which detector refuses first depends on timing (see above): the refusal names one of the two.
    expect(detections.some((d) => d.password_spray !== undefined || d.brute_force !== undefined), JSON.stringify(detections)).toBe(true);
  });

  it('every nginx line was understood; denials are never counted as failed sign-ins', async () => {
    expect(await metric('portcullis_syslog_lines_total{transport="udp",result="malformed"}')).toBe(0);
    expect(await metric('portcullis_syslog_lines_total{transport="udp",result="untrusted_source"}')).toBe(0);
    expect(await metric('portcullis_outcomes_total{result="ignored"}')).toBeGreaterThanOrEqual(4); // the 403/429s above
    expect(nginx.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\]/);
  });
});
