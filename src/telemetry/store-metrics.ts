import { Counter, Gauge, type Registry } from 'prom-client';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { STORE_MODES, type StoreCounters, type StoreHealth } from '../store/store.ts';
import { storeHealthEvent, type EventSink } from './events.ts';
import type { Logger } from './logger.ts';

/** Store health changes as a log line and an event (the store itself knows nothing of either). */
export function storeHealthObserver(d: { readonly logger: Logger; readonly events: EventSink; readonly clock: Clock }): (h: StoreHealth, reason: string) => void {
  return (h, reason) => {
    const line = { store: 'redis', reason, bufferedEvents: h.buffered };
    if (h.degraded) d.logger.warn(line, 'store degraded: deciding and counting on local state');
    else d.logger.info(line, 'store recovered: shared state again');
    d.events.emit(storeHealthEvent(randomUUID(), d.clock.nowMs(), { degraded: h.degraded, reason, mode: h.mode, buffered: h.buffered }));
  };
}

/**
 * Store metrics, read at scrape time. Counters follow the store's own cumulative numbers (prom-client counters
 * only go up, so each scrape adds the difference).
 */
export function registerStoreMetrics(registry: Registry, read: () => { health: StoreHealth; counters: StoreCounters | undefined }): void {
  const registers = [registry];
  new Gauge({
    name: 'portcullis_store_degraded', help: '1 while the shared store (Redis) is unreachable and this replica decides and counts on local state.', registers,
    collect() { this.set(read().health.degraded ? 1 : 0); },
  });
  new Gauge({
    name: 'portcullis_store_info', help: 'The store in use (label mode: memory | redis), always 1.', labelNames: ['mode'], registers,
    collect() {
      const mode = read().health.mode;
      for (const m of STORE_MODES) this.labels(m).set(m === mode ? 1 : 0);
    },
  });
  new Gauge({
    name: 'portcullis_store_buffered_events', help: 'Sign-in events counted locally during an outage, waiting to be replayed into Redis.', registers,
    collect() { this.set(read().health.buffered); },
  });
  const counter = (name: string, help: string, pick: (c: StoreCounters) => number) => {
    let seen = 0;
    new Counter({
      name, help, registers,
      collect() {
        const c = read().counters;
        const v = c ? pick(c) : 0;
        if (v > seen) this.inc(v - seen);
        seen = Math.max(seen, v);
      },
    });
  };
  counter('portcullis_store_calls_total', 'Redis script calls sent for sign-in events (one per client per batch).', (c) => c.calls);
  counter('portcullis_store_batches_total', 'Batches of sign-in events sent to Redis (one pipelined write each).', (c) => c.batches);
  counter('portcullis_store_rows_received_total', 'Blocks and level changes received from other replicas.', (c) => c.received);
  counter('portcullis_store_script_reloads_total', 'NOSCRIPT answers recovered by loading the scripts again.', (c) => c.scriptReloads);
  counter('portcullis_store_outages_total', 'Times the store became degraded.', (c) => c.outages);
  counter('portcullis_store_events_replayed_total', 'Events counted locally during an outage and replayed into Redis afterwards.', (c) => c.replayed);
  counter('portcullis_store_events_lost_total', 'Events possibly missing from the shared state (timed-out writes, org counts older than an hour).', (c) => c.lost);
  counter('portcullis_store_events_dropped_total', 'Events dropped from a full outage buffer (--redis-buffer-events).', (c) => c.dropped);
}
