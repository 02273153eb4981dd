// Redis settings and URL parsing, apart from the client: settings.ts reads them at start-up, and ioredis is
// loaded only when a Redis store is configured (it adds ~13 MB of RSS to a memory-store sidecar).

export const REDIS_MODES = ['standalone', 'sentinel', 'cluster'] as const;
export type RedisMode = (typeof REDIS_MODES)[number];

export interface RedisSettings {
  readonly mode: RedisMode;
  /** standalone: one URL; cluster: seed nodes; sentinel: the sentinels. redis:// or rediss:// (TLS). */
  readonly urls: readonly string[];
  /** Sentinel: the monitored master's name. */
  readonly sentinelMaster: string;
  /** From a Secret (file:<path>); overrides a password in the URL. */
  readonly password: string;
  /** PEM CA bundle for TLS (content); implies TLS. */
  readonly tlsCa: string;
  readonly keyPrefix: string;
  /** Bound on every Redis command of the write path; past it the store is degraded. */
  readonly timeoutMs: number;
  /** Longest time a write waits to be batched. */
  readonly flushMs: number;
  /** Events counted locally during an outage and replayed afterwards (the oldest beyond are dropped). */
  readonly bufferEvents: number;
}

export interface Endpoint {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls: boolean;
}

export function parseRedisUrl(text: string): Endpoint {
  const u = new URL(text.includes('://') ? text : `redis://${text}`);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new RangeError(`not a redis:// or rediss:// URL: ${text}`);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !Number.isInteger(db)) throw new RangeError(`bad database number in ${u.protocol}//${u.host}${u.pathname}`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined ? { db } : {}),
    tls: u.protocol === 'rediss:',
  };
}
