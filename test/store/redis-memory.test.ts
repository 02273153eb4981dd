// Redis memory per tracked client, measured the way docs/redis.md reports it (bench/redis-check.ts), kept
// honest: a bound well above the documented figures catches a layout change that would multiply them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureRedisMemory } from '../../bench/redis-check.ts';
import { redisAvailable, startRedisServer, type RedisServer } from '../helpers/redis.ts';

let server: RedisServer;
beforeAll(async () => {
  if (redisAvailable()) server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

// redis-server is required: redisAvailable() throws naming the fix when it is missing (no silent skip).
redisAvailable();
describe('Redis memory per client IP', () => {
  it('is a few hundred bytes: a 35-byte row, plus a small hash once a username failed', async () => {
    const m = await measureRedisMemory(server, 2000);
    console.log(`bytes per client IP: row ${m.bytesPerIpRow}, row + pairs ${m.bytesPerIpRowAndPairs}; MEMORY USAGE ${JSON.stringify(m.memoryUsage)}`);
    expect(m.bytesPerIpRow).toBeGreaterThan(35);
    expect(m.bytesPerIpRow).toBeLessThan(260);
    expect(m.bytesPerIpRowAndPairs).toBeLessThan(450);
    expect(Object.values(m.memoryUsage).every((b) => b > 0 && b < 200)).toBe(true);
  });
});
