// Org Under Attack shared by three replicas through Redis: the baseline is learnt from everyone's outcomes,
// the attack is declared once (one replica reports it), and every replica switches to the aggressive profile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import type { AttackTransition } from '../../src/detect/org-attack.ts';
import { OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { RedisStore } from '../../src/store/redis/store.ts';
import { rng, T0, v4 } from '../detect/helpers.ts';
import { redisAvailable, redisStoreSettings, startRedisServer, type RedisServer } from '../helpers/redis.ts';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

// redis-server is required: redisAvailable() throws naming the fix when it is missing (no silent skip).
redisAvailable();
describe('shared Org Under Attack', () => {
  it('declares one attack cluster-wide from outcomes spread over three replicas, and ends it once', async () => {
    const clock = new ManualClock(T0 + 5_000);
    const settings = redisStoreSettings([server.url]);
    const transitions: { replica: number; t: AttackTransition }[] = [];
    const stores = await Promise.all([0, 1, 2].map(async (replica) => {
      const store = new RedisStore({ settings, engine: new DetectionEngine({ clock }), org: new OrgAttackDetector({ clock }), clock });
      store.setListener({ blockStarted: () => undefined, attack: (t) => transitions.push({ replica, t }) });
      await store.start();
      return store;
    }));
    const rand = rng(7);
    let ip = 1;
    // Each replica sees a third of the org's traffic: failures per bucket in total = 3 x perReplica.
    const bucket = async (failuresPerReplica: number): Promise<void> => {
      for (const s of stores) {
        for (let i = 0; i < failuresPerReplica + Math.floor(rand() * 3); i++) s.recordOrgOutcome('failure', { clientKey: v4(198, 18, ip >> 8, ip++ & 255) }, clock.nowMs());
        for (let i = 0; i < 20; i++) s.recordOrgOutcome('success', {}, clock.nowMs());
      }
      clock.advance(10_000);
      for (const s of stores) s.tick(clock.nowMs());
      await Promise.all(stores.map((s) => s.settled()));
    };
    try {
      for (let b = 0; b < 65; b++) await bucket(2); // 10 min warm-up at ~9 failures per bucket
      expect(transitions).toEqual([]);
      expect(stores[0]!.org.state.warmingUp).toBe(false);
      for (let b = 0; b < 4; b++) await bucket(40); // a 13x surge
      expect(transitions.map((x) => x.t.type)).toEqual(['start']);
      for (const s of stores) {
        expect(s.org.underAttack).toBe(true);
        expect(s.engine.aggressive).toBe(true);
      }
      // The baseline every replica shows is the org-wide one, not a third of it.
      expect(stores[2]!.org.state.baseline.failures.mean).toBeGreaterThan(6);
      for (let b = 0; b < 32; b++) await bucket(2); // quiet for the 5 min cool-down
      expect(transitions.map((x) => x.t.type)).toEqual(['start', 'end']);
      for (const s of stores) expect(s.engine.aggressive).toBe(false);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
