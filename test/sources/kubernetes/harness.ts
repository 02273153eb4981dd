import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { clientNodeApi, loadKubeConfig, type KubeApi } from '../../../src/sources/kubernetes/client.ts';
import { KubernetesSource, type KubernetesSourceOptions } from '../../../src/sources/kubernetes/source.ts';
import { Reloader } from '../../../src/config/reloader.ts';
import type { FeedConfig } from '../../../src/feeds/config.ts';
import { SnapshotHolder } from '../../../src/config/snapshot-holder.ts';
import { API_VERSION } from '../../../src/api/schema.ts';
import { KubeMetrics } from '../../../src/telemetry/kube-metrics.ts';
import { FakeApiServer } from '../../helpers/fake-apiserver.ts';

export const NS = 'team-a';

export interface Replica {
  readonly source: KubernetesSource;
  readonly holder: SnapshotHolder;
  readonly reloader: Reloader;
  readonly metrics: KubeMetrics;
  readonly registry: Registry;
  started: Promise<void>;
}

export interface Cluster {
  readonly server: FakeApiServer;
  readonly api: KubeApi;
  readonly kubeconfig: string;
  replica(identity: string, overrides?: Partial<KubernetesSourceOptions>, onFeeds?: (f: FeedConfig) => void): Replica;
  close(): Promise<void>;
}

/** Short timings so failures and failovers play out in a test's time. */
export const FAST: Pick<KubernetesSourceOptions, 'reflector' | 'lease' | 'debounceMs'> = {
  reflector: { backoffInitialMs: 50, backoffMaxMs: 400, resyncMs: 0, watchTimeoutSeconds: [30, 60] },
  lease: { leaseDurationMs: 1200, renewDeadlineMs: 800, retryPeriodMs: 150 },
  debounceMs: 5,
};

export async function startCluster(serverOptions: Parameters<typeof FakeApiServer.start>[0] = { bookmarkMs: 200 }): Promise<Cluster> {
  const server = await FakeApiServer.start(serverOptions);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-kube-'));
  const kubeconfig = server.writeKubeconfig(dir, NS);
  const api = clientNodeApi(loadKubeConfig(kubeconfig));
  const replicas: Replica[] = [];
  return {
    server, api, kubeconfig,
    replica(identity, overrides = {}, onFeeds) {
      const holder = new SnapshotHolder();
      const reloader = new Reloader(holder, () => Date.now(), undefined, onFeeds);
      const registry = new Registry();
      const metrics = new KubeMetrics(registry);
      const source = new KubernetesSource({
        api, namespaces: [NS], leaseNamespace: NS, identity, logger: pino({ level: 'silent' }), metrics, ...FAST, ...overrides,
      });
      const r: Replica = { source, holder, reloader, metrics, registry, started: source.start((b) => reloader.apply(b)) };
      replicas.push(r);
      return r;
    },
    async close() {
      for (const r of replicas) r.source.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function ipzone(name: string, spec: Record<string, unknown>, namespace = NS) {
  return { apiVersion: API_VERSION, kind: 'IPZone', metadata: { name, namespace }, spec };
}

export function policy(name: string, spec: Record<string, unknown>, namespace = NS) {
  return { apiVersion: API_VERSION, kind: 'ThreatPolicy', metadata: { name, namespace }, spec };
}

export function object(kind: 'ThreatFeed' | 'DynamicZone', name: string, spec: Record<string, unknown>, namespace = NS) {
  return { apiVersion: API_VERSION, kind, metadata: { name, namespace }, spec };
}

export async function until<T>(fn: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function zoneNames(r: Replica): string[] {
  return (r.holder.current?.zones ?? []).map((z) => z.name).sort();
}

export function condition(obj: { status?: unknown } | undefined, type: string): { status: string; reason: string; message: string; observedGeneration?: number } | undefined {
  const conds = (obj?.status as { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } | undefined)?.conditions;
  return conds?.find((c) => c.type === type);
}
