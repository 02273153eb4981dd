// Connecting as the settings say: TLS with a CA file and a password from a mounted Secret, Sentinel, and a
// refused password (degraded, never a crash). Real redis-server processes of the tests' own.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { readSettings } from '../../src/settings.ts';
import type { RedisSettings } from '../../src/store/redis/endpoint.ts';
import { RedisKeys } from '../../src/store/redis/keys.ts';
import { RedisStore } from '../../src/store/redis/store.ts';
import { IP, T0 } from '../detect/helpers.ts';
import { redisAvailable, selfSignedCert, startRedisServer, type RedisServer } from '../helpers/redis.ts';

const cleanup: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f();
});

function redisSettingsFrom(flags: Record<string, string>): RedisSettings {
  const s = readSettings(flags, {}).store;
  if (s.mode !== 'redis') throw new Error('expected the Redis store');
  return s.redis;
}

async function recordOne(settings: RedisSettings): Promise<RedisStore> {
  const clock = new ManualClock(T0);
  const store = new RedisStore({ settings, engine: new DetectionEngine({ clock }), org: new OrgAttackDetector({ clock }), clock, startTimeoutMs: 2000 });
  cleanup.push(() => store.close());
  await store.start();
  store.recordOutcome(IP, 'failure', {}, undefined);
  await store.settled();
  return store;
}

// redis-server is required: redisAvailable() throws naming the fix when it is missing (no silent skip).
redisAvailable();
describe('connecting to Redis', () => {
  it('uses TLS with --redis-tls-ca and a password from file:<path>', async () => {
    const tls = selfSignedCert();
    cleanup.push(() => rmSync(tls.dir, { recursive: true, force: true }));
    const server = await startRedisServer({ tls, password: 's3cret-from-a-secret' });
    cleanup.push(() => server.stop());
    const secret = join(tls.dir, 'password');
    writeFileSync(secret, 's3cret-from-a-secret\n');
    expect(server.url).toMatch(/^rediss:/);
    const settings = redisSettingsFrom({ 'redis-url': server.url, 'redis-tls-ca': tls.cert, 'redis-password': `file:${secret}`, 'redis-key-prefix': 'tls:' });
    const store = await recordOne(settings);
    expect(store.health().degraded).toBe(false);
    expect(server.cli('exists', new RedisKeys('tls:').row(IP))).toBe('1');
    expect(store.health().detail).not.toContain('s3cret');
  });

  it('starts degraded (and keeps deciding) when the password is refused', async () => {
    const server = await startRedisServer({ password: 'right-password' });
    cleanup.push(() => server.stop());
    const store = await recordOne(redisSettingsFrom({ 'redis-url': server.url, 'redis-password': 'wrong-password' }));
    expect(store.health().degraded).toBe(true);
    expect(store.health().detail).toMatch(/WRONGPASS|NOAUTH|invalid/i);
    expect(store.engine.inspect(IP)!.counters.failuresShort).toBe(1);
  });

  it('finds the master through Sentinel', async () => {
    const master: RedisServer = await startRedisServer();
    cleanup.push(() => master.stop());
    const sentinel = await startRedisServer({ sentinelFor: master.port });
    cleanup.push(() => sentinel.stop());
    const store = await recordOne(redisSettingsFrom({ 'redis-url': sentinel.url, 'redis-mode': 'sentinel', 'redis-sentinel-master': 'mymaster', 'redis-key-prefix': 'sen:' }));
    expect(store.health().degraded).toBe(false);
    expect(master.cli('exists', new RedisKeys('sen:').row(IP))).toBe('1');
  });

  it('refuses bad settings at start, not later', () => {
    expect(() => readSettings({ 'redis-url': 'http://x' }, {})).toThrow(/--redis-url/);
    expect(() => readSettings({ 'redis-url': 'redis://h:6379', 'redis-mode': 'ring' }, {})).toThrow(/--redis-mode/);
    expect(() => readSettings({ 'redis-url': 'redis://h:6379', 'redis-key-prefix': 'a{b}' }, {})).toThrow(/--redis-key-prefix/);
    expect(readSettings({}, {}).store).toEqual({ mode: 'memory' });
    expect(readSettings({}, { PORTCULLIS_REDIS_URL: 'redis://h:6379' }).store.mode).toBe('redis');
  });
});
