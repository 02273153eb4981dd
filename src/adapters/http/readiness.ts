import type { SnapshotHolder } from '../../config/snapshot-holder.ts';
import type { DetectorStore } from '../../store/store.ts';
import type { ReadinessCheck } from './ops-server.ts';

/** Not ready until a valid config is loaded: before that every Check would get the failure mode. */
export function configReadiness(holder: SnapshotHolder): ReadinessCheck {
  return { name: 'config', check: () => (holder.current ? { ok: true, detail: `version ${holder.current.version}` } : { ok: false, detail: 'no valid config loaded yet' }) };
}

/** Not ready until every feed of the first config had its first read (latched: later feeds never flap readiness). */
export function feedsReadiness(feeds: { readonly initialLoadDone: boolean }): ReadinessCheck {
  return { name: 'feeds', check: () => (feeds.initialLoadDone ? { ok: true, detail: 'first read of every feed done' } : { ok: false, detail: 'waiting for the first read of the feeds' }) };
}

/** Degraded is still ready: the replica decides on local state, and failing readiness on every pod at once would take sign-in down with Redis. */
export function storeReadiness(store: DetectorStore): ReadinessCheck {
  return { name: 'store', check: () => ({ ok: true, detail: store.health().detail }) };
}
