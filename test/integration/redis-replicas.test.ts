// Three Portcullis processes sharing one Redis behave like one: an attack spread round-robin over them is blocked
// at the same attempt as against a single process, a block made through one is enforced by the others within a
// second, and Org Under Attack is declared once. Real Check and access-log gRPC streams, a real redis-server.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AlsClient, alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient, headerValue } from '../helpers/grpc-client.ts';
import { eventually, lbPolicyYaml } from '../helpers/portcullis.ts';
import { startProcessInstance, type ProcessInstance } from '../helpers/portcullis-process.ts';
import { redisAvailable, startRedisServer, type RedisServer } from '../helpers/redis.ts';

const POLICY = lbPolicyYaml('Block');
const T = Date.UTC(2026, 10, 28, 12);
/** Absent until the first failure (read as 0). */
const FAILURES = 'portcullis_outcomes_total{result="failure"}';

interface Replica {
  readonly p: ProcessInstance;
  readonly authz: AuthzClient;
  readonly als: AlsClient;
}

let redis: RedisServer;
let group: Replica[] = [];
beforeAll(async () => {
  if (redisAvailable()) redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const r of group) {
    r.authz.close();
    r.als.close();
  }
  await Promise.all(group.map((r) => r.p.stop()));
  group = [];
});

async function start(n: number, flags: Record<string, string>, policy = POLICY): Promise<Replica[]> {
  const ps = await Promise.all(Array.from({ length: n }, () => startProcessInstance({ 'p.yaml': policy }, { 'username-key': 'k'.repeat(32), ...flags }, T)));
  group = ps.map((p) => ({ p, authz: new AuthzClient(p.grpcTarget), als: new AlsClient(p.grpcTarget) }));
  return group;
}

const redisFlags = (): Record<string, string> => ({ 'redis-url': redis.url, 'redis-key-prefix': `it${Math.random().toString(36).slice(2, 8)}:` });
let seq = 0;

/** Check, then (if allowed) the app's answer on the access log, as Envoy carries one sign-in. */
async function signIn(r: Replica, client: string, username: string, status: number, password = 'x') {
  const requestId = `req-${++seq}`;
  const res = await r.authz.check(envoyCheckRequest({
    peer: '10.0.0.5',
    body: `username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}`,
    headers: { 'x-forwarded-for': client, 'x-request-id': requestId, 'content-type': 'application/x-www-form-urlencoded' },
  }));
  const denied = res.status?.code !== 0;
  r.als.send([alsEntry({ requestId, status: denied ? 403 : status, xff: client, deniedByExtAuthz: denied })]);
  return res;
}

/** Waits until every replica has the outcomes it was sent, every write is answered and every published row is in. */
async function settle(rs: Replica[], failures: number[]): Promise<void> {
  await Promise.all(rs.map((r, i) => eventually(async () => ((await r.p.metric(FAILURES)) || 0) === failures[i]!, 15_000)));
  for (let pass = 0; pass < 2; pass++) for (const r of rs) await r.p.settled();
}

/** The same brute force as test/integration/threat-detection.test.ts, spread round-robin: failures at 429 and at 403. */
async function bruteForce(rs: Replica[]): Promise<{ rateLimitedAt: number; blockedAt: number }> {
  const attacker = '198.18.7.7';
  const perReplica = rs.map(() => 0);
  let failures = 0;
  let rateLimitedAt = 0;
  for (let i = 0; i < 40; i++) {
    const r = rs[i % rs.length]!;
    const res = await signIn(r, attacker, `user${i}@example.com`, 401);
    if (res.deniedResponse?.status?.code === 'Forbidden') return { rateLimitedAt, blockedAt: failures };
    if (res.status?.code !== 0) {
      rateLimitedAt ||= failures;
      const wait = Number(headerValue(res, 'retry-after')) * 1000;
      await Promise.all(rs.map((x) => x.p.advance(wait)));
      continue;
    }
    failures++;
    perReplica[i % rs.length]!++;
    await settle(rs, perReplica);
    await Promise.all(rs.map((x) => x.p.advance(failures < 5 ? 1000 : 5000)));
  }
  throw new Error('never blocked');
}

