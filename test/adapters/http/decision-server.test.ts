import { request, Agent } from 'node:http';
import { connect } from 'node:http2';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../../helpers/envoy-request.ts';
import { AuthzClient, headerValue } from '../../helpers/grpc-client.ts';
import { startTestInstance, ZONES_YAML, type TestInstance } from '../../helpers/portcullis.ts';

// The test client stands in for the proxy: its address must be a trusted proxy, as a real proxy's would be.
const LOCAL_PROXY = `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: local-proxy }
spec: { usage: Policy, proxies: [127.0.0.1/32, "::1/128"] }
`;
const BLOCK_POLICY = ZONES_YAML.replace('action: Audit', 'action: Block');

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

const agent = new Agent({ keepAlive: true, maxSockets: 4 });
function ask(base: string, path: string, headers: Record<string, string>, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method, headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const traefik = (client: string, extra: Record<string, string> = {}) => ({
  'x-forwarded-method': 'POST', 'x-forwarded-uri': '/login', 'x-forwarded-host': 'app.example.com', 'x-forwarded-proto': 'https',
  'x-forwarded-for': `${client}, 10.0.1.5`, 'user-agent': 'curl/8.5.0', ...extra,
});
const nginx = (client: string, extra: Record<string, string> = {}) => ({
  host: 'app.example.com', 'x-original-uri': '/login', 'x-original-method': 'POST', 'x-forwarded-for': `${client}, 10.0.1.5`, ...extra,
});

let inst: TestInstance;
let base: string;
let pageDir: string;
beforeAll(async () => {
  pageDir = mkdtempSync(join(tmpdir(), 'portcullis-page-'));
  writeFileSync(join(pageDir, 'denied.html'), '<html><body>Access denied ({{status}}). Reference: {{eventId}}</body></html>\n');
  inst = await startTestInstance({ 'zones.yaml': BLOCK_POLICY, 'local.yaml': LOCAL_PROXY }, {
    'authz-address': '127.0.0.1:0', 'authz-denial-page': join(pageDir, 'denied.html'),
  });
  base = inst.authzBase!;
});
afterAll(async () => {
  agent.destroy();
  await inst.stop();
});

describe('HTTP decision endpoint', () => {
  it('Traefik/Caddy convention: a blocklisted client behind trusted proxies gets 403 with the JSON body and event id', async () => {
    const res = await ask(base, '/auth/traefik', traefik('192.0.2.44'));
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('application/json');
    expect(res.headers['cache-control']).toBe('no-store');
    const body = JSON.parse(res.body);
    expect(body).toMatchObject({ error: 'forbidden', reason: 'blocklist_zone' });
    expect(res.headers['x-portcullis-decision-id']).toBe(body.eventId);
    expect(inst.events.events.find((e) => e.uuid === body.eventId)).toMatchObject({
      eventType: 'security.request.blocked',
      client: { ipAddress: '192.0.2.44', zone: 'bad-actors', userAgent: { rawUserAgent: 'curl/8.5.0' } },
      request: { ipChain: [{ ip: '192.0.2.44' }, { ip: '10.0.1.5' }, { ip: '127.0.0.1' }] },
      debugContext: { debugData: { requestUri: '/login', method: 'POST', signIn: 'true' } },
    });
    // Caddy's path is an alias of the same convention.
    expect((await ask(base, '/auth/caddy', traefik('192.0.2.44'))).status).toBe(403);
  });

  it('allows with every upstream header, absent ones empty so a proxy copying them overwrites a forged value', async () => {
    const res = await ask(base, '/auth/nginx', nginx('198.51.100.23', { 'x-portcullis-client-ip': '1.2.3.4' }));
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.headers['x-portcullis-client-ip']).toBe('198.51.100.23');
    expect(res.headers['x-portcullis-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers['x-portcullis-threat-level']).toBe('');
    expect(res.headers['x-portcullis-threat-suspected']).toBe('');
    expect(res.headers['x-envoy-auth-headers-to-remove']).toBeUndefined();
  });

  it('Envoy http_service: original path after the prefix; headers to remove listed for Envoy', async () => {
    const allowed = await ask(base, '/auth/envoy/login?next=%2F', { host: 'app.example.com', 'x-forwarded-for': '198.51.100.23' }, 'POST');
    expect(allowed.status).toBe(200);
    expect(allowed.headers['x-envoy-auth-headers-to-remove']).toBe('x-portcullis-threat-level,x-portcullis-threat-suspected');
    const denied = await ask(base, '/auth/envoy/login', { host: 'app.example.com', 'x-forwarded-for': '192.0.2.9' }, 'POST');
    expect(denied.status).toBe(403);
  });

  it('rate limits: 429 + Retry-After for Traefik/Caddy/Envoy; 403 + x-portcullis-status 429 for nginx (auth_request cannot pass a 429)', async () => {
    for (let i = 0; i < 5; i++) {
      inst.running.learner.report({ requestId: undefined, method: 'POST', path: '/login', host: 'app.example.com', status: 401, resultHeader: undefined, clientIp: '198.51.100.99' });
    }
    const t = await ask(base, '/auth/traefik', traefik('198.51.100.99'));
    expect(t.status).toBe(429);
    expect(Number(t.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(t.body)).toMatchObject({ error: 'too_many_requests', reason: 'threat_rate_limit' });
    const n = await ask(base, '/auth/nginx', nginx('198.51.100.99'));
    expect(n.status).toBe(403);
    expect(n.headers['x-portcullis-status']).toBe('429');
    expect(Number(n.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('sends the configured HTML page to browsers, JSON to everything else', async () => {
    const html = await ask(base, '/auth/traefik', traefik('192.0.2.44', { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' }));
    expect(html.status).toBe(403);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body).toContain(`Reference: ${html.headers['x-portcullis-decision-id']}`);
    expect(html.body).toContain('Access denied (403)');
    const api = await ask(base, '/auth/traefik', traefik('192.0.2.44', { accept: 'application/json, text/html' }));
    expect(api.headers['content-type']).toBe('application/json');
  });

  it('speaks h2c with prior knowledge on the same port', async () => {
    const session = connect(base);
    try {
      const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const s = session.request({ ':path': '/auth/traefik', ...traefik('192.0.2.44') });
        let status = 0;
        let body = '';
        s.on('response', (h) => (status = Number(h[':status'])));
        s.setEncoding('utf8');
        s.on('data', (c) => (body += c));
        s.on('end', () => resolve({ status, body }));
        s.on('error', reject);
      });
      expect(res.status).toBe(403);
      expect(JSON.parse(res.body).reason).toBe('blocklist_zone');
    } finally {
      session.close();
    }
  });

  it('answers 404 with the decision paths elsewhere, and /healthz', async () => {
    const res = await ask(base, '/', {});
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body).paths).toContain('/auth/nginx');
    expect((await ask(base, '/healthz', {})).status).toBe(200);
  });
});

describe('one decision function, two adapters', () => {
  it('gRPC ext_authz and the HTTP endpoint decide identically for the same request', async () => {
    const grpc = new AuthzClient(inst.grpcTarget);
    try {
      const cases = [
        '192.0.2.44', // blocklisted
        '198.51.100.23', // allowed
        '203.0.113.66', // exempt although blocklisted
        '10.0.7.7', // a trusted proxy: never blocked
        'junk, 192.0.2.1', // non-IP entry left of a blocklisted one
        '2001:db8:bad::7', // IPv6 blocklist
      ];
      for (const xff of cases) {
        const g = await grpc.check(envoyCheckRequest({ peer: '127.0.0.1', path: '/login', headers: { 'x-forwarded-for': xff } }));
        const h = await ask(base, '/auth/envoy/login', { host: 'app.example.com', 'x-forwarded-for': xff, 'user-agent': 'curl/8.5.0' }, 'POST');
        const gStatus = g.status?.code === 0 ? 200 : ({ Forbidden: 403, TooManyRequests: 429 } as Record<string, number>)[String(g.deniedResponse?.status?.code)];
        expect(h.status, xff).toBe(gStatus);
        if (h.status === 200) {
          expect(h.headers['x-portcullis-client-ip'], xff).toBe(headerValue(g, 'x-portcullis-client-ip') ?? '');
          expect(h.headers['x-portcullis-threat-level'], xff).toBe(headerValue(g, 'x-portcullis-threat-level') ?? '');
        } else {
          const gBody = JSON.parse(g.deniedResponse!.body!);
          const hBody = JSON.parse(h.body);
          expect({ ...hBody, eventId: undefined }, xff).toEqual({ ...gBody, eventId: undefined });
          const ge = inst.events.events.find((e) => e.uuid === gBody.eventId);
          const he = inst.events.events.find((e) => e.uuid === hBody.eventId);
          const strip = (e: typeof ge) => e && { ...e, uuid: undefined, published: undefined, debugContext: { debugData: { ...e.debugContext.debugData, requestId: undefined } } };
          expect(strip(he), xff).toEqual(strip(ge));
        }
      }
      // A refused client: each refused sign-in is itself evidence (persistence escalates 429 → 403), so the second
      // ask may be stricter than the first; both adapters refuse it.
      const persistent = '198.51.100.99'; // rate-limited by the detectors (previous test)
      const g = await grpc.check(envoyCheckRequest({ peer: '127.0.0.1', path: '/login', headers: { 'x-forwarded-for': persistent } }));
      const h = await ask(base, '/auth/envoy/login', { host: 'app.example.com', 'x-forwarded-for': persistent, 'user-agent': 'curl/8.5.0' }, 'POST');
      expect(['Forbidden', 'TooManyRequests']).toContain(String(g.deniedResponse?.status?.code));
      expect([403, 429]).toContain(h.status);
    } finally {
      grpc.close();
    }
  });
});

describe('X-Real-IP as the chain header', () => {
  it('treats X-Real-IP from a trusted proxy as a one-entry chain and ignores X-Forwarded-For', async () => {
    const real = await startTestInstance({ 'zones.yaml': ZONES_YAML, 'local.yaml': LOCAL_PROXY }, { 'authz-address': '127.0.0.1:0', 'authz-client-header': 'x-real-ip' });
    try {
      const blocked = await ask(real.authzBase!, '/auth/nginx', nginx('198.51.100.1', { 'x-real-ip': '192.0.2.44' }));
      expect(blocked.status).toBe(403);
      const allowed = await ask(real.authzBase!, '/auth/nginx', nginx('192.0.2.44', { 'x-real-ip': '198.51.100.1' }));
      expect(allowed.status).toBe(200);
      expect(allowed.headers['x-portcullis-client-ip']).toBe('198.51.100.1');
    } finally {
      await real.stop();
    }
  });
});
