import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CONDITION_REASONS, EVENT_REASONS } from '../../../src/sources/kubernetes/status.ts';
import { KubeMetrics } from '../../../src/telemetry/kube-metrics.ts';
import { SETTING_FLAGS } from '../../../src/settings.ts';

// Closed sets an operator meets in `kubectl describe`, Prometheus and --help must be looked up somewhere.
describe('docs cover the Kubernetes closed sets', () => {
  const doc = readFileSync('docs/kubernetes.md', 'utf8');
  it('condition and Event reasons are in docs/kubernetes.md', () => {
    for (const r of [...CONDITION_REASONS, ...EVENT_REASONS]) expect(doc, r).toContain(`\`${r}\``);
  });
  it('kube metrics are in docs/metrics.md', async () => {
    const registry = new Registry();
    new KubeMetrics(registry);
    const metrics = readFileSync('docs/metrics.md', 'utf8');
    for (const m of (await registry.getMetricsAsJSON()).map((x) => x.name)) expect(metrics, m).toContain(`\`${m}\``);
  });
  it('kube flags are in docs/kubernetes.md', () => {
    for (const flag of Object.keys(SETTING_FLAGS).filter((f) => f.startsWith('kube') || f === 'config-source')) expect(doc, flag).toContain(`\`--${flag}\``);
  });
});
