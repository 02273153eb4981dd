// The node:http2 gRPC transport against real clients: grpc-js, a raw node:http2 client for what a gRPC library
// would never send, and Python grpcio (gRPC C-core), the same client core as Envoy's google_grpc.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { loadEnvoyProtos, serviceDefinition } from '../../src/adapters/grpc/protos.ts';
import { parseGrpcTimeout, startH2GrpcServer } from '../../src/adapters/grpc/h2/server.ts';
import type { GrpcServerHandle } from '../../src/adapters/grpc/server.ts';
import type { CheckResponse__Output } from '../../src/gen/envoy/service/auth/v3/CheckResponse.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { startTestInstance, ZONES_YAML, type TestInstance } from '../helpers/portcullis.ts';

const check = serviceDefinition(loadEnvoyProtos(), 'envoy.service.auth.v3.Authorization')['Check']!;
const CHECK = '/envoy.service.auth.v3.Authorization/Check';
const frame = (m: Buffer, flag = 0): Buffer => Buffer.concat([Buffer.from([flag, m.length >>> 24, (m.length >>> 16) & 255, (m.length >>> 8) & 255, m.length & 255]), m]);

interface RawAnswer { status: number | undefined; grpcStatus: string | undefined; grpcMessage: string | undefined; body: Buffer }

/** One request on a raw HTTP/2 connection: whatever headers and bytes the test wants. */
function rawRequest(port: number, headers: Record<string, string | undefined>, body: Buffer | ((s: http2.ClientHttp2Stream) => void)): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const all: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ':method': 'POST', ':path': CHECK, 'content-type': 'application/grpc', te: 'trailers', ...headers })) if (v !== undefined) all[k] = v;
    const stream = session.request(all);
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (head = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      const g = (k: string) => (trailers[k] ?? head[k]) as string | undefined;
      resolve({ status: head[':status'] as number | undefined, grpcStatus: g('grpc-status'), grpcMessage: g('grpc-message'), body: Buffer.concat(chunks) });
    });
    if (typeof body === 'function') body(stream);
    else stream.end(body);
  });
}

describe('grpc-timeout', () => {
  it('parses every unit and refuses malformed values', () => {
    expect(parseGrpcTimeout('2S')).toBe(2000);
    expect(parseGrpcTimeout('1H')).toBe(3_600_000);
    expect(parseGrpcTimeout('3M')).toBe(180_000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('1500u')).toBe(1.5);
    expect(parseGrpcTimeout('99999999n')).toBeCloseTo(99.999999);
    for (const bad of ['', '123456789S', '5', 'S', '-1S', '1.5S', '1s']) expect(parseGrpcTimeout(bad), bad).toBeUndefined();
    expect(parseGrpcTimeout(undefined)).toBeUndefined();
  });
});

