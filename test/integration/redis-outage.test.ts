// Redis killed and restarted in the middle of a load run against a Portcullis process using it: every Check is
// answered (none fails, none waits on Redis), a block made before the outage stays enforced, the store shows
// degraded (metric, /readyz, event) and recovers, and what was counted during the outage reaches Redis.
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { openLoopInChild } from '../../bench/lib/open-loop.ts';
import { parseAddress } from '../../src/net/address.ts';
import { ipKey } from '../../src/detect/ip-key.ts';
import { RedisKeys } from '../../src/store/redis/keys.ts';
import { eventually } from '../helpers/portcullis.ts';
import { metricValue, startProcessInstance, type ProcessInstance } from '../helpers/portcullis-process.ts';
import { redisAvailable, startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { ATTACKER, blockAttacker, OUTAGE_POLICY, outageMessages } from '../helpers/redis-load.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: RedisServer | undefined;
let p: ProcessInstance | undefined;
afterEach(async () => {
  await p?.stop();
  await redis?.stop();
});

// redis-server is required: redisAvailable() throws naming the fix when it is missing (no silent skip).
redisAvailable();
describe('Redis outage under load', () => {
  it('answers every Check, keeps blocks, shows degraded, recovers and replays', { timeout: 120_000 }, async () => {
    redis = await startRedisServer();
    const prefix = 'outage:';
    p = await startProcessInstance({ 'p.yaml': OUTAGE_POLICY }, { 'redis-url': redis.url, 'redis-key-prefix': prefix, 'username-key': 'k'.repeat(32) });
    await blockAttacker(p);
    const rate = 400;
    const seconds = 10;
    const load = openLoopInChild({ target: p.grpcTarget, rate, count: rate * seconds, warmup: rate, messages: outageMessages(), perMessage: true, connections: 2, deadlineMs: 10_000 });
    const seen = { degraded: false, readyz: '', event: false, recovered: false };
    const delays: { p50: number; p99: number; max: number }[] = [];
    const timeline = (async () => {
      await sleep(3000); // 1 s warm-up, 2 s measured with Redis up
      delays.push(await p!.loopDelay());
      await redis!.kill();
      await eventually(async () => (await p!.metric('portcullis_store_degraded')) === 1, 3000);
      seen.degraded = true;
      const r = await fetch(`${p!.httpBase}/readyz`);
      seen.readyz = `${r.status} ${await r.text()}`;
      seen.event = (await p!.events()).some((e) => e.eventType === 'system.store.degraded');
      await sleep(3000);
      delays.push(await p!.loopDelay());
      await redis!.restart();
      await eventually(async () => (await p!.metric('portcullis_store_degraded')) === 0, 15_000);
      seen.recovered = true;
      await sleep(1000);
      delays.push(await p!.loopDelay());
    })();
    const [result] = await Promise.all([load, timeline]);
    console.log(`event-loop delay (ms) before / during / after the outage: ${delays.map((d) => JSON.stringify(d)).join(' / ')}`);
    console.log(`outage run: ${result.completed}/${result.requested} answered, ${result.errors} errors, p50 ${result.latencyUs.p50} µs, p99 ${result.latencyUs.p99} µs, max ${result.latencyUs.max} µs (service p99 ${result.serviceUs.p99} µs)`);

    expect(result.errors).toBe(0);
    expect(result.completed).toBe(result.requested);
    // Nothing waited on Redis: no Check came near the client's deadline. Latency figures belong to the benchmark
    // (bench/redis-check.ts); this bound only catches a Check that waited for a Redis timeout.
    expect(result.latencyUs.max).toBeLessThan(8_000_000);
    // The attacker (message 0) was refused every time, ordinary clients never.
    expect(result.deniedPerMessage![0]).toBe((rate * seconds) / 100);
    expect(result.deniedPerMessage!.slice(1).reduce((a, b) => a + b)).toBe(0);
    expect(seen).toMatchObject({ degraded: true, event: true, recovered: true });
    expect(seen.readyz).toMatch(/^200 [\s\S]*\[\+\]store redis standalone .*degraded since/);

    // Reconciled: the sign-in attempts counted during the outage were replayed into the (restarted, empty)
    // Redis, and the block it lost was given back by the replica that kept enforcing it.
    expect(await p.metric('portcullis_store_events_replayed_total')).toBeGreaterThan(0);
    expect(await p.metric('portcullis_store_outages_total')).toBe(1);
    expect((await p.events()).some((e) => e.eventType === 'system.store.recovered')).toBe(true);
    const direct = new Redis(redis.port, '127.0.0.1');
    try {
      const a = parseAddress(ATTACKER)!;
      const row = await direct.getBuffer(new RedisKeys(prefix).row(ipKey(4, a.w0, 0, 0, 0)));
      expect(row!.readUInt32LE(4) * 1000).toBeGreaterThan(Date.now());
      expect(await direct.dbsize()).toBeGreaterThan(50);
    } finally {
      direct.disconnect();
    }
    expect(await metricValue(p.httpBase, 'portcullis_active_blocks')).toBe(1);
  });
});