// redis-server is required: redisAvailable() throws naming the fix when it is missing (no silent skip).
redisAvailable();
describe('three replicas sharing one Redis', () => {
  it('block an attack spread round-robin at the same attempt as one process does', { timeout: 90_000 }, async () => {
    const single = await bruteForce(await start(1, {}));
    expect(single.rateLimitedAt).toBe(5);
    // Rate-limited first, blocked (HIGH) later: the exact attempt is the profile's (docs/detection.md); what
    // this test holds is that three replicas reach it at the same attempt as one process.
    expect(single.blockedAt).toBeGreaterThan(single.rateLimitedAt);
    await Promise.all(group.map((r) => r.p.stop()));
    group = [];
    const three = await bruteForce(await start(3, redisFlags()));
    // Known gap (docs/redis.md): refused attempts (persistence) reach the other replicas' local view one write
    // round trip later, so a round-robin attack may be blocked one attempt later than on one process.
    expect(three.rateLimitedAt).toBe(single.rateLimitedAt);
    expect(three.blockedAt - single.blockedAt).toBeGreaterThanOrEqual(0);
    expect(three.blockedAt - single.blockedAt).toBeLessThanOrEqual(1);
    // One event per block cluster-wide, from the replica whose write made it.
    const events = (await Promise.all(group.map((r) => r.p.events()))).flat();
    const blocks = events.filter((e) => e.eventType === 'security.threat.detected' && e.debugContext.debugData.blockedUntil);
    expect(blocks.filter((e) => e.outcome.result === 'DENY')).toHaveLength(1);
  });

  it('enforce a block made through one replica on the others within a second', { timeout: 60_000 }, async () => {
    const rs = await start(3, redisFlags());
    const [a, b, c] = rs as [Replica, Replica, Replica];
    const attacker = '198.18.9.9';
    for (let i = 0; i < 4; i++) {
      await signIn(a, attacker, 'alice@example.com', 401);
      await settle([a], [i + 1]);
    }
    // The 5th failure in 10 s, through A only: B and C must refuse the attacker from then on.
    const t0 = performance.now();
    await signIn(a, attacker, 'alice@example.com', 401);
    // Checks only (no outcomes), back to back, on B and C at once.
    const seen = await Promise.all([b, c].map(async (other) => {
      while (performance.now() - t0 < 1000) {
        const res = await other.authz.check(envoyCheckRequest({ peer: '10.0.0.5', headers: { 'x-forwarded-for': attacker } }));
        if (res.status?.code !== 0) return performance.now() - t0;
      }
      return Infinity;
    }));
    console.log(`block propagation (ALS entry to A -> denied by B, C): ${seen.map((ms) => ms.toFixed(1)).join(' ms, ')} ms`);
    expect(Math.max(...seen)).toBeLessThan(1000);
    expect(await b.p.metric('portcullis_store_rows_received_total')).toBeGreaterThan(0);
  });

  it('declare Org Under Attack once, cluster-wide, from outcomes spread over the replicas', { timeout: 120_000 }, async () => {
    const rs = await start(3, redisFlags());
    const sent = rs.map(() => 0);
    let ip = 0;
    const bucket = async (failuresPerReplica: number): Promise<void> => {
      rs.forEach((r, i) => {
        const entries = [];
        for (let k = 0; k < failuresPerReplica; k++) entries.push(alsEntry({ status: 401, xff: `198.19.${++ip >> 8 & 255}.${ip & 255}` }));
        for (let k = 0; k < 20; k++) entries.push(alsEntry({ status: 200, xff: `203.0.113.${k}` }));
        r.als.send(entries);
        sent[i]! += failuresPerReplica;
      });
      await Promise.all(rs.map((r, i) => eventually(async () => ((await r.p.metric(FAILURES)) || 0) === sent[i]!, 15_000)));
      await Promise.all(rs.map((r) => r.p.advance(10_000)));
      for (const r of rs) await r.p.tick();
    };
    for (let b = 0; b < 64; b++) await bucket(3);
    for (let b = 0; b < 5; b++) await bucket(40);
    for (const r of rs) await r.p.tick();
    const events = await Promise.all(rs.map((r) => r.p.events()));
    const starts = events.map((es) => es.filter((e) => e.eventType === 'security.attack.start').length);
    expect(starts.reduce((x, y) => x + y)).toBe(1);
    for (const r of rs) expect(await r.p.metric('portcullis_org_under_attack')).toBe(1);
  });
});

