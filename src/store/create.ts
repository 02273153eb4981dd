import type { Clock } from '../clock.ts';
import type { DetectionEngine } from '../detect/engine.ts';
import type { OrgAttackDetector } from '../detect/org-attack.ts';
import { MemoryStore } from './memory.ts';
import type { StoreSettings } from './settings.ts';
import type { DetectorStore, StoreHealth } from './store.ts';
import type { Outbox } from './cluster/outbox.ts';
import { WorkerStore } from './cluster/worker-store.ts';
import type { AccountSources } from '../detect/accounts.ts';
import type { SprayPasswords } from '../detect/spray-passwords.ts';

export interface StoreDeps {
  readonly engine: DetectionEngine;
  readonly org: OrgAttackDetector;
  readonly clock: Clock;
  /** The shared store went degraded or recovered (telemetry logs it and emits an event). */
  readonly onHealth?: (h: StoreHealth, reason: string) => void;
  /** A cluster worker (--workers N): the primary runs the store the settings ask for; this is its local view. */
  readonly worker?: { readonly outbox: Outbox; readonly signals?: { readonly accounts: AccountSources; readonly spray: SprayPasswords } };
}

/** The store the settings ask for, started. Never fails to start: an unreachable Redis is degraded. */
export async function createStore(settings: StoreSettings, d: StoreDeps): Promise<DetectorStore> {
  if (d.worker) return new WorkerStore({ engine: d.engine, org: d.org, outbox: d.worker.outbox, primaryMode: settings.mode, signals: d.worker.signals });
  if (settings.mode === 'memory') return new MemoryStore(d.engine, d.org);
  // Loaded only when asked for: ioredis is ~13 MB of RSS a memory-store sidecar does not need.
  const { RedisStore } = await import('./redis/store.ts');
  const redis = new RedisStore({
    settings: settings.redis,
    engine: d.engine,
    org: d.org,
    clock: d.clock,
    onHealth: (h, reason) => d.onHealth?.(h, reason),
  });
  await redis.start();
  return redis;
}
