import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { OutcomeReport } from '../decide/outcome.ts';
import type { EventBatch } from '../store/cluster/events.ts';
import type { ViewUpdate } from '../store/cluster/view.ts';

/** Worker → primary, over the cluster IPC channel (serialization "advanced": typed arrays travel as bytes). */
export type WorkerMessage =
  | EventBatch
  | { readonly t: 'outcomes'; readonly reports: readonly OutcomeReport[] }
  | { readonly t: 'ready'; readonly grpcPort: number; readonly authzPort: number | undefined }
  | { readonly t: 'metrics'; readonly id: number; readonly metrics: ReadonlyArray<MetricObjectWithValues<MetricValue<string>>> }
  | { readonly t: 'stopped' };

/** Primary → worker. */
export type PrimaryMessage =
  | ViewUpdate
  | { readonly t: 'metrics'; readonly id: number }
  | { readonly t: 'drain' };

const WORKER_TYPES = new Set(['events', 'outcomes', 'ready', 'metrics', 'stopped']);
const PRIMARY_TYPES = new Set(['view', 'metrics', 'drain']);

/** Only our own messages: the channel is shared with Node's cluster internals (their messages carry `cmd`). */
export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === 'object' && m !== null && WORKER_TYPES.has((m as { t?: string }).t as string);
}

export function isPrimaryMessage(m: unknown): m is PrimaryMessage {
  return typeof m === 'object' && m !== null && PRIMARY_TYPES.has((m as { t?: string }).t as string);
}

/** Outcome reports as sent by a worker: fields checked, strings only where strings belong. */
export function isOutcomeReport(r: unknown): r is OutcomeReport {
  if (typeof r !== 'object' || r === null) return false;
  const o = r as Record<string, unknown>;
  const optText = (v: unknown) => v === undefined || typeof v === 'string';
  return typeof o.method === 'string' && typeof o.path === 'string' && typeof o.host === 'string' && typeof o.status === 'number'
    && optText(o.requestId) && optText(o.resultHeader) && optText(o.clientIp) && optText(o.forwardedFor);
}
