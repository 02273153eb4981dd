import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { credentials, makeGenericClientConstructor, Metadata, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/adapters/grpc/protos.ts';
import type { CheckRequest } from '../../src/gen/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse__Output } from '../../src/gen/envoy/service/auth/v3/CheckResponse.ts';
import type { HTTPAccessLogEntry } from '../../src/gen/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import { alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { eventually, lbPolicyYaml, scrapeMetric, startTestInstance, ZONES_YAML, type TestInstance } from '../helpers/portcullis.ts';

const TOKEN = 'test-grpc-token-0123456789';

// Clients that send metadata (Envoy's grpc_service.initial_metadata), over real grpc-js.
type Protos = { envoy: { service: { auth: { v3: { Authorization: any } }; accesslog: { v3: { AccessLogService: any } } } } };
const protos = loadEnvoyProtos() as unknown as Protos;
const bearer = (token: string | undefined) => {
  const md = new Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  return md;
};
const clients: Array<{ close(): void }> = [];

function check(target: string, req: CheckRequest, token?: string): Promise<CheckResponse__Output> {
  const c = new protos.envoy.service.auth.v3.Authorization(target, credentials.createInsecure());
  clients.push(c);
  return new Promise((resolve, reject) => c.Check(req, bearer(token), (err: ServiceError | null, res: CheckResponse__Output) => (err ? reject(err) : resolve(res))));
}

/** One access-log stream with the given entries; resolves with the call's final status code. */
function streamAccessLogs(target: string, entries: HTTPAccessLogEntry[], token?: string): Promise<number> {
  const c = new protos.envoy.service.accesslog.v3.AccessLogService(target, credentials.createInsecure());
  clients.push(c);
  return new Promise((resolve) => {
    const call = c.StreamAccessLogs(bearer(token), (err: ServiceError | null) => resolve(err ? err.code : 0));
    call.on('error', () => undefined);
    call.write({ identifier: { node: { id: 'attacker', cluster: 'x' }, logName: 'portcullis' }, httpLogs: { logEntry: entries } });
    call.end();
  });
}

function health(target: string, service = 'envoy.service.auth.v3.Authorization'): Promise<string | number> {
  const Health = makeGenericClientConstructor(healthService, 'Health');
  const h = new Health(target, credentials.createInsecure()) as any;
  clients.push(h);
  return new Promise((resolve, reject) => h.check({ service }, (e: ServiceError | null, r: { status: string | number }) => (e ? reject(e) : resolve(r.status))));
}

let inst: TestInstance | undefined;
let child: ChildProcess | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of sockets.splice(0)) s.destroy();
  child?.kill('SIGKILL');
  child = undefined;
  await inst?.stop();
  inst = undefined;
});

const victim = '198.51.100.77';
const victimCheck = () => envoyCheckRequest({ peer: '10.0.0.5', body: 'username=v&password=x', headers: { 'x-forwarded-for': victim, 'content-type': 'application/x-www-form-urlencoded' } });
// A dozen failed sign-ins "from" the victim, with no Check behind them: what an attacker on the port forges.
const forged = () => Array.from({ length: 15 }, () => alsEntry({ status: 401, xff: victim, peer: '10.0.0.5' }));

// Both transports enforce the token the same way (src/adapters/grpc/credential.ts).
for (const transport of ['grpc-js', 'http2'] as const) describe(`the gRPC credential (--grpc-token) on ${transport}`, () => {
  it('forged access-log entries without the token are refused and change no decision; with it they count', async () => {
    inst = await startTestInstance({ 'p.yaml': lbPolicyYaml('Block') }, { 'grpc-token': TOKEN, 'grpc-transport': transport });
    const t = inst.grpcTarget;
    expect((await check(t, victimCheck(), TOKEN)).status?.code).toBe(0);

    expect(await streamAccessLogs(t, forged())).toBe(16); // UNAUTHENTICATED
    expect(await streamAccessLogs(t, forged(), 'wrong-token-wrong-token')).toBe(16);
    await new Promise((r) => setTimeout(r, 200));
    // prom-client prints a series once it has counted; the same names are asserted > 0 below.
    expect((await scrapeMetric(inst.httpBase, 'portcullis_outcomes_total{result="failure"}')) || 0).toBe(0);
    expect((await scrapeMetric(inst.httpBase, 'portcullis_access_log_entries_total{accepted="true"}')) || 0).toBe(0);
    expect((await check(t, victimCheck(), TOKEN)).status?.code).toBe(0);
    expect(await scrapeMetric(inst.httpBase, 'portcullis_unauthenticated_requests_total{listener="grpc"}')).toBe(2);

    // The same entries from the holder of the token (Envoy) are outcomes: the victim's address is now refused.
    expect(await streamAccessLogs(t, forged(), TOKEN)).toBe(0);
    await eventually(async () => (await scrapeMetric(inst!.httpBase, 'portcullis_outcomes_total{result="failure"}')) === 15);
    expect(await scrapeMetric(inst.httpBase, 'portcullis_access_log_entries_total{accepted="true"}')).toBe(15);
    expect((await check(t, victimCheck(), TOKEN)).status?.code).not.toBe(0);
  });

  it('a Check without the token is UNAUTHENTICATED (not a CheckResponse); health stays open', async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'grpc-token': TOKEN, 'grpc-transport': transport });
    const t = inst.grpcTarget;
    const blocked = envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } });
    await expect(check(t, blocked)).rejects.toMatchObject({ code: 16, details: expect.stringContaining('bearer token') });
    await expect(check(t, blocked, `${TOKEN}x`)).rejects.toMatchObject({ code: 16 });
    expect((await check(t, blocked, TOKEN)).status?.code).toBe(7);
    // Undecided calls are not counted as checks.
    expect(await scrapeMetric(inst.httpBase, 'portcullis_checks_total{verdict="deny",reason="blocklist_zone"}')).toBe(1);
    expect([1, 'SERVING']).toContain(await health(t));
  });

  it('no token: loopback callers are served as before', async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'grpc-transport': transport });
    expect((await check(inst.grpcTarget, envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } }))).status?.code).toBe(7);
  });
});