/** Check only (no outcome follows): what the replica answers now. */
async function checkOnly(r: Replica, client: string, username: string, password: string): Promise<number> {
  const res = await r.authz.check(envoyCheckRequest({
    peer: '10.0.0.5',
    body: `username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}`,
    headers: { 'x-forwarded-for': client, 'x-request-id': `req-${++seq}`, 'content-type': 'application/x-www-form-urlencoded' },
  }));
  if (res.status?.code === 0) return 200;
  return res.deniedResponse?.status?.code === 'Forbidden' ? 403 : 429;
}

describe('account signals shared by two replicas (Redis)', () => {
  const policy = `${POLICY}  passwordSignals: { enabled: true }\n`;

  it('a spray password failing through A is one on B, and marks its sources there; familiar networks learnt on A pass on B', { timeout: 90_000 }, async () => {
    const [a, b] = (await start(2, redisFlags(), policy)) as [Replica, Replica];
    await signIn(a, '203.0.113.10', 'ceo@example.com', 200, 'own-secret');
    // Five strangers, five accounts, one password, all through A: a spray password (sprayPasswords.accounts 5).
    for (let i = 0; i < 5; i++) await signIn(a, `198.51.${i}.20`, `victim${i}@example.com`, 401, 'Winter2026!');
    await settle([a], [5]);
    // B saw none of those outcomes. A new stranger carrying it is refused there (429), and the fifth source
    // (marked on A as it failed with a spray password) is refused on B whatever it sends (403).
    await eventually(async () => (await checkOnly(b, '192.0.2.99', 'someone@example.com', 'Winter2026!')) === 429, 10_000);
    expect(await checkOnly(b, '198.51.4.20', 'other@example.com', 'different')).toBe(403);
    // The same on a process alone with B's view: a password that is not sprayed goes on.
    expect(await checkOnly(b, '192.0.2.98', 'someone@example.com', 'not-sprayed')).toBe(200);
    expect(await b.p.metric('portcullis_outcomes_total{result="failure"}')).toBeFalsy();

    // An account failing from five unfamiliar networks through A is under attack on B: strangers get 429 there,
    // while its owner's network (learnt on A from the first success) signs in through B.
    for (let i = 0; i < 5; i++) await signIn(a, `100.${64 + i}.1.7`, 'ceo@example.com', 401, `guess-${i}`);
    await settle([a], [10]);
    await eventually(async () => (await checkOnly(b, '192.0.2.55', 'ceo@example.com', 'guess')) === 429, 10_000);
    expect(await checkOnly(b, '203.0.113.10', 'ceo@example.com', 'own-secret')).toBe(200);
    expect(await b.p.metric('portcullis_store_rows_received_total')).toBeGreaterThanOrEqual(0);
  });

  it('a replica started later reads the familiar networks from the shared stream', { timeout: 90_000 }, async () => {
    const flags = redisFlags();
    const [a] = (await start(1, flags, policy)) as [Replica];
    await signIn(a, '203.0.113.10', 'ceo@example.com', 200, 'own-secret');
    for (let i = 0; i < 5; i++) await signIn(a, `100.${64 + i}.1.7`, 'ceo@example.com', 401, `guess-${i}`);
    await settle([a], [5]);
    const late = await startProcessInstance({ 'p.yaml': policy }, { 'username-key': 'k'.repeat(32), ...flags }, T);
    const b: Replica = { p: late, authz: new AuthzClient(late.grpcTarget), als: new AlsClient(late.grpcTarget) };
    group.push(b);
    // From the stream alone: the account is under attack (strangers 429), its owner's network is familiar (200).
    expect(await checkOnly(b, '192.0.2.55', 'ceo@example.com', 'guess')).toBe(429);
    expect(await checkOnly(b, '203.0.113.10', 'ceo@example.com', 'own-secret')).toBe(200);
  });
});
