import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haproxyVersion, startHaproxy, type HaproxyInstance } from '../helpers/haproxy.ts';
import { freePort } from '../helpers/child-server.ts';
import { httpRequest, metricValue, startSignInApp, withAddresses, type SignInApp } from '../helpers/proxy-rig.ts';
import { eventually, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';

// A real HAProxy (Debian 12's 2.6) running the shipped deploy/proxies/haproxy/haproxy.cfg with only its
// addresses replaced: client -> HAProxy -> tiny sign-in app, HAProxy's RFC 5424 log lines (one JSON object
// each) -> Portcullis' syslog UDP listener. HAProxy 2.6 cannot ask an auth service without Lua, so it is the
// outcome source only; the refusal is what Portcullis then answers the proxy that asks it (here its
// /auth/forwarded endpoint, as Traefik, Caddy or an nginx behind HAProxy would).
const SHIPPED = readFileSync('deploy/proxies/haproxy/haproxy.cfg', 'utf8');

const CONFIG = `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: edge }
spec: { usage: Policy, proxies: [127.0.0.1/32] }   # the load balancer and HAProxy itself
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatPolicy
metadata: { name: default }
spec:
  action: Block
  signIn: { routes: [{ path: { exact: /login }, methods: [POST] }] }
`;

function localConfig(syslog: number, app: number): string {
  return withAddresses(SHIPPED, [
    ['log 127.0.0.1:5514 ', `log 127.0.0.1:${syslog} `],
    ['bind :80', 'bind 127.0.0.1:{{PORT}}'],
    ['server app1 127.0.0.1:8080', `server app1 127.0.0.1:${app}`],
  ], 'haproxy.cfg');
}

let inst: TestInstance;
let haproxy: HaproxyInstance;
let app: SignInApp;

beforeAll(async () => {
  const udp = await freePort();
  inst = await startTestInstance({ 'p.yaml': CONFIG }, { 'authz-address': '127.0.0.1:0', 'syslog-udp-address': `127.0.0.1:${udp}` });
  app = await startSignInApp({ failureHeader: true });
  haproxy = await startHaproxy(localConfig(udp, app.port));
});
afterAll(async () => {
  await haproxy?.stop();
  await app?.close();
  await inst?.stop();
});

/** A form POST through HAProxy (the body is a urlencoded string). */
const post = (port: number, path: string, headers: Record<string, string>, body = '') =>
  httpRequest(port, path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body });

const metric = (sample: string) => metricValue(inst.httpBase, sample);
const linesAccepted = () => metric('portcullis_syslog_lines_total{transport="udp",result="accepted"}');

/** What Portcullis answers a proxy asking about a sign-in from this client (through the trusted 127.0.0.1). */
async function ask(client: string): Promise<number> {
  const r = await fetch(`${inst.authzBase}/auth/forwarded`, { headers: { 'x-forwarded-for': client, 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/login', 'x-forwarded-host': 'app.example.com' } });
  return r.status;
}

describe(`HAProxy ${haproxyVersion()} log lines as sign-in outcomes`, () => {
  it('a sign-in through HAProxy reaches the app with a request id, and its log line is accepted as a success', async () => {
    const before = await linesAccepted();
    const success = await metric('portcullis_outcomes_total{result="success"}');
    const res = await post(haproxy.port, '/login', { host: 'app.example.com', 'x-forwarded-for': '198.51.100.23' }, 'username=alice&password=correct-horse');
    expect(res.status).toBe(200);
    expect(app.saw.at(-1)!['x-request-id']).toMatch(/^[0-9A-F]+:/);
    await eventually(async () => (await linesAccepted()) > before);
    await eventually(async () => (await metric('portcullis_outcomes_total{result="success"}')) === success + 1);
  });

  it('brute force reported only by HAProxy\'s log lines gets the attacker refused', async () => {
    const attacker = '198.51.100.66';
    expect(await ask(attacker)).toBe(200);
    for (let i = 0; i < 6; i++) {
      const before = await linesAccepted();
      expect((await post(haproxy.port, '/login', { host: 'app.example.com', 'x-forwarded-for': attacker }, `username=alice&password=guess-${i}`)).status).toBe(401);
      await eventually(async () => (await linesAccepted()) > before);
    }
    // MEDIUM at 5 failures in 10 s: nginx and ingress-nginx get 403 with x-portcullis-status 429, others 429.
    await eventually(async () => (await ask(attacker)) === 429);
    const refused = inst.events.events.find((e) => e.client?.ipAddress === attacker && e.eventType === 'security.threat.detected');
    expect(refused).toBeDefined();
    expect(await ask('198.51.100.24')).toBe(200);
  });

  it('every HAProxy line was understood (RFC 5424 header, JSON body)', async () => {
    expect(await metric('portcullis_syslog_lines_total{transport="udp",result="malformed"}')).toBe(0);
    expect(await metric('portcullis_syslog_lines_total{transport="udp",result="untrusted_source"}')).toBe(0);
    expect(haproxy.output()).not.toMatch(/\[(ALERT|EMERG)\]/);
  });
});
