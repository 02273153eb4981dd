import { readFileSync } from 'node:fs';
import { PortcullisError } from '../errors.ts';
import { parseRedisUrl, REDIS_MODES, type RedisSettings } from './redis/endpoint.ts';

/** Where detector state lives: this process, or Redis shared by every replica (docs/redis.md). */
export type StoreSettings = { readonly mode: 'memory' } | { readonly mode: 'redis'; readonly redis: RedisSettings };

/** Rows for SETTING_FLAGS (flag, variable, default, help). */
export const STORE_SETTING_FLAGS = {
  'redis-url': { env: 'PORTCULLIS_REDIS_URL', default: '', help: 'Share detector state with every replica through Redis (docs/redis.md): redis:// or rediss:// (TLS) URL, comma-separated for Cluster seed nodes or Sentinels; an ACL user may be in it. Unset: in memory, per process.' },
  'redis-mode': { env: 'PORTCULLIS_REDIS_MODE', default: 'standalone', help: `Redis deployment: ${REDIS_MODES.join(' | ')}.` },
  'redis-sentinel-master': { env: 'PORTCULLIS_REDIS_SENTINEL_MASTER', default: 'mymaster', help: 'Sentinel: name of the monitored master.' },
  'redis-password': { env: 'PORTCULLIS_REDIS_PASSWORD', default: '', help: 'Redis password (also for Sentinels), inline or file:<path> from a mounted Secret.' },
  'redis-tls-ca': { env: 'PORTCULLIS_REDIS_TLS_CA', default: '', help: 'PEM CA bundle file for TLS to Redis; turns TLS on (as rediss:// does).' },
  'redis-key-prefix': { env: 'PORTCULLIS_REDIS_KEY_PREFIX', default: 'portcullis:', help: 'Prefix of every key and of the block channel: one per cluster or policy sharing a Redis.' },
  'redis-timeout-ms': { env: 'PORTCULLIS_REDIS_TIMEOUT_MS', default: '250', help: 'Bound on each Redis command (writes are off the Check path: a Check never waits on Redis); past it the store is degraded.' },
  'redis-flush-ms': { env: 'PORTCULLIS_REDIS_FLUSH_MS', default: '5', help: 'Longest a sign-in event waits to be batched into Redis.' },
  'redis-buffer-events': { env: 'PORTCULLIS_REDIS_BUFFER_EVENTS', default: '100000', help: 'Sign-in events counted locally during a Redis outage and replayed after it; the oldest beyond are dropped.' },
} as const;

export type StoreSettingFlag = keyof typeof STORE_SETTING_FLAGS;

function int(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new PortcullisError('USAGE', `--${flag}: must be an integer ${min}..${max}, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Store settings from the flag reader: Redis when --redis-url is set, else memory. `secret` resolves file:<path>
 * like the other secret settings; without a URL nothing else is read or checked.
 */
export function readStoreSettings(get: (flag: StoreSettingFlag) => string, secret: (flag: string, value: string) => string): StoreSettings {
  const urls = get('redis-url').split(',').map((s) => s.trim()).filter(Boolean);
  if (urls.length === 0) return Object.freeze({ mode: 'memory' });
  const redisMode = get('redis-mode');
  if (!(REDIS_MODES as readonly string[]).includes(redisMode)) throw new PortcullisError('USAGE', `--redis-mode: must be one of ${REDIS_MODES.join(', ')}, got ${JSON.stringify(redisMode)}`);
  for (const u of urls) {
    try {
      parseRedisUrl(u);
    } catch (err) {
      throw new PortcullisError('USAGE', `--redis-url: ${(err as Error).message.replace(/\/\/[^@/]*@/, '//')}`);
    }
  }
  const caPath = get('redis-tls-ca');
  let tlsCa = '';
  if (caPath) {
    try {
      tlsCa = readFileSync(caPath, 'utf8');
    } catch (err) {
      throw new PortcullisError('USAGE', `--redis-tls-ca: cannot read ${caPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const keyPrefix = get('redis-key-prefix');
  if (/[{}\s]/.test(keyPrefix)) throw new PortcullisError('USAGE', '--redis-key-prefix: no braces (they would change the hash tags) and no spaces');
  const redis: RedisSettings = {
    mode: redisMode as RedisSettings['mode'],
    urls: Object.freeze(urls),
    sentinelMaster: get('redis-sentinel-master'),
    password: secret('redis-password', get('redis-password')),
    tlsCa,
    keyPrefix,
    timeoutMs: int('redis-timeout-ms', get('redis-timeout-ms'), 1, 60_000),
    flushMs: int('redis-flush-ms', get('redis-flush-ms'), 0, 1000),
    bufferEvents: int('redis-buffer-events', get('redis-buffer-events'), 0, 10_000_000),
  };
  return Object.freeze({ mode: 'redis', redis: Object.freeze(redis) });
}

/**
 * Replicas sharing Redis count one account's failures together only if they hash its username with the same
 * secret; a random per-process key would split every account's count by replica. Refused, not warned.
 */
export function requireSharedUsernameKey(store: StoreSettings, usernameKey: string): void {
  if (store.mode === 'redis' && !usernameKey) {
    throw new PortcullisError('USAGE', '--username-key (PORTCULLIS_USERNAME_KEY) is required with --redis-url: every replica must hash usernames with the same secret (>= 16 chars, or file:<path> from a mounted Secret)');
  }
}