/** Runs `portcullis serve` to its exit; stderr and code. */
function serveExit(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; err: string }> {
  const proc = spawn(process.execPath, ['bin/portcullis.js', 'serve', '--config', 'deploy/examples', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child = proc;
  let err = '';
  proc.stderr!.on('data', (c) => (err += c));
  return new Promise((resolve) => proc.on('exit', (code) => resolve({ code, err })));
}

describe('listening beyond loopback', () => {
  it('refuses a non-loopback gRPC address without a token, naming the fix (exit 1)', async () => {
    const r = await serveExit(['--grpc-address', '0.0.0.0:0']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('--grpc-address 0.0.0.0:0 is reachable beyond loopback without a credential');
    expect(r.err).toContain('--grpc-token');
    expect(r.err).not.toContain('    at ');
    const env = await serveExit([], { PORTCULLIS_GRPC_ADDRESS: '[::]:0' });
    expect(env.code).toBe(1);
    expect(env.err).toContain('PORTCULLIS_GRPC_TOKEN');
  });

  it('refuses a non-loopback admin address without --admin-token (exit 1)', async () => {
    const r = await serveExit(['--grpc-address', '127.0.0.1:0', '--admin-address', '0.0.0.0:0']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('--admin-address 0.0.0.0:0 is reachable beyond loopback without a credential');
  });

  it('refuses a token that is too short or cannot travel in a header (exit 2)', async () => {
    expect((await serveExit(['--grpc-token', 'short'])).err).toContain('--grpc-token: must be at least 16 characters');
    const r = await serveExit(['--grpc-token', 'has spaces in it, sixteen+']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--grpc-token: only A-Z a-z 0-9');
  });
});

describe('--grpc-insecure-allow-remote', () => {
  it('is the explicit opt-out: a non-loopback address without a token then listens', async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'grpc-address': '0.0.0.0:0', 'grpc-insecure-allow-remote': 'true' });
    expect((await check(`127.0.0.1:${inst.running.grpcPort}`, envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } }))).status?.code).toBe(7);
  });
});

describe('the admin listener (--admin-address)', () => {
  it('serves /admin/ip on its own port; the ops port answers 404 for it', async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML });
    expect((await fetch(`${inst.httpBase}/admin/ip?ip=198.18.1.1`)).status).toBe(404);
    const res = await fetch(`${inst.adminBase}/admin/ip?ip=198.18.1.1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ip: '198.18.1.1', tracked: false });
    // The ops port keeps what Prometheus and the kubelet need.
    for (const p of ['/metrics', '/healthz', '/readyz']) expect((await fetch(`${inst.httpBase}${p}`)).status, p).toBe(200);
    expect((await fetch(`${inst.adminBase}/metrics`)).status).toBe(404);
  });

  it('with --admin-token, a request without the bearer token gets 401', async () => {
    const adminToken = 'admin-token-abcdefghijkl';
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'admin-token': adminToken });
    const url = `${inst.adminBase}/admin/ip?ip=198.18.1.1`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: 'Bearer nope' } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${adminToken}` } })).status).toBe(200);
    expect(await scrapeMetric(inst.httpBase, 'portcullis_unauthenticated_requests_total{listener="admin"}')).toBe(2);
  });
});

