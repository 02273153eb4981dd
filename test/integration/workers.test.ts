// --workers N (issue 15 item 5): real `portcullis serve` processes through the CLI, real grpc-js clients. Each
// client below has its own HTTP/2 connection (a local subchannel pool), so round-robin spreads them over the
// workers the way separate Envoy connections are spread.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { credentials, type ClientWritableStream, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/adapters/grpc/protos.ts';
import type { CheckRequest } from '../../src/gen/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse__Output } from '../../src/gen/envoy/service/auth/v3/CheckResponse.ts';
import type { StreamAccessLogsMessage } from '../../src/gen/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import { alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { listeningPorts } from '../helpers/portcullis-process.ts';
import { eventually, lbPolicyYaml } from '../helpers/portcullis.ts';

interface Serving {
  readonly proc: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly adminPort: number;
  readonly authzPort?: number;
  readonly stderr: () => string;
  readonly exit: Promise<number | null>;
}

const running: ChildProcess[] = [];
const dirs: string[] = [];
const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
  for (const p of running.splice(0)) p.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function serve(workers: number, args: readonly string[] = []): Promise<Serving> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-workers-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'p.yaml'), lbPolicyYaml('Block'));
  const proc = spawn(process.execPath, ['bin/portcullis.js', 'serve', '--config', dir, '--workers', String(workers), '--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--drain-seconds', '1', '--events', 'none', '--username-key', 'a-test-username-key-0123', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.push(proc);
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const ports = await listeningPorts<{ grpcPort: number; httpPort: number; adminPort: number; authzPort?: number }>(proc);
  return { proc, ...ports, stderr: () => err, exit };
}

type AuthzCtor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options: object) => {
  Check(req: CheckRequest, cb: (err: ServiceError | null, res: CheckResponse__Output) => void): void;
  close(): void;
};
type AlsCtor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>, options: object) => {
  StreamAccessLogs(cb: (err: Error | null) => void): ClientWritableStream<StreamAccessLogsMessage>;
  close(): void;
};
const protos = loadEnvoyProtos() as unknown as { envoy: { service: { auth: { v3: { Authorization: AuthzCtor } }; accesslog: { v3: { AccessLogService: AlsCtor } } } } };
// A local subchannel pool: this client's calls go over its own connection, not one shared with the others.
const OWN_CONNECTION = { 'grpc.use_local_subchannel_pool': 1 };

function authzClient(port: number) {
  const c = new protos.envoy.service.auth.v3.Authorization(`127.0.0.1:${port}`, credentials.createInsecure(), OWN_CONNECTION);
  closers.push(() => c.close());
  return (req: CheckRequest) => new Promise<CheckResponse__Output>((resolve, reject) => c.Check(req, (err, res) => (err ? reject(err) : resolve(res))));
}

function alsStream(port: number) {
  const c = new protos.envoy.service.accesslog.v3.AccessLogService(`127.0.0.1:${port}`, credentials.createInsecure(), OWN_CONNECTION);
  const stream = c.StreamAccessLogs(() => undefined);
  let first = true;
  closers.push(() => {
    stream.end();
    c.close();
  });
  return (entry: ReturnType<typeof alsEntry>) => {
    const msg: StreamAccessLogsMessage = { httpLogs: { logEntry: [entry] } };
    if (first) msg.identifier = { node: { id: 'gateway-0', cluster: 'gateway' }, logName: 'portcullis' };
    first = false;
    stream.write(msg);
  };
}

