// The Redis store must decide exactly as the in-memory engine does: same counters, levels, blocks and
// escalation, because its Lua scripts keep the engine's own row and blocks are decided by the engine's rules.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine, type Outcome } from '../../src/detect/engine.ts';
import { OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { Redis } from 'ioredis';
import { RedisKeys } from '../../src/store/redis/keys.ts';
import { RedisStore } from '../../src/store/redis/store.ts';
import { IP, IP2, rng, T0, v4 } from '../detect/helpers.ts';
import { redisAvailable, redisStoreSettings, startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { KEY, wire } from '../service/wire.ts';
import { parseAddress } from '../../src/net/address.ts';
import { usernameHash } from '../../src/decide/username.ts';
import { passwordFingerprint } from '../../src/decide/password.ts';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

type Step = { kind: 'attempt' } | { kind: 'refused' } | { kind: 'outcome'; outcome: Outcome; unknownUser: boolean };

// redis-server is required: redisAvailable() throws naming the fix when it is missing (no silent skip).
redisAvailable();
describe('Redis store parity with the in-memory engine', () => {
  it('gives identical counters, levels and blocks over a random attack-and-noise sequence', async () => {
    const clock = new ManualClock(T0);
    const memory = new DetectionEngine({ clock, blocking: true });
    const engine = new DetectionEngine({ clock, blocking: true });
    const settings = redisStoreSettings([server.url]);
    const store = new RedisStore({ settings, engine, org: new OrgAttackDetector({ clock }), clock });
    await store.start();
    const memBlocks: string[] = [];
    const redisBlocks: string[] = [];
    store.setListener({ blockStarted: (k, _c, v) => redisBlocks.push(`${k}:${v.blockLevel}:${v.blockedUntilMs}`), attack: () => undefined });
    const keys = [IP, IP2, v4(198, 18, 0, 1), v4(198, 18, 0, 2)];
    const rand = rng(42);
    let persistentSteps = 0;
    try {
      for (let i = 0; i < 1500; i++) {
        const r = rand();
        clock.advance(r < 0.01 ? 20 * 60_000 : r < 0.03 ? 3 * 60_000 : Math.floor(rand() * 1500));
        const key = keys[Math.floor(rand() * keys.length)]!;
        const usernameHash = rand() < 0.9 ? (Math.floor(rand() * 14) * 0x9e3779b1) >>> 0 : undefined;
        const x = rand();
        // The last key never succeeds, so persistence (IPs never seen to succeed) is exercised too.
        const success = key === keys[3] ? 'failure' : 'success';
        const step: Step = x < 0.08 ? { kind: 'refused' } : x < 0.35 ? { kind: 'attempt' } : { kind: 'outcome', outcome: x < 0.85 ? 'failure' : x < 0.97 ? success : 'unknown', unknownUser: rand() < 0.2 };
        const now = clock.nowMs();
        const blocked = memory.evaluate(key, now).blockedUntilMs > now;
        expect(engine.evaluate(key, now).blockedUntilMs > now, `step ${i}: blocked state`).toBe(blocked);
        // Recorded even while blocked (outcomes of requests let through earlier), to exercise MEDIUM -> HIGH.
        const res = step.kind === 'attempt'
          ? memory.recordAttempt(key, { usernameHash })
          : step.kind === 'refused'
            ? memory.recordRefused(key)
            : memory.recordOutcome(key, step.outcome, { usernameHash, unknownUser: step.unknownUser });
        if (res.newlyBlocked) memBlocks.push(`${key}:${res.verdict.blockLevel}:${res.verdict.blockedUntilMs}`);
        if (step.kind === 'attempt') store.recordAttempt(key, { usernameHash }, undefined);
        else if (step.kind === 'refused') store.recordRefused(key, undefined);
        else store.recordOutcome(key, step.outcome, { usernameHash, unknownUser: step.unknownUser }, undefined);
        await store.settled();
        expect(engine.inspect(key, now), `step ${i}`).toEqual(memory.inspect(key, now));
        if (memory.inspect(key, now)?.levels.persistence === 'HIGH') persistentSteps++;
        if (usernameHash !== undefined) expect(engine.accountFailures(key, usernameHash), `step ${i}: account`).toBe(memory.accountFailures(key, usernameHash));
      }
      expect(redisBlocks).toEqual(memBlocks);
      expect(memBlocks.filter((b) => b.includes('HIGH')).length).toBeGreaterThan(2);
      expect(persistentSteps, 'steps where refused attempts were HIGH').toBeGreaterThan(0);
      expect(store.health().degraded).toBe(false);
      // The rows in Redis are the memory engine's rows byte for byte (the local view is only a copy).
      const redis = new Redis(server.port, '127.0.0.1');
      try {
        const rows = await Promise.all(keys.map((k) => redis.getBuffer(new RedisKeys(settings.keyPrefix).row(k))));
        rows.forEach((row, i) => expect(new Uint8Array(row!), `key ${i}`).toEqual(memory.exportRow(keys[i]!)));
      } finally {
        redis.disconnect();
      }
    } finally {
      await store.close();
    }
  });
});

describe('Redis store parity: account signals', () => {
  it('a replica that saw none of the outcomes has the same account and password facts as one process that saw them all', async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const settings = redisStoreSettings([server.url]);
    const redisStore = (engine: DetectionEngine, org: OrgAttackDetector, c: ManualClock) => new RedisStore({ settings, engine, org, clock: c });
    const policy = { passwordSignals: { enabled: true } };
    const memory = wire(policy, undefined, undefined, clock);
    const a = wire(policy, undefined, redisStore, clock);
    const b = wire(policy, undefined, redisStore, clock);
    await (a.store as RedisStore).start();
    await (b.store as RedisStore).start();
    const rand = rng(7);
    const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
    const homes = users.map((_, i) => `203.0.${113 + (i % 3)}.${10 + i}`);
    const strangers = Array.from({ length: 30 }, (_, i) => `198.${18 + (i % 6)}.${i}.9`);
    const passwords = ['Winter2026!', 'Password1', 'Welcome123'];
    const probes: [string, string, string][] = [];
    for (const u of users) for (const ip of [...homes.slice(0, 3), ...strangers.slice(0, 4)]) probes.push([ip, u, passwords[0]!]);
    for (const ip of strangers) probes.push([ip, 'someone-new', 'not-sprayed']);
    const facts = (t: ReturnType<typeof wire>, [ip, user, pw]: [string, string, string]) => {
      const f = t.view.facts(parseAddress(ip)!, usernameHash(KEY, user), passwordFingerprint(KEY, pw));
      return { familiar: f.familiar, accountUnderAttack: f.accountUnderAttack, accountGuessed: f.accountGuessed, sprayPassword: f.sprayPassword, sprayingSource: f.sprayingSource };
    };
    let interesting = 0;
    try {
      for (let i = 0; i < 400; i++) {
        clock.advance(Math.floor(rand() * 8000));
        const u = Math.floor(rand() * users.length);
        const x = rand();
        // Owners at home (successes, typos, a stale password), strangers guessing, and a spray of three passwords.
        const [ip, status, pw] = x < 0.25 ? [homes[u]!, 200, 'own'] : x < 0.35 ? [homes[u]!, 401, 'old-password'] : x < 0.6
          ? [strangers[Math.floor(rand() * strangers.length)]!, 401, `guess-${i}`]
          : [strangers[Math.floor(rand() * strangers.length)]!, 401, passwords[Math.floor(rand() * 3)]!];
        memory.signIn(ip, users[u]!, status, pw);
        a.signIn(ip, users[u]!, status, pw);
        // A's blocks come back with its writes: settled, it decides as the memory process does.
        await a.store.settled();
        if (i % 20 !== 19) continue;
        await b.store.settled();
        for (const p of probes) {
          const want = facts(memory, p);
          expect(facts(a, p), `step ${i}: A ${p.join(' ')}`).toEqual(want);
          expect(facts(b, p), `step ${i}: B ${p.join(' ')}`).toEqual(want);
          if (want.familiar || want.accountUnderAttack || want.sprayPassword || want.sprayingSource || want.accountGuessed) interesting++;
        }
      }
      // The sequence exercised the rules: spray passwords, marked sources, accounts under attack, familiar networks.
      expect(interesting).toBeGreaterThan(50);
      expect(memory.signals.spray.fingerprints).toBeGreaterThan(0);
      expect(b.signals.spray.markedSources).toBe(memory.signals.spray.markedSources);
      expect(b.signals.accounts.size).toBe(memory.signals.accounts.size);
    } finally {
      await a.store.close();
      await b.store.close();
    }
  });
});
