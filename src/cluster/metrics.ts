import { AggregatorRegistry, Counter, Gauge, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

type MetricJson = MetricObjectWithValues<MetricValue<string>>;

/** Gauges that are per process and add up (memory, handles, a worker's own backlog); other gauges are the primary's. */
const SUMMED_GAUGE = /^portcullis_(process_|nodejs_(?!version_info|eventloop)|outcome_backlog_bytes$)/;

/**
 * One /metrics for the cluster from every process's metrics. Counters and histograms are summed: each process
 * counts what it did itself (workers the Checks, the primary the outcomes and blocks; config reloads and feed
 * refreshes once per process, as each reloads). A gauge the primary also has describes state the primary owns
 * (tracked IPs, blocks, Org Under Attack, config version): the primary's value is served, not a sum of views;
 * per-process gauges (SUMMED_GAUGE) are summed, and prom-client's own aggregators (event-loop lag: average,
 * version: first) are kept.
 */
export function aggregateMetrics(primary: readonly MetricJson[], workers: ReadonlyArray<readonly MetricJson[]>): Registry {
  const primaryGauges = new Set(primary.filter((m) => String(m.type) === 'gauge').map((m) => m.name));
  const fromWorkers = workers.map((list) => list.filter((m) => !(String(m.type) === 'gauge' && primaryGauges.has(m.name) && keepsPrimary(m))));
  // A metric without an aggregator (a hand-written one) would make prom-client throw: it sums.
  const withAggregator = (list: readonly MetricJson[]) => list.map((m) => ((m as { aggregator?: string }).aggregator ? m : { ...m, aggregator: 'sum' as const }));
  return AggregatorRegistry.aggregate([withAggregator(primary), ...fromWorkers.map(withAggregator)] as MetricJson[][]);
}

function keepsPrimary(m: MetricJson): boolean {
  const aggregator = (m as { aggregator?: string }).aggregator ?? 'sum';
  return aggregator === 'sum' && !SUMMED_GAUGE.test(m.name);
}

/** The primary's registry as served: its own metrics and every serving worker's, aggregated at scrape time. */
export class ClusterRegistry extends Registry {
  constructor(private readonly own: Registry, private readonly workers: () => Promise<ReadonlyArray<readonly MetricJson[]>>) {
    super();
  }

  override async metrics(): Promise<string> {
    const [mine, theirs] = await Promise.all([this.own.getMetricsAsJSON(), this.workers()]);
    return aggregateMetrics(mine as MetricJson[], theirs).metrics();
  }
}

/** The primary's own cluster metrics. */
export function registerClusterMetrics(registry: Registry, read: () => { serving: number; configured: number; restarts: number; updatesShed: number; held: number }): void {
  const registers = [registry];
  new Gauge({ name: 'portcullis_workers', help: 'Cluster workers serving Checks (--workers), by state: serving, configured.', labelNames: ['state'], registers, collect() {
    const r = read();
    this.set({ state: 'serving' }, r.serving);
    this.set({ state: 'configured' }, r.configured);
  } });
  let restarts = 0;
  new Counter({ name: 'portcullis_worker_restarts_total', help: 'Workers started again after one died.', registers, collect() {
    const r = read().restarts;
    this.inc(r - restarts);
    restarts = r;
  } });
  let shed = 0;
  new Counter({ name: 'portcullis_cluster_updates_shed_total', help: 'Detector-view updates the primary did not send to a worker whose channel was backed up (its view of those keys lags).', registers, collect() {
    const r = read().updatesShed;
    this.inc(r - shed);
    shed = r;
  } });
  new Gauge({ name: 'portcullis_cluster_outcomes_held', help: 'Outcomes waiting on the primary for their Check\'s event from another worker.', registers, collect() { this.set(read().held); } });
}
