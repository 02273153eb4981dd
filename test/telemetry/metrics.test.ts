import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { SnapshotHolder } from '../../src/config/snapshot-holder.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';

/** The lines of one metric family in a scrape, sorted: series order is not part of the format. */
const family = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(name) || l.includes(` ${name} `)).sort();

describe('Check metrics counted in typed arrays', () => {
  it('scrape exactly as prom-client Counter and Histogram would for the same observations', async () => {
    const metrics = new Metrics(new SnapshotHolder(), { processMetrics: false });
    const ref = new Registry();
    const refChecks = new Counter({ name: 'portcullis_checks_total', help: 'Authorization checks answered, by verdict and reason.', labelNames: ['verdict', 'reason'], registers: [ref] });
    const refLatency = new Histogram({
      name: 'portcullis_check_duration_seconds', help: 'Time to decide a check, from request decoded to response encoded.', labelNames: ['transport'],
      buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05], registers: [ref],
    });
    const seconds = [0.000004, 0.00001, 0.0000101, 0.00003, 0.0007, 0.02, 0.05, 0.3, 2];
    for (let round = 0; round < 2; round++) {
      for (const [i, s] of seconds.entries()) {
        const transport = i % 3 === 0 ? 'http' : 'grpc';
        metrics.latency(transport, s);
        refLatency.observe({ transport }, s);
        const [verdict, reason] = i % 2 ? ['allow', 'allowed'] as const : ['deny', 'blocklist_zone'] as const;
        metrics.check(verdict, reason);
        refChecks.inc({ verdict, reason });
      }
      metrics.check('rate_limit', 'threat_rate_limit');
      refChecks.inc({ verdict: 'rate_limit', reason: 'threat_rate_limit' });
      // Scraped twice: counts carry over between scrapes, never double.
      const ours = await metrics.registry.metrics();
      const theirs = await ref.metrics();
      for (const name of ['portcullis_checks_total', 'portcullis_check_duration_seconds']) expect(family(ours, name)).toEqual(family(theirs, name));
    }
    expect(await metrics.registry.metrics()).toMatch(/portcullis_checks_total\{verdict="deny",reason="blocklist_zone"\} 10/);
    expect(await metrics.registry.metrics()).toMatch(/portcullis_check_duration_seconds_count\{transport="grpc"\} 12/);
    const json = await metrics.registry.getMetricsAsJSON();
    expect(json.find((m) => m.name === 'portcullis_check_duration_seconds')?.type).toBe('histogram');
  });
});
