import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Registry } from 'prom-client';
import { KubeMetrics } from '../../telemetry/kube-metrics.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { ConfigSource } from '../files.ts';
import { clientNodeApi, loadKubeConfig, ownNamespace } from './client.ts';
import { KubernetesSource, type FeedStatusSource } from './source.ts';

/** The --kube-* settings slice (read by src/settings.ts). */
export interface KubernetesSettings {
  /** Empty: the pod's own namespace (resolved at start); 'all': cluster-wide. */
  readonly namespaces: readonly string[] | 'all';
  /** Empty: $KUBECONFIG, ~/.kube/config, then in-cluster. */
  readonly kubeconfig: string;
  readonly leaseName: string;
  readonly resyncSeconds: number;
  readonly writeStatus: boolean;
}

/** Builds the Kubernetes source from settings: in-cluster or kubeconfig, the pod's namespace unless told otherwise. */
export function kubernetesSource(settings: KubernetesSettings, deps: { logger: Logger; registry: Registry; files?: ConfigSource; feeds?: FeedStatusSource; env?: NodeJS.ProcessEnv }): KubernetesSource {
  const env = deps.env ?? process.env;
  const kc = loadKubeConfig(settings.kubeconfig || undefined, env);
  const own = ownNamespace(env, kc);
  const namespaces = settings.namespaces === 'all' ? 'all' : settings.namespaces.length > 0 ? settings.namespaces : [own];
  // Pod name (HOSTNAME in a pod) plus a random suffix: a restarted pod with the same name is a new candidate.
  const identity = `${env.POD_NAME ?? env.HOSTNAME ?? hostname()}_${randomUUID().slice(0, 8)}`;
  deps.logger.info({ cluster: kc.getCurrentCluster()?.server, namespaces, leaseNamespace: own, identity, writeStatus: settings.writeStatus }, 'kubernetes: watching');
  return new KubernetesSource({
    api: clientNodeApi(kc),
    namespaces,
    leaseNamespace: own,
    leaseName: settings.leaseName,
    identity,
    writeStatus: settings.writeStatus,
    logger: deps.logger,
    metrics: new KubeMetrics(deps.registry),
    reflector: { resyncMs: settings.resyncSeconds * 1000 },
    ...(deps.files ? { files: deps.files } : {}),
    ...(deps.feeds ? { feeds: deps.feeds } : {}),
  });
}
