import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { KINDS, type Kind } from '../api/schema.ts';

export const KUBE_RELIST_REASONS = ['initial', 'expired', 'resync', 'error'] as const;
export const KUBE_WATCH_END_REASONS = ['closed', 'expired', 'error', 'resync', 'stalled'] as const;
export const KUBE_OPERATIONS = ['list', 'watch', 'status', 'event', 'lease'] as const;
export const KUBE_STATUS_RESULTS = ['written', 'conflict', 'error'] as const;
export const KUBE_OBJECT_STATES = ['accepted', 'serving_previous', 'rejected'] as const;
export type KubeObjectState = (typeof KUBE_OBJECT_STATES)[number];

type Bound<K extends string> = Map<K, Counter.Internal>;

function bind<A extends string>(c: Counter, values: readonly A[]): Bound<A> {
  return new Map(values.map((v) => [v, c.labels(v)]));
}

/** Metrics of the Kubernetes source, on the process registry. Labels from closed sets, children bound once. */
export class KubeMetrics {
  readonly #relists = new Map<string, Counter.Internal>();
  readonly #watchEnds = new Map<string, Counter.Internal>();
  readonly #errors: Bound<(typeof KUBE_OPERATIONS)[number]>;
  readonly #status: Bound<(typeof KUBE_STATUS_RESULTS)[number]>;
  readonly #apply: Histogram;
  readonly #leader: Gauge;
  #objects: () => ReadonlyArray<{ kind: Kind; state: KubeObjectState }> = () => [];

  constructor(registry: Registry) {
    const registers = [registry];
    const relists = new Counter({ name: 'portcullis_kube_relists_total', help: 'Full lists of a kind, by reason (initial, expired = 410 Gone, resync, error).', labelNames: ['kind', 'reason'], registers });
    const ends = new Counter({ name: 'portcullis_kube_watch_ends_total', help: 'Watches that ended, by reason; each is resumed or followed by a relist.', labelNames: ['kind', 'reason'], registers });
    for (const k of KINDS) {
      for (const r of KUBE_RELIST_REASONS) this.#relists.set(`${k}|${r}`, relists.labels(k, r));
      for (const r of KUBE_WATCH_END_REASONS) this.#watchEnds.set(`${k}|${r}`, ends.labels(k, r));
    }
    this.#errors = bind(new Counter({ name: 'portcullis_kube_api_errors_total', help: 'Failed Kubernetes API calls, by operation.', labelNames: ['operation'], registers }), KUBE_OPERATIONS);
    this.#status = bind(new Counter({ name: 'portcullis_kube_status_writes_total', help: 'Status subresource writes by the leader, by result.', labelNames: ['result'], registers }), KUBE_STATUS_RESULTS);
    this.#apply = new Histogram({
      name: 'portcullis_kube_apply_seconds', help: 'From a watch event arriving to the new snapshot serving checks.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers,
    });
    this.#leader = new Gauge({ name: 'portcullis_kube_leader', help: '1 while this replica holds the Lease and writes status and events.', registers });
    const objects = () => this.#objects();
    new Gauge({
      name: 'portcullis_kube_objects', help: 'Watched objects by kind and state (accepted, serving_previous, rejected).', labelNames: ['kind', 'state'], registers,
      collect() {
        const counts = new Map<string, number>();
        for (const o of objects()) counts.set(`${o.kind}|${o.state}`, (counts.get(`${o.kind}|${o.state}`) ?? 0) + 1);
        for (const k of KINDS) for (const s of KUBE_OBJECT_STATES) this.set({ kind: k, state: s }, counts.get(`${k}|${s}`) ?? 0);
      },
    });
  }

  relist(kind: Kind, reason: (typeof KUBE_RELIST_REASONS)[number]): void { this.#relists.get(`${kind}|${reason}`)!.inc(); }
  watchEnd(kind: Kind, reason: (typeof KUBE_WATCH_END_REASONS)[number]): void { this.#watchEnds.get(`${kind}|${reason}`)!.inc(); }
  apiError(op: (typeof KUBE_OPERATIONS)[number]): void { this.#errors.get(op)!.inc(); }
  statusWrite(result: (typeof KUBE_STATUS_RESULTS)[number]): void { this.#status.get(result)!.inc(); }
  applied(seconds: number): void { this.#apply.observe(seconds); }
  leader(isLeader: boolean): void { this.#leader.set(isLeader ? 1 : 0); }
  /** The source registers how to count its objects; read at scrape time. */
  objectsFrom(fn: () => ReadonlyArray<{ kind: Kind; state: KubeObjectState }>): void { this.#objects = fn; }
}
