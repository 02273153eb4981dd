import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { ERROR_CODES, type ErrorCode } from '../errors.ts';
import type { SnapshotHolder } from '../config/snapshot-holder.ts';
import { DECISION_REASONS, VERDICTS, type DecisionReason, type Answer } from '../decide/decision.ts';
import { counterAtScrape } from './scrape-counter.ts';

export const TRANSPORTS = ['grpc', 'http'] as const;
export type Transport = (typeof TRANSPORTS)[number];
export const RELOAD_RESULTS = ['success', 'invalid'] as const;
export type ReloadResult = (typeof RELOAD_RESULTS)[number];

const CHECK_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05] as const;
const VERDICT_INDEX = new Map<Answer, number>(VERDICTS.map((v, i) => [v, i]));
const REASON_INDEX = new Map<DecisionReason, number>(DECISION_REASONS.map((r, i) => [r, i]));

/**
 * portcullis_check_duration_seconds, counted in typed arrays and formatted only when scraped. prom-client's
 * Histogram hashes the label set on every observe (even through a labels() child), ~1 µs per Check; this is
 * a bucket search and three additions. It implements what the Registry reads of a metric (get, reset).
 */
class CheckLatency {
  readonly name = 'portcullis_check_duration_seconds';
  readonly help = 'Time to decide a check, from request decoded to response encoded.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly labelNames = ['transport'];
  /** Per transport: one count per bucket (not cumulative) and one for +Inf. */
  readonly #counts = new Float64Array(TRANSPORTS.length * (CHECK_BUCKETS.length + 1));
  readonly #sums = new Float64Array(TRANSPORTS.length);

  observe(transport: number, seconds: number): void {
    let b = 0;
    while (b < CHECK_BUCKETS.length && seconds > CHECK_BUCKETS[b]!) b++;
    this.#counts[transport * (CHECK_BUCKETS.length + 1) + b]!++;
    this.#sums[transport]! += seconds;
  }

  async get() {
    const name = this.name;
    const values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }> = [];
    const width = CHECK_BUCKETS.length + 1;
    TRANSPORTS.forEach((transport, t) => {
      let total = 0;
      for (let b = 0; b < width; b++) total += this.#counts[t * width + b]!;
      if (total === 0) return; // like prom-client: a series appears with its first observation
      let acc = 0;
      for (let b = 0; b < CHECK_BUCKETS.length; b++) {
        acc += this.#counts[t * width + b]!;
        values.push({ labels: { le: CHECK_BUCKETS[b]!, transport }, value: acc, metricName: `${name}_bucket` });
      }
      values.push({ labels: { le: '+Inf', transport }, value: total, metricName: `${name}_bucket` });
      values.push({ labels: { transport }, value: this.#sums[t]!, metricName: `${name}_sum` });
      values.push({ labels: { transport }, value: total, metricName: `${name}_count` });
    });
    return { name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#sums.fill(0);
  }
}

/**
 * Every metric of the process, on its own registry. Label values come only from closed sets. What every Check
 * touches (checks by verdict and reason, latency) is counted in typed arrays and handed to prom-client only at
 * scrape time: prom-client hashes the label set on each inc/observe, even through a bound labels() child.
 * Other counters are bound once here. No address is ever a label.
 */
export class Metrics {
  readonly registry = new Registry();
  /** Checks answered, indexed verdict * DECISION_REASONS.length + reason. */
  readonly #checks = new Float64Array(VERDICTS.length * DECISION_REASONS.length);
  readonly #latency = new CheckLatency();
  readonly #reloads = new Map<ReloadResult, Counter.Internal>();
  readonly #errors = new Map<ErrorCode, Counter.Internal>();
  readonly lastReloadSuccess: Gauge;

  constructor(holder: SnapshotHolder, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_' });

    counterAtScrape(registers, 'portcullis_checks_total', 'Authorization checks answered, by verdict and reason.', ['verdict', 'reason'],
      VERDICTS.flatMap((verdict) => DECISION_REASONS.map((reason) => ({ verdict, reason }))), this.#checks);
    this.registry.registerMetric(this.#latency as unknown as Metric);

    const reloads = new Counter({ name: 'portcullis_config_reloads_total', help: 'Config reloads by result; an invalid reload keeps the previous snapshot.', labelNames: ['result'], registers });
    for (const r of RELOAD_RESULTS) this.#reloads.set(r, reloads.labels(r));

    const errors = new Counter({ name: 'portcullis_errors_total', help: 'Errors by stable code (docs/errors.md).', labelNames: ['code'], registers });
    for (const c of Object.keys(ERROR_CODES) as ErrorCode[]) this.#errors.set(c, errors.labels(c));

    this.lastReloadSuccess = new Gauge({ name: 'portcullis_config_last_reload_success_timestamp_seconds', help: 'When the current snapshot was compiled.', registers });

    // Point-in-time figures are read from the snapshot at scrape time, not maintained on the hot path.
    new Gauge({
      name: 'portcullis_config_zones', help: 'IP zones in the current snapshot, by usage.', labelNames: ['usage'], registers,
      collect() {
        const zones = holder.current?.zones ?? [];
        this.set({ usage: 'Policy' }, zones.filter((z) => z.usage === 'Policy').length);
        this.set({ usage: 'Blocklist' }, zones.filter((z) => z.usage === 'Blocklist').length);
      },
    });
    new Gauge({
      name: 'portcullis_config_entries', help: 'Address entries (IPs, CIDRs, ranges) in the current snapshot, by list.', labelNames: ['list'], registers,
      collect() {
        const zones = holder.current?.zones ?? [];
        this.set({ list: 'gateways' }, zones.reduce((n, z) => n + z.gateways, 0));
        this.set({ list: 'proxies' }, zones.reduce((n, z) => n + z.proxies, 0));
      },
    });
    new Gauge({ name: 'portcullis_config_version', help: 'Version counter of the current snapshot (0 before the first load).', registers, collect() { this.set(holder.current?.version ?? 0); } });

  }

  check(verdict: Answer, reason: DecisionReason): void {
    this.#checks[VERDICT_INDEX.get(verdict)! * DECISION_REASONS.length + REASON_INDEX.get(reason)!]!++;
  }

  latency(transport: Transport, seconds: number): void {
    this.#latency.observe(transport === 'grpc' ? 0 : 1, seconds);
  }

  reload(result: ReloadResult): void {
    this.#reloads.get(result)!.inc();
  }

  error(code: ErrorCode): void {
    this.#errors.get(code)!.inc();
  }

}
