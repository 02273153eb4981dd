import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { ReadinessCheck, RouteHandler } from '../adapters/http/ops-server.ts';
import type { Clock } from '../clock.ts';
import type { DetectionEngine } from '../detect/engine.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { OrgAttackDetector } from '../detect/org-attack.ts';
import { parseAddress, type Address } from '../net/address.ts';
import { storeHealthEvent, type EventSink } from '../telemetry/events.ts';
import type { Logger } from '../telemetry/logger.ts';
import { registerStoreMetrics } from '../telemetry/store-metrics.ts';
import { MemoryStore } from './memory.ts';
import { RedisStore } from './redis/store.ts';
import type { StoreSettings } from './settings.ts';
import type { DetectorStore } from './store.ts';

export interface StoreDeps {
  readonly engine: DetectionEngine;
  readonly org: OrgAttackDetector;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly events: EventSink;
  readonly registry: Registry;
}

/** The store the settings ask for, started, with its metrics, log lines and events wired. */
export async function createStore(settings: StoreSettings, d: StoreDeps): Promise<DetectorStore> {
  let store: DetectorStore;
  if (settings.mode === 'memory') store = new MemoryStore(d.engine, d.org);
  else {
    const redis = new RedisStore({
      settings: settings.redis,
      engine: d.engine,
      org: d.org,
      clock: d.clock,
      onHealth: (h, reason) => {
        const line = { store: 'redis', reason, bufferedEvents: h.buffered };
        if (h.degraded) d.logger.warn(line, 'store degraded: deciding and counting on local state');
        else d.logger.info(line, 'store recovered: shared state again');
        d.events.emit(storeHealthEvent(randomUUID(), d.clock.nowMs(), { degraded: h.degraded, reason, mode: h.mode, buffered: h.buffered }));
      },
    });
    await redis.start();
    if (!redis.degraded) d.logger.info({ store: redis.health().detail }, 'store connected');
    store = redis;
  }
  registerStoreMetrics(d.registry, () => ({ health: store.health(), counters: store.counters() }));
  return store;
}

/** /readyz line. Degraded is still ready: the replica decides on local state, and failing readiness on every pod at once would take sign-in down with Redis. */
export function storeReadiness(store: DetectorStore): ReadinessCheck {
  return { name: 'store', check: () => ({ ok: true, detail: store.health().detail }) };
}

/** Wraps the admin endpoint so it shows the shared state of the client asked about, not only the local copy. */
export function withStoreRefresh(handler: RouteHandler, store: DetectorStore, keyOf: (a: Address) => IpKey): RouteHandler {
  if (store.mode === 'memory') return handler;
  return async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const ip = parseAddress(url.searchParams.get('ip') ?? '');
    if (ip) await store.refresh(keyOf(ip));
    return handler(req, res, url);
  };
}