for (const transport of ['grpc-js', 'http2'] as const) describe(`drain on SIGTERM (${transport})`, () => {
  it('health turns NOT_SERVING at once while Checks are still answered for --drain-seconds, then the port closes', async () => {
    const proc = spawn(process.execPath, ['bin/portcullis.js', 'serve'], {
      env: { ...process.env, PORTCULLIS_GRPC_TRANSPORT: transport, PORTCULLIS_CONFIG: 'deploy/examples', PORTCULLIS_GRPC_ADDRESS: '127.0.0.1:0', PORTCULLIS_HTTP_ADDRESS: '127.0.0.1:0', PORTCULLIS_ADMIN_ADDRESS: '', PORTCULLIS_DRAIN_SECONDS: '3', PORTCULLIS_EVENTS: 'none' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    let err = '';
    const exit = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
    const ports = await new Promise<{ grpc: number; http: number }>((resolve, reject) => {
      proc.stderr!.on('data', (c) => {
        err += c;
        const m = /"grpcPort":(\d+).*"httpPort":(\d+)/.exec(err);
        if (m) resolve({ grpc: Number(m[1]), http: Number(m[2]) });
      });
      proc.on('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    const target = `127.0.0.1:${ports.grpc}`;
    const blocked = envoyCheckRequest({ peer: '10.0.4.2', headers: { 'x-forwarded-for': '192.0.2.10' } });
    await eventually(async () => [1, 'SERVING'].includes(await health(target)));
    expect((await check(target, blocked)).status?.code).toBe(7);

    const signalledAt = Date.now();
    proc.kill('SIGTERM');
    await eventually(async () => [2, 'NOT_SERVING'].includes(await health(target)), 1000);
    expect((await fetch(`http://127.0.0.1:${ports.http}/readyz`)).status).toBe(503);
    // Checks keep their normal answers through the window, on the open connection and on new ones.
    for (let i = 0; i < 5; i++) {
      expect((await check(target, blocked)).status?.code).toBe(7);
      expect((await check(target, envoyCheckRequest({ peer: '10.0.4.2', headers: { 'x-forwarded-for': '198.51.100.1' } }))).status?.code).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(Date.now() - signalledAt).toBeLessThan(3000);

    expect(await exit).toBe(0);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(3000);
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(ports.grpc, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(false); });
      s.once('error', () => resolve(true));
    });
    expect(refused).toBe(true);
  }, 20_000);
});

/** Opens a TCP connection; resolves once connected, with a promise of when the server closes it. */
function open(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now())));
    socket.on('error', () => undefined);
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}
const within = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);

describe('connection caps and timeouts', () => {
  it.each([
    ['grpc', { 'grpc-max-connections': '3', 'grpc-transport': 'grpc-js' }, (i: TestInstance) => i.running.grpcPort],
    ['grpc', { 'grpc-max-connections': '3', 'grpc-transport': 'http2' }, (i: TestInstance) => i.running.grpcPort],
    ['http', { 'http-max-connections': '3' }, (i: TestInstance) => i.running.httpPort],
    ['admin', { 'http-max-connections': '3' }, (i: TestInstance) => i.running.adminPort!],
    ['authz', { 'authz-max-connections': '3', 'authz-address': '127.0.0.1:0' }, (i: TestInstance) => i.running.proxies.authzPort!],
  ] as const)('%s %o: at a cap of 3, a 4th connection is closed at once and counted', async (listener, flags, portOf) => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, flags);
    const port = portOf(inst);
    const held = [await open(port), await open(port), await open(port)];
    await new Promise((r) => setTimeout(r, 100)); // the server has accepted all three
    const fourth = await open(port).catch(() => undefined);
    if (fourth) expect(await within(fourth.closed, 2000)).not.toBe('timeout');
    for (const h of held) expect(await within(h.closed, 200)).toBe('timeout'); // the first three stay open
    // Closing one frees a place.
    held[0]!.socket.destroy();
    await held[0]!.closed;
    await new Promise((r) => setTimeout(r, 100));
    const again = await open(port);
    expect(await within(again.closed, 300)).toBe('timeout');
    for (const s of sockets) s.destroy(); // the scrape below needs a place on the ops port
    await new Promise((r) => setTimeout(r, 100));
    expect(await scrapeMetric(inst.httpBase, `portcullis_connections_rejected_total{listener="${listener}"}`)).toBe(1);
  });

  it.each(['authz', 'http'] as const)('%s: a slowloris connection is closed after the header timeout', async (listener) => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'authz-address': '127.0.0.1:0', 'http-header-timeout-seconds': '1' });
    const port = listener === 'authz' ? inst.running.proxies.authzPort! : inst.running.httpPort;
    const { socket, closed } = await open(port);
    const started = Date.now();
    socket.write('GET /healthz HTTP/1.1\r\nHost: a\r\n');
    // One header byte every 200 ms: never idle, never complete.
    const drip = setInterval(() => socket.writable && socket.write('x'), 200);
    const at = await within(closed, 5000);
    clearInterval(drip);
    expect(at).not.toBe('timeout');
    const took = (at as number) - started;
    expect(took).toBeGreaterThanOrEqual(900);
    expect(took).toBeLessThan(3000);
  });

  it('a normal keep-alive client is not cut by the header timeout between requests', async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'authz-address': '127.0.0.1:0', 'http-header-timeout-seconds': '1' });
    const { socket, closed } = await open(inst.running.proxies.authzPort!);
    let answers = '';
    socket.on('data', (c) => (answers += c));
    socket.write('GET /nope HTTP/1.1\r\nHost: a\r\n\r\n');
    await new Promise((r) => setTimeout(r, 1800)); // idle between requests, longer than the header timeout
    socket.write('GET /nope HTTP/1.1\r\nHost: a\r\n\r\n');
    await eventually(() => (answers.match(/HTTP\/1\.1 404/g) ?? []).length === 2, 2000);
    expect(await within(closed, 100)).toBe('timeout');
  });
});
