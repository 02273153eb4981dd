import { backoffDelay } from '../../backoff.ts';
import { createHash } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { SCRIPTS, type ScriptName } from './scripts.ts';
import { parseRedisUrl, type RedisSettings } from './endpoint.ts';

export type RedisClient = Redis | Cluster;

/** Reconnect backoff with jitter: 100 ms doubling to 3 s, so replicas do not reconnect in lockstep. */
export function backoffMs(attempt: number): number {
  return Math.round(backoffDelay(attempt, 100, 3000));
}

/**
 * A client for the mode. `subscriber` connections queue commands while offline (SUBSCRIBE is replayed on
 * reconnect); command connections fail fast instead, so nothing waits on a Redis that is down.
 */
export function createRedisClient(s: RedisSettings, role: 'command' | 'subscriber'): RedisClient {
  const endpoints = s.urls.map(parseRedisUrl);
  const first = endpoints[0];
  if (!first) throw new RangeError('no Redis URL given');
  const tls = first.tls || s.tlsCa !== '' ? { ...(s.tlsCa ? { ca: s.tlsCa } : {}) } : undefined;
  const password = s.password || first.password;
  const command = role === 'command';
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: !command,
    maxRetriesPerRequest: command ? 0 : null,
    ...(command ? { commandTimeout: s.timeoutMs } : {}),
    connectTimeout: Math.max(1000, s.timeoutMs * 4),
    enableAutoPipelining: command,
    autoResendUnfulfilledCommands: false,
    retryStrategy: backoffMs,
    ...(first.username ? { username: first.username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls } : {}),
  };
  if (s.mode === 'cluster') {
    const options: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: !command,
      // Auto-pipelined commands do not follow MOVED (they fail instead): per-command routing follows it.
      enableAutoPipelining: false,
      slotsRefreshInterval: 5000,
      clusterRetryStrategy: backoffMs,
      // Fail fast while a slot has no master: the store degrades instead of queueing.
      retryDelayOnClusterDown: 0,
      retryDelayOnFailover: 0,
      maxRedirections: 3,
      redisOptions: nodeOptions(common),
    };
    return new Cluster(endpoints.map((e) => ({ host: e.host, port: e.port })), options);
  }
  if (s.mode === 'sentinel') {
    return new Redis({
      ...common,
      sentinels: endpoints.map((e) => ({ host: e.host, port: e.port })),
      name: s.sentinelMaster,
      ...(password ? { sentinelPassword: password } : {}),
      ...(tls ? { sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      sentinelRetryStrategy: backoffMs,
      ...(first.db !== undefined ? { db: first.db } : {}),
    });
  }
  return new Redis({ ...common, host: first.host, port: first.port, ...(first.db !== undefined ? { db: first.db } : {}) });
}

/** Per-node options of a Cluster: reconnection and queueing are the Cluster's own. */
function nodeOptions(o: RedisOptions): ClusterOptions['redisOptions'] {
  const { retryStrategy: _r, enableOfflineQueue: _q, lazyConnect: _l, ...rest } = o;
  return rest;
}

export const SCRIPT_SHAS: Record<ScriptName, string> = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, src]) => [name, createHash('sha1').update(src).digest('hex')]),
) as Record<ScriptName, string>;

/** Timeouts are ambiguous (the script may have run); every other failure means it did not. */
export function isTimeout(err: unknown): boolean {
  return err instanceof Error && /timed out/i.test(err.message);
}

interface BufferScripting {
  evalshaBuffer(sha: string, numKeys: number, ...rest: (string | number | Buffer)[]): Promise<unknown>;
  evalBuffer(script: string, numKeys: number, ...rest: (string | number | Buffer)[]): Promise<unknown>;
}

/**
 * EVALSHA with the scripts loaded once per master (SCRIPT LOAD); a NOSCRIPT answer (SCRIPT FLUSH, a
 * restarted or new node) runs the script once with EVAL, which caches it there, and reloads everywhere.
 */
export class ScriptRunner {
  reloads = 0;
  #loading: Promise<void> | undefined;

  constructor(private readonly client: RedisClient) {}

  /** SCRIPT LOAD on every master; rejects if one fails. */
  load(): Promise<void> {
    this.#loading ??= (async () => {
      const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
      await Promise.all(nodes.flatMap((n) => Object.values(SCRIPTS).map((src) => n.script('LOAD', src))));
    })().finally(() => {
      this.#loading = undefined;
    });
    return this.#loading;
  }

  async run(name: ScriptName, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    // The Buffer variants exist for every command but are not all typed; call() breaks under auto-pipelining.
    const c = this.client as unknown as BufferScripting;
    try {
      return await c.evalshaBuffer(SCRIPT_SHAS[name], keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      this.reloads++;
      this.load().catch(() => undefined);
      return c.evalBuffer(SCRIPTS[name], keys.length, ...keys, ...args);
    }
  }
}
