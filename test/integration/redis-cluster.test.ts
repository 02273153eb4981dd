// A 3-node Redis Cluster made with `redis-cli --cluster create`: clients' keys spread over every node, one
// client's keys on one slot, blocks enforced; one node killed under load: every Check answered, degraded shown,
// recovery once the node is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLoopInChild } from '../../bench/lib/open-loop.ts';
import { AlsClient, alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { eventually } from '../helpers/portcullis.ts';
import { startProcessInstance, type ProcessInstance } from '../helpers/portcullis-process.ts';
import { redisAvailable, startRedisCluster, type RedisCluster } from '../helpers/redis.ts';
import { blockAttacker, OUTAGE_POLICY, outageMessages } from '../helpers/redis-load.ts';

let cluster: RedisCluster | undefined;
let p: ProcessInstance | undefined;
let p2: ProcessInstance | undefined;
beforeAll(async () => {
  if (redisAvailable()) cluster = await startRedisCluster(3);
}, 60_000);
afterAll(async () => {
  await p2?.stop();
  await p?.stop();
  await cluster?.stop();
});

const prefix = 'cl:';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// redis-server is required: redisAvailable() throws naming the fix when it is missing (no silent skip).
redisAvailable();
describe('Redis Cluster (3 masters)', () => {
  it('spreads clients over the nodes, keeps one client on one slot, and enforces blocks on every replica', { timeout: 60_000 }, async () => {
    const flags = { 'redis-url': cluster!.urls.join(','), 'redis-mode': 'cluster', 'redis-key-prefix': prefix, 'username-key': 'k'.repeat(32) };
    [p, p2] = await Promise.all([startProcessInstance({ 'p.yaml': OUTAGE_POLICY }, flags), startProcessInstance({ 'p.yaml': OUTAGE_POLICY }, flags)]);
    const authz = new AuthzClient(p.grpcTarget);
    const authz2 = new AuthzClient(p2.grpcTarget);
    const als = new AlsClient(p.grpcTarget);
    try {
      // 60 clients, each with a failure for a username: a row and a pairs hash per client.
      for (let i = 0; i < 60; i++) als.send([alsEntry({ status: 401, xff: `198.51.100.${i + 1}` })]);
      await blockAttacker(p);
      await p.settled();
      const sizes = cluster!.nodes.map((n) => Number(n.cli('dbsize')));
      expect(sizes.every((n) => n > 0), `keys per node: ${sizes.join(', ')}`).toBe(true);
      const slot = (k: string) => cluster!.nodes[0]!.cli('cluster', 'keyslot', k);
      expect(slot(`${prefix}{198.18.66.6}:r`)).toBe(slot(`${prefix}{198.18.66.6}:p`));
      expect(slot(`${prefix}{org}:state`)).toBe(slot(`${prefix}{org}:b:1`));
      const denied = await authz.check(envoyCheckRequest({ peer: '10.0.0.5', headers: { 'x-forwarded-for': '198.18.66.6' } }));
      expect(denied.deniedResponse?.status?.code).toBe('Forbidden');
      // The other replica learnt the block through the Cluster's pub/sub.
      await eventually(async () => (await authz2.check(envoyCheckRequest({ peer: '10.0.0.5', headers: { 'x-forwarded-for': '198.18.66.6' } }))).deniedResponse?.status?.code === 'Forbidden', 1000);
      expect(await p.metric('portcullis_store_degraded')).toBe(0);
      await p2.stop();
      p2 = undefined;
    } finally {
      authz.close();
      authz2.close();
      als.close();
    }
  });

  it('answers every Check with a node down, shows degraded, and recovers when it returns', { timeout: 90_000 }, async () => {
    const victim = cluster!.nodes[1]!;
    const rate = 300;
    const seconds = 9;
    const load = openLoopInChild({ target: p!.grpcTarget, rate, count: rate * seconds, warmup: rate, messages: outageMessages(), perMessage: true, connections: 2, deadlineMs: 10_000 });
    const seen = { degraded: false, recovered: false };
    const timeline = (async () => {
      await sleep(2500);
      await victim.kill();
      await eventually(async () => (await p!.metric('portcullis_store_degraded')) === 1, 5000);
      seen.degraded = true;
      await sleep(2000);
      await victim.restart(); // same nodes.conf: it takes its slots back (empty: no persistence)
      await cluster!.waitOk();
      await eventually(async () => (await p!.metric('portcullis_store_degraded')) === 0, 20_000).catch(async () => {
        throw new Error(`not recovered: ${await (await fetch(`${p!.httpBase}/readyz`)).text()}`);
      });
      seen.recovered = true;
    })();
    const [result] = await Promise.all([load, timeline]);
    console.log(`cluster node outage: ${result.completed}/${result.requested} answered, ${result.errors} errors, p50 ${result.latencyUs.p50} µs, p99 ${result.latencyUs.p99} µs, max ${result.latencyUs.max} µs`);
    expect(result.errors).toBe(0);
    expect(result.completed).toBe(result.requested);
    expect(result.deniedPerMessage![0]).toBe((rate * seconds) / 100);
    expect(seen).toEqual({ degraded: true, recovered: true });
    expect(await p!.metric('portcullis_store_events_replayed_total')).toBeGreaterThan(0);
  });
});