describe('Check on the node:http2 transport', () => {
  let inst: TestInstance;
  let port: number;
  const socket = join(mkdtempSync(join(tmpdir(), 'portcullis-h2-')), 'grpc.sock');
  beforeAll(async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'grpc-transport': 'http2', 'grpc-socket': socket });
    port = inst.running.grpcPort;
  });
  afterAll(() => inst.stop());

  it('answers a grpc-js client, over TCP and over the Unix socket', async () => {
    for (const target of [inst.grpcTarget, `unix:${socket}`]) {
      const client = new AuthzClient(target);
      const denied = await client.check(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } }));
      expect(denied.status?.code, target).toBe(7);
      expect(denied.deniedResponse?.status?.code).toBe('Forbidden');
      client.close();
    }
  });

  it('refuses what is not gRPC: wrong method, content-type, missing te, compression, unknown method', async () => {
    const ok = frame(check.requestSerialize({}));
    expect((await rawRequest(port, { ':method': 'PUT' }, ok)).status).toBe(405);
    expect((await rawRequest(port, { 'content-type': 'application/json' }, ok)).status).toBe(415);
    const noTe = await rawRequest(port, { te: undefined }, ok);
    expect(noTe.grpcStatus).toBe(String(status.INTERNAL));
    const gzip = await rawRequest(port, { 'grpc-encoding': 'gzip' }, ok);
    expect(gzip.grpcStatus).toBe(String(status.UNIMPLEMENTED));
    const unknown = await rawRequest(port, { ':path': '/envoy.service.auth.v3.Authorization/Nope' }, ok);
    expect(unknown.grpcStatus).toBe(String(status.UNIMPLEMENTED));
    // application/grpc+proto is gRPC too.
    expect((await rawRequest(port, { 'content-type': 'application/grpc+proto' }, ok)).grpcStatus).toBe('0');
  });

  it('refuses bad frames: compressed flag, a message over the cap, two messages, a cut message, none at all', async () => {
    const msg = check.requestSerialize({});
    expect((await rawRequest(port, {}, frame(msg, 1))).grpcStatus).toBe(String(status.INTERNAL));
    expect((await rawRequest(port, {}, frame(msg, 7))).grpcStatus).toBe(String(status.INTERNAL));
    const header = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff]); // 2 GiB announced: refused before any of it is read
    const huge = await rawRequest(port, {}, header);
    expect(huge.grpcStatus).toBe(String(status.RESOURCE_EXHAUSTED));
    expect((await rawRequest(port, {}, Buffer.concat([frame(msg), frame(msg)]))).grpcStatus).toBe(String(status.INTERNAL));
    expect((await rawRequest(port, {}, frame(msg).subarray(0, 3))).grpcStatus).toBe(String(status.INTERNAL));
    expect((await rawRequest(port, {}, Buffer.alloc(0))).grpcStatus).toBe(String(status.INTERNAL));
    // A valid request split across many DATA frames is read whole.
    const split = await rawRequest(port, {}, (s) => {
      const f = frame(check.requestSerialize(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } })));
      for (let i = 0; i < f.length; i += 7) s.write(f.subarray(i, i + 7));
      s.end();
    });
    expect(split.grpcStatus).toBe('0');
    expect((check.responseDeserialize(split.body.subarray(5)) as CheckResponse__Output).status?.code).toBe(7);
  });

  it('ends a call whose request does not arrive before its grpc-timeout with DEADLINE_EXCEEDED', async () => {
    const started = Date.now();
    const slow = await rawRequest(port, { 'grpc-timeout': '200m' }, (s) => {
      s.write(Buffer.from([0, 0, 0, 0, 10])); // announces 10 bytes, never sends them
    });
    expect(slow.grpcStatus).toBe(String(status.DEADLINE_EXCEEDED));
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('survives a client that cancels mid-request, and keeps serving the connection', async () => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const s = session.request({ ':method': 'POST', ':path': CHECK, 'content-type': 'application/grpc', te: 'trailers' });
    s.write(Buffer.from([0, 0, 0, 1, 0]));
    s.close(http2.constants.NGHTTP2_CANCEL);
    await new Promise((r) => s.on('close', r));
    const after = await new Promise<string | undefined>((resolve) => {
      const s2 = session.request({ ':method': 'POST', ':path': CHECK, 'content-type': 'application/grpc', te: 'trailers' });
      s2.on('trailers', (t) => resolve(t['grpc-status'] as string));
      s2.on('data', () => undefined);
      s2.end(frame(check.requestSerialize({})));
    });
    expect(after).toBe('0');
    session.close();
  });

  it('serves grpc.health.v1 Check and Watch', async () => {
    const Health = makeGenericClientConstructor(healthService, 'Health');
    const health = new Health(inst.grpcTarget, credentials.createInsecure()) as unknown as Client & {
      check(req: { service: string }, cb: (e: ServiceError | null, r: { status: string | number }) => void): void;
      watch(req: { service: string }): NodeJS.EventEmitter & { cancel(): void };
    };
    const statusOf = (service: string) => new Promise<string | number>((resolve, reject) => health.check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))));
    expect(await statusOf('envoy.service.auth.v3.Authorization')).toBe('SERVING');
    expect(await statusOf('')).toBe('SERVING');
    await expect(statusOf('nope')).rejects.toMatchObject({ code: status.NOT_FOUND });
    const watch = health.watch({ service: 'envoy.service.auth.v3.Authorization' });
    const first = await new Promise<{ status: string }>((resolve) => watch.once('data', resolve));
    expect(first.status).toBe('SERVING');
    const unknown = health.watch({ service: 'nope' });
    expect((await new Promise<{ status: string }>((resolve) => unknown.once('data', resolve))).status).toBe('SERVICE_UNKNOWN');
    watch.on('error', () => undefined);
    unknown.on('error', () => undefined);
    watch.cancel();
    unknown.cancel();
    health.close();
  });
});