async function metricSum(httpPort: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

/** Worker processes of a primary: its children running the CLI (not tsx's esbuild service). */
function childrenOf(pid: number): number[] {
  const out = spawnSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' }).stdout;
  return out.split('\n').filter((l) => l.includes('portcullis.js serve')).map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Processes holding an established connection on the port (server side). */
function pidsServing(port: number): Set<number> {
  const out = spawnSync('ss', ['-tnpH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }).stdout;
  return new Set([...out.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const signInRequest = (client: string, username: string, requestId: string) => envoyCheckRequest({
  peer: '10.0.0.5',
  body: `username=${encodeURIComponent(username)}&password=hunter2`,
  headers: { 'x-forwarded-for': client, 'x-request-id': requestId, 'content-type': 'application/x-www-form-urlencoded' },
});

describe('portcullis serve --workers', () => {
  it('serves Checks from 2 workers on one port, with one aggregated /metrics and /readyz on the primary; its workers go with a killed primary', { timeout: 120_000 }, async () => {
    const token = 'outcome-token-0123456789';
    const s = await serve(2, ['--outcome-token', token, '--authz-address', '127.0.0.1:0']);
    const workers = childrenOf(s.proc.pid!);
    expect(workers).toHaveLength(2);
    const clients = Array.from({ length: 4 }, () => authzClient(s.grpcPort));
    const blocked = envoyCheckRequest({ peer: '10.0.4.2', method: 'GET', path: '/', headers: { 'x-forwarded-for': '198.51.100.7' } });
    for (let round = 0; round < 5; round++) for (const check of clients) expect((await check(blocked)).status?.code ?? 0).toBe(0);
    // Round-robin handed the four connections to both workers; the primary holds none (it serves no Check).
    const holders = pidsServing(s.grpcPort);
    expect([...holders].sort()).toEqual([...workers].sort());
    expect(holders.has(s.proc.pid!)).toBe(false);

    // The HTTP decision endpoint is served by the workers too, on its one port.
    const http = await fetch(`http://127.0.0.1:${s.authzPort}/auth/nginx`, { headers: { 'x-original-uri': '/app', 'x-original-method': 'GET', 'x-forwarded-for': '198.51.100.7' } });
    expect(http.status).toBe(200);
    // Each worker counted its own Checks; the one /metrics sums them.
    expect(await metricSum(s.httpPort, 'portcullis_checks_total')).toBe(21);

    // A webhook outcome (on the primary) finds the Check a worker remembered: it counts for that Check's account.
    expect((await clients[1]!(signInRequest('198.18.3.3', 'carol@example.com', 'hook-1'))).status?.code ?? 0).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    const posted = await fetch(`http://127.0.0.1:${s.httpPort}/v1/outcomes`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify([{ requestId: 'hook-1', clientIp: '198.18.3.3', result: 'failure', method: 'POST', path: '/login', host: 'app.example.com' }]),
    });
    expect(posted.status).toBeLessThan(300);
    await eventually(async () => {
      const a = await (await fetch(`http://127.0.0.1:${s.adminPort}/admin/ip?ip=198.18.3.3`)).json() as { detectors?: { counters: { failuresMedium: number; maxAccountFailures: number } } };
      return a.detectors?.counters.failuresMedium === 1 && a.detectors.counters.maxAccountFailures === 1;
    }, 10_000);
    expect(await metricSum(s.httpPort, 'portcullis_workers{state="serving"}')).toBe(2);
    const ready = await fetch(`http://127.0.0.1:${s.httpPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toContain('2/2 workers serving');

    // A primary that dies without draining (SIGKILL) takes its workers with it: their channel closes.
    s.proc.kill('SIGKILL');
    await s.exit;
    await eventually(() => workers.every((pid) => !alive(pid)), 15_000);
  });

  it('serves --grpc-socket from every worker: the shared socket file stays, connections go to both', { timeout: 120_000 }, async () => {
    const sockDir = mkdtempSync(join(tmpdir(), 'portcullis-workers-sock-'));
    dirs.push(sockDir);
    const path = join(sockDir, 'authz.sock');
    writeFileSync(path, ''); // a stale file from an earlier process: the primary removes it before binding
    const s = await serve(2, ['--grpc-socket', path]);
    const workers = childrenOf(s.proc.pid!);
    expect(workers).toHaveLength(2);
    const connect = () => {
      const c = new protos.envoy.service.auth.v3.Authorization(`unix:${path}`, credentials.createInsecure(), OWN_CONNECTION);
      closers.push(() => c.close());
      return (req: CheckRequest) => new Promise<CheckResponse__Output>((resolve, reject) => c.Check(req, (err, res) => (err ? reject(err) : resolve(res))));
    };
    const blocked = envoyCheckRequest({ peer: '10.0.4.2', method: 'GET', path: '/', headers: { 'x-forwarded-for': '198.51.100.7' } });
    // Server ends of the Unix connections, by process. Round-robin alternates, but a worker that is slow to take
    // a handed-off connection is skipped, so on a busy machine connections are added until both hold some.
    const holders = new Set<number>();
    let ssOut = '';
    for (let round = 0; round < 5 && !workers.every((pid) => holders.has(pid)); round++) {
      for (const check of Array.from({ length: 6 }, connect)) expect((await check(blocked)).status?.code ?? 0).toBe(0);
      ssOut = spawnSync('ss', ['-xpH', 'state', 'established'], { encoding: 'utf8' }).stdout;
      // ss may shorten a long path to '../<dir>/authz.sock': match on its last two parts.
      for (const l of ssOut.split('\n').filter((x) => x.includes(`${basename(sockDir)}/authz.sock`))) for (const m of l.matchAll(/pid=(\d+)/g)) holders.add(Number(m[1]));
    }
    expect(holders.has(s.proc.pid!), ssOut).toBe(false);
    expect(workers.filter((pid) => holders.has(pid)), ssOut).toEqual(workers);
  });

  it('reaches the same blocks and levels with 2 workers as with 1 process, for the same attack', { timeout: 180_000 }, async () => {
    // Checks on three connections, outcomes on a fourth (ALS: with 2 workers it often lands on the other worker
    // than its Check, so correlation has to happen on the primary), as separate Envoy connections would.
    const attack = async (s: Serving) => {
      const checks = [authzClient(s.grpcPort), authzClient(s.grpcPort), authzClient(s.grpcPort)];
      const als = alsStream(s.grpcPort);
      let n = 0;
      let learnt = 0;
      const answers: string[] = [];
      const signIn = async (client: string, username: string, status: number) => {
        const id = `req-${client}-${++n}`;
        const res = await checks[n % checks.length]!(signInRequest(client, username, id));
        const denied = (res.status?.code ?? 0) !== 0;
        answers.push(`${client} ${res.status?.code ?? 0}`);
        als(alsEntry({ requestId: id, status: denied ? 403 : status, xff: client, deniedByExtAuthz: denied }));
        // Learnt (so its Check's events are in too: they were sent before it), then a moment for the update to
        // reach the workers. The same pacing for one process, so both see the same sequence.
        // (Envoy's entries for requests ext_authz refused are dropped before the learner: nothing to wait for.)
        if (!denied) learnt++;
        await eventually(async () => (await metricSum(s.httpPort, 'portcullis_outcomes_total')) >= learnt, 10_000);
        await new Promise((r) => setTimeout(r, 25));
      };
      // A: a burst on one account (brute force); B: a few failures, then a success; C: stuffing, one try per account.
      for (let i = 0; i < 8; i++) await signIn('198.18.7.7', 'alice@example.com', 401);
      for (let i = 0; i < 2; i++) await signIn('198.18.8.8', 'bob@example.com', 401);
      await signIn('198.18.8.8', 'bob@example.com', 200);
      for (let i = 0; i < 12; i++) await signIn('198.18.9.9', `user${i}@example.com`, 401);
      await new Promise((r) => setTimeout(r, 500));
      const state: Record<string, unknown> = {};
      for (const ip of ['198.18.7.7', '198.18.8.8', '198.18.9.9']) {
        const a = await (await fetch(`http://127.0.0.1:${s.adminPort}/admin/ip?ip=${ip}`)).json() as { tracked: boolean; detectors: { counters: unknown; level: string; levels: unknown; block: { active: boolean; level: string } } };
        // And what a worker answers now, from its local view, on every connection.
        const now = await Promise.all(checks.map((c) => c(signInRequest(ip, 'zed@example.com', `final-${ip}`)).then((r) => r.status?.code ?? 0)));
        state[ip] = { tracked: a.tracked, counters: a.detectors.counters, level: a.detectors.level, levels: a.detectors.levels, block: { active: a.detectors.block.active, level: a.detectors.block.level }, now };
      }
      return { state, answers, outcomes: await metricSum(s.httpPort, 'portcullis_outcomes_total') };
    };

    const one = await serve(1);
    const single = await attack(one);
    one.proc.kill('SIGTERM');
    expect(await one.exit).toBe(0);
    for (const c of closers.splice(0)) c();

    const two = await serve(2);
    const cluster = await attack(two);

    // Not a vacuous comparison: the burst got 198.18.7.7 blocked, and stuffing moved 198.18.9.9.
    expect(single.state['198.18.7.7']).toMatchObject({ block: { active: true } });
    expect(single.answers.some((a) => a.startsWith('198.18.7.7 ') && !a.endsWith(' 0'))).toBe(true);
    expect(cluster.state).toEqual(single.state);
    expect(cluster.answers).toEqual(single.answers);
    expect(cluster.outcomes).toBe(single.outcomes);
  });

  it('replaces a killed worker, and SIGTERM drains and stops every worker (no orphan processes)', { timeout: 120_000 }, async () => {
    const s = await serve(2);
    const [first, second] = childrenOf(s.proc.pid!);
    process.kill(first!, 'SIGKILL');
    await eventually(() => s.stderr().includes('worker died; starting another'), 10_000);
    await eventually(async () => (await metricSum(s.httpPort, 'portcullis_workers{state="serving"}')) === 2, 60_000);
    const now = childrenOf(s.proc.pid!);
    expect(now).toHaveLength(2);
    expect(now).toContain(second);
    expect(now).not.toContain(first);
    expect(await metricSum(s.httpPort, 'portcullis_worker_restarts_total')).toBe(1);
    const check = authzClient(s.grpcPort);
    expect((await check(envoyCheckRequest({ peer: '10.0.4.2', method: 'GET', path: '/' }))).status?.code ?? 0).toBe(0);

    s.proc.kill('SIGTERM');
    expect(await s.exit).toBe(0);
    for (const pid of now) expect(alive(pid), `worker ${pid} outlived the primary`).toBe(false);
    expect(s.stderr()).toMatch(/"msg":"worker stopped"/);
  });
});
