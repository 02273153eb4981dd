// The Redis store against a real redis-server of its own: atomic updates under concurrent writers, one block per
// decision across replicas, TTL on every key, hash tags, NOSCRIPT recovery, and an outage with its replay.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine, type Verdict } from '../../src/detect/engine.ts';
import { OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { SCRIPT_SHAS } from '../../src/store/redis/client.ts';
import { compileDetection } from '../../src/config/detection.ts';
import type { RedisSettings } from '../../src/store/redis/endpoint.ts';
import { RedisKeys } from '../../src/store/redis/keys.ts';
import { RedisStore } from '../../src/store/redis/store.ts';
import { IP, IP2, T0, v4 } from '../detect/helpers.ts';
import { eventually } from '../helpers/portcullis.ts';
import { redisAvailable, redisStoreSettings, startRedisServer, type RedisServer } from '../helpers/redis.ts';

let server: RedisServer;
let redis: Redis;
beforeAll(async () => {
  server = await startRedisServer();
  redis = new Redis(server.port, '127.0.0.1');
});
afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

interface Replica {
  store: RedisStore;
  blocks: Verdict[];
}

async function replicas(n: number, clock: ManualClock, settings: RedisSettings): Promise<Replica[]> {
  return Promise.all(Array.from({ length: n }, async () => {
    const engine = new DetectionEngine({ clock, blocking: true });
    const store = new RedisStore({ settings, engine, org: new OrgAttackDetector({ clock }), clock });
    const r: Replica = { store, blocks: [] };
    store.setListener({ blockStarted: (_k, _c, v) => r.blocks.push(v), attack: () => undefined });
    await store.start();
    return r;
  }));
}

// redis-server is required: redisAvailable() throws naming the fix when it is missing (no silent skip).
redisAvailable();
describe('RedisStore on a real Redis', () => {
  it('applies concurrent writers atomically and starts each block exactly once', async () => {
    const clock = new ManualClock(T0);
    const settings = redisStoreSettings([server.url]);
    const rs = await replicas(4, clock, settings);
    try {
      // 4 replicas x 50 failures for one IP, all in flight together.
      for (let i = 0; i < 50; i++) for (const r of rs) r.store.recordOutcome(IP, 'failure', {}, '203.0.113.7');
      await Promise.all(rs.map((r) => r.store.settled()));
      const row = (await redis.getBuffer(new RedisKeys(settings.keyPrefix).row(IP)))!;
      expect(row[22]).toBe(200); // 10 min window, current bucket: no increment lost
      const started = rs.flatMap((r) => r.blocks);
      expect(started.filter((v) => v.blockLevel === 'HIGH')).toHaveLength(1);
      expect(started.filter((v) => v.blockLevel === 'MEDIUM').length).toBeLessThanOrEqual(1);
      // Every replica's view has the block, from its own writes or from the channel.
      await eventually(() => rs.every((r) => r.store.engine.evaluate(IP).blockLevel === 'HIGH'), 2000);
      expect(rs[0]!.store.engine.inspect(IP)!.counters.offences).toBe(1);
    } finally {
      await Promise.all(rs.map((r) => r.store.close()));
    }
  });

  it('puts a block made through one replica into the others\' view within a second (pub/sub)', async () => {
    const clock = new ManualClock(T0);
    const [a, b] = await replicas(2, clock, redisStoreSettings([server.url]));
    try {
      const times: number[] = [];
      for (let k = 0; k < 5; k++) {
        const key = v4(198, 18, 20, k);
        for (let i = 0; i < 4; i++) a!.store.recordOutcome(key, 'failure', {}, undefined);
        await a!.store.settled();
        const t0 = performance.now();
        a!.store.recordOutcome(key, 'failure', {}, undefined); // 5th in 10 s: MEDIUM
        await eventually(() => b!.store.engine.evaluate(key).blockLevel === 'MEDIUM', 1000);
        times.push(performance.now() - t0);
      }
      console.log(`event at A -> block enforced by B: ${times.map((t) => t.toFixed(1)).join(', ')} ms`);
      expect(b!.blocks).toEqual([]); // one event per block: from the replica that made it
    } finally {
      await Promise.all([a!.store.close(), b!.store.close()]);
    }
  });

  it('sets a TTL on every key and hash-tags every key of one client alike', async () => {
    const clock = new ManualClock(T0);
    const settings = redisStoreSettings([server.url]);
    const [r] = await replicas(1, clock, settings);
    const store = r!.store;
    try {
      for (let i = 0; i < 12; i++) {
        store.recordAttempt(IP, { usernameHash: i }, undefined);
        store.recordOutcome(IP, 'failure', { usernameHash: i, unknownUser: i % 2 === 0 }, undefined);
        store.recordOrgOutcome('failure', { clientKey: IP }, clock.nowMs());
      }
      store.recordOutcome(v4(198, 51, 100, 1), 'success', { usernameHash: 1 }, undefined);
      await store.settled();
      clock.advance(15_000);
      store.tick(clock.nowMs());
      await store.settled();
      const keys = await redis.keys(`${settings.keyPrefix}*`);
      expect(keys.sort()).toEqual([
        `${settings.keyPrefix}{198.51.100.1}:r`,
        `${settings.keyPrefix}{203.0.113.7}:p`,
        `${settings.keyPrefix}{203.0.113.7}:r`,
        `${settings.keyPrefix}{blocks}:active`,
        `${settings.keyPrefix}{org}:b:${Math.floor(T0 / 10_000)}`,
        `${settings.keyPrefix}{org}:i:${Math.floor(T0 / 10_000)}`,
        `${settings.keyPrefix}{org}:state`,
      ].sort());
      for (const k of keys) expect(await redis.ttl(k), k).toBeGreaterThan(0);
      // A blocked client's row lives until its block and offence memory end: 15 min + 1 day here.
      expect(await redis.ttl(`${settings.keyPrefix}{203.0.113.7}:r`)).toBeGreaterThan(86_400 + 14 * 60);
      expect(await redis.ttl(`${settings.keyPrefix}{198.51.100.1}:r`)).toBeLessThanOrEqual(2 * 86_400);
    } finally {
      await store.close();
    }
  });

  it('recovers from SCRIPT FLUSH (NOSCRIPT): runs the script with EVAL and loads it again', async () => {
    const clock = new ManualClock(T0);
    const [r] = await replicas(1, clock, redisStoreSettings([server.url]));
    const store = r!.store;
    try {
      expect(await redis.script('EXISTS', SCRIPT_SHAS.record)).toEqual([1]);
      await redis.script('FLUSH');
      store.recordOutcome(IP, 'failure', {}, undefined);
      await store.settled();
      expect(store.health().degraded).toBe(false);
      expect(store.counters().scriptReloads).toBe(1);
      expect(store.engine.inspect(IP)!.counters.failuresShort).toBe(1);
      await eventually(async () => (await redis.script('EXISTS', SCRIPT_SHAS.record) as number[])[0] === 1, 2000);
    } finally {
      await store.close();
    }
  });

  it('keeps deciding and counting during an outage, then replays into Redis', async () => {
    const own = await startRedisServer();
    const clock = new ManualClock(T0);
    const settings = redisStoreSettings([own.url]);
    const health: string[] = [];
    const engine = new DetectionEngine({ clock, blocking: true });
    const store = new RedisStore({ settings, engine, org: new OrgAttackDetector({ clock }), clock, onHealth: (h) => health.push(h.degraded ? 'degraded' : 'ok') });
    const blocks: Verdict[] = [];
    store.setListener({ blockStarted: (_k, _c, v) => blocks.push(v), attack: () => undefined });
    await store.start();
    const attacker = v4(198, 18, 3, 3);
    const blockedBefore = v4(198, 18, 4, 4);
    try {
      for (let i = 0; i < 3; i++) store.recordOutcome(attacker, 'failure', {}, undefined);
      for (let i = 0; i < 10; i++) store.recordOutcome(blockedBefore, 'failure', {}, undefined);
      await store.settled();
      expect(engine.evaluate(blockedBefore).blockLevel).toBe('HIGH');
      await own.kill();
      await eventually(() => store.health().degraded, 2000);
      // Counted locally: the 5th failure in 10 s rate-limits (MEDIUM) with no Redis at all.
      for (let i = 0; i < 3; i++) store.recordOutcome(attacker, 'failure', {}, undefined);
      expect(engine.evaluate(attacker).blockLevel).toBe('MEDIUM');
      // One HIGH for the 10 failures sent in one batch, then the MEDIUM made locally.
      expect(blocks.map((v) => v.blockLevel)).toEqual(['HIGH', 'MEDIUM']);
      expect(store.health()).toMatchObject({ degraded: true, buffered: 3 });
      await own.restart(); // empty: no persistence
      await eventually(async () => {
        store.tick(clock.nowMs());
        await store.settled();
        return !store.health().degraded;
      }, 10_000);
      expect(health).toEqual(['degraded', 'ok']);
      expect(store.stats.replayed).toBe(3);
      // The restarted Redis has the replayed failures and the block made during the outage.
      const direct = new Redis(own.port, '127.0.0.1');
      const keys = new RedisKeys(settings.keyPrefix);
      const [row, before] = await Promise.all([direct.getBuffer(keys.row(attacker)), direct.getBuffer(keys.row(blockedBefore))]).finally(() => direct.disconnect());
      expect(row![22]).toBe(3); // 10 min failures: replayed once, not copied and replayed
      const copy = new DetectionEngine({ clock, blocking: true });
      copy.loadRow(attacker, row!);
      copy.loadRow(blockedBefore, before!);
      expect(copy.evaluate(attacker).blockLevel).toBe('MEDIUM');
      // A block Redis lost in the restart is given back by the replica that still enforces it.
      expect(copy.evaluate(blockedBefore).blockLevel).toBe('HIGH');
      expect(blocks).toHaveLength(2); // no second event for blocks shared after the outage
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('spec.detection at start reshapes every replica: the script counts with its windows, blocks loaded before are kept, the org state takes its bucket width', async () => {
    const clock = new ManualClock(T0);
    const settings = redisStoreSettings([server.url]);
    const [a] = await replicas(1, clock, settings);
    const later: Replica[] = [];
    try {
      // A HIGH block made through A before the others start (with the defaults).
      for (let i = 0; i < 11; i++) a!.store.recordOutcome(IP2, 'failure', {}, '198.51.100.9');
      await a!.store.settled();
      await eventually(() => a!.store.engine.evaluate(IP2).blockLevel === 'HIGH', 2000);
      // B and C start (loading that block), then get the policy: a 20 s short window at 3 failures, 5 s org buckets.
      later.push(...await replicas(2, clock, settings));
      await eventually(() => later.every((r) => r.store.engine.evaluate(IP2).blockLevel === 'HIGH'), 2000);
      const d = compileDetection({ bruteForceShort: { window: '20s', low: 2, medium: 3, high: 6 }, orgUnderAttack: { bucket: '5s' } });
      if (!('settings' in d)) throw new Error('policy did not compile');
      for (const r of [a!, ...later]) expect(r.store.configure(d.settings, true)).toEqual([]);
      const [b, c] = later;
      expect(b!.store.engine.thresholds.bruteForceShort.windowMs).toBe(20_000);
      expect(b!.store.engine.evaluate(IP2).blockLevel).toBe('HIGH'); // carried over by the reshape
      // Three failures 8 s apart through B are three in 20 s only if the record script counts 20 s rings.
      for (let i = 0; i < 3; i++) {
        b!.store.recordOutcome(IP, 'failure', {}, '203.0.113.7');
        await b!.store.settled();
        clock.advance(8000);
      }
      await eventually(() => c!.store.engine.evaluate(IP).blockLevel === 'MEDIUM', 2000);
      // The org state was created at 10 s buckets (at start, before the policy); it is now shared at 5 s.
      for (const r of [a!, b!, c!]) r.store.tick(clock.nowMs());
      await Promise.all([a!, b!, c!].map((r) => r.store.settled()));
      await eventually(async () => JSON.parse((await redis.hget(new RedisKeys(settings.keyPrefix).orgState, 's'))!).bucketMs === 5000, 3000);
      clock.advance(12_000);
      for (const r of [a!, b!, c!]) r.store.tick(clock.nowMs());
      await Promise.all([a!, b!, c!].map((r) => r.store.settled()));
      for (const r of [a!, b!, c!]) expect(r.store.health().degraded, r.store.health().detail).toBe(false);
      expect(c!.store.org.options.bucketMs).toBe(5000);
    } finally {
      await Promise.all([a!, ...later].map((r) => r.store.close()));
    }
  });
});