describe('drain on shutdown (GOAWAY)', () => {
  it('lets an in-flight call finish, refuses new connections, and stops within the grace period', async () => {
    const server: GrpcServerHandle = await startH2GrpcServer({ host: '127.0.0.1', port: 0 }, {
      check: () => Buffer.from([0, 0, 0, 0, 0]), // an empty framed CheckResponse
    }, ['']);
    const session = http2.connect(`http://127.0.0.1:${server.port}`);
    // A Check whose body is held back: in flight when shutdown starts.
    const s = session.request({ ':method': 'POST', ':path': CHECK, 'content-type': 'application/grpc', te: 'trailers' });
    const done = new Promise<string | undefined>((resolve) => {
      s.on('trailers', (t) => resolve(t['grpc-status'] as string));
      s.on('data', () => undefined);
    });
    s.write(Buffer.from([0, 0, 0, 0, 2]));
    await new Promise((r) => setTimeout(r, 50));
    const goaway = new Promise((r) => session.once('goaway', r));
    const stopped = server.shutdown(5000);
    await goaway;
    s.end(Buffer.from([8, 1])); // the rest of the in-flight request, after GOAWAY
    expect(await done).toBe('0');
    await stopped;
    session.destroy();
    await expect(new Promise((resolve, reject) => {
      const c = http2.connect(`http://127.0.0.1:${server.port}`);
      c.on('error', reject);
      c.on('connect', resolve);
    })).rejects.toThrow();
  });
});

// gRPC C-core through Python grpcio: `pip install grpcio protobuf` (offline from /opt/pypi on this machine).
// Bytes go through a generic unary call with pre-encoded messages, so no generated stubs are needed.
const PY = `
import grpc, sys, json, base64, time
target, req_b64, big = sys.argv[1], sys.argv[2], int(sys.argv[3])
ch = grpc.insecure_channel(target, options=[('grpc.max_send_message_length', -1)])
check = ch.unary_unary('/envoy.service.auth.v3.Authorization/Check', request_serializer=None, response_deserializer=None)
out = {}
resp = check(base64.b64decode(req_b64), timeout=5)
out['ok'] = base64.b64encode(resp).decode()
try:
    check(b'\\x00' * big, timeout=10)
    out['big'] = 'OK'
except grpc.RpcError as e:
    out['big'] = e.code().name
def slow_entries():
    # A client stream that outlives its deadline: whoever notices first (client or server), it ends in
    # DEADLINE_EXCEEDED. (A 1 us unary deadline is a race the server can win: it answers in well under 1 ms.)
    time.sleep(1.0)
    yield b''
als = ch.stream_unary('/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs', request_serializer=None, response_deserializer=None)
try:
    als(slow_entries(), timeout=0.2)
    out['deadline'] = 'OK'
except grpc.RpcError as e:
    out['deadline'] = e.code().name
fut = check.future(base64.b64decode(req_b64), timeout=5)
fut.cancel()
out['cancelled'] = fut.cancelled() or fut.done()
out['after'] = base64.b64encode(check(base64.b64decode(req_b64), timeout=5)).decode()
health = ch.unary_unary('/grpc.health.v1.Health/Check', request_serializer=None, response_deserializer=None)
out['health'] = base64.b64encode(health(b'', timeout=5)).decode()
print(json.dumps(out))
`;

describe('Python grpcio (C-core) client', () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'grpc-transport': 'http2' });
  });
  afterAll(() => inst.stop());

  it('gets the same answers, limits and deadline behaviour', async () => {
    const probe = spawnSync('python3', ['-c', 'import grpc'], { encoding: 'utf8' });
    // Must not pass quietly without the client: install it (pip install grpcio protobuf).
    expect(probe.status, `python3 grpcio missing: ${probe.stderr}`).toBe(0);
    const script = join(mkdtempSync(join(tmpdir(), 'portcullis-py-')), 'client.py');
    writeFileSync(script, PY);
    const req = check.requestSerialize(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } })).toString('base64');
    // Not spawnSync: the server runs in this process and must keep answering meanwhile.
    const run = await new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn('python3', [script, inst.grpcTarget, req, String(9 * 1024 * 1024)]);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ status: code, stdout, stderr }));
    });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout) as Record<string, string | boolean>;
    const res = check.responseDeserialize(Buffer.from(out.ok as string, 'base64')) as CheckResponse__Output;
    expect(res.status?.code).toBe(7);
    expect(JSON.parse(res.deniedResponse!.body!)).toMatchObject({ reason: 'blocklist_zone' });
    expect(out.big).toBe('RESOURCE_EXHAUSTED');
    expect(out.deadline).toBe('DEADLINE_EXCEEDED');
    expect(out.cancelled).toBe(true);
    expect((check.responseDeserialize(Buffer.from(out.after as string, 'base64')) as CheckResponse__Output).status?.code).toBe(7);
    expect(Buffer.from(out.health as string, 'base64')).toEqual(Buffer.from([0x08, 0x01])); // SERVING
  }, 60_000);
});
