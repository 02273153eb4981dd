import { existsSync, readFileSync } from 'node:fs';
import {
  CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Watch,
  type CoreV1Event, type V1Lease,
} from '@kubernetes/client-node';
import { PortcullisError } from '../../errors.ts';
import type { KindResource } from './resources.ts';

/** The fields of a Kubernetes object Portcullis relies on; everything else passes through untouched. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid: string;
    readonly resourceVersion: string;
    readonly generation?: number;
    readonly creationTimestamp?: string;
    readonly [k: string]: unknown;
  };
  readonly spec?: unknown;
  readonly status?: Readonly<Record<string, unknown>>;
}

export interface ListPage {
  readonly items: readonly KubeObject[];
  readonly resourceVersion: string;
  readonly continueToken?: string;
}

export interface WatchHandle { abort(): void }

/**
 * What the Kubernetes source needs from the API server. The real implementation is client-node; tests point the
 * same implementation at test/helpers/fake-apiserver.ts.
 */
export interface KubeApi {
  list(r: KindResource, namespace: string | undefined, page: { limit: number; continueToken?: string }): Promise<ListPage>;
  /** Resolves once the stream is open (or failed: then onDone has the error). onDone is called exactly once. */
  watch(
    r: KindResource, namespace: string | undefined, opts: { resourceVersion: string; timeoutSeconds: number },
    onEvent: (type: string, object: unknown) => void, onDone: (err: unknown) => void,
  ): Promise<WatchHandle>;
  replaceStatus(r: KindResource, object: KubeObject): Promise<KubeObject | undefined>;
  createEvent(namespace: string, event: CoreV1Event): Promise<void>;
  readLease(namespace: string, name: string): Promise<V1Lease | undefined>;
  createLease(namespace: string, lease: V1Lease): Promise<V1Lease>;
  replaceLease(namespace: string, lease: V1Lease): Promise<V1Lease>;
}

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * kubeconfig given → that file; otherwise client-node's default: $KUBECONFIG, ~/.kube/config, then in-cluster.
 * client-node throws raw errors (ENOENT, a YAML parser's, "reading 'clusters'" for an empty file): each becomes
 * one KUBECONFIG error naming where the kubeconfig came from.
 */
export function loadKubeConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const from = path ? `--kubeconfig ${path}` : env.KUBECONFIG ? `KUBECONFIG=${env.KUBECONFIG}` : 'the default kubeconfig (~/.kube/config or in-cluster)';
  const kc = new KubeConfig();
  try {
    if (path) kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = typeof e.code === 'string' ? `cannot read (${e.code})` : `not a kubeconfig (${String(e.message ?? err).split('\n')[0]!.slice(0, 200)})`;
    throw new PortcullisError('KUBECONFIG', `${from}: ${why}`);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) throw new PortcullisError('KUBECONFIG', `${from}: no current cluster with a server (current context: ${JSON.stringify(kc.getCurrentContext() || '')})`);
  return kc;
}

/** The pod's namespace: downward API env, then the service account file, then the kubeconfig context, then "default". */
export function ownNamespace(env: NodeJS.ProcessEnv, kc: KubeConfig | undefined, saFile = SA_NAMESPACE_FILE): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  if (existsSync(saFile)) {
    const ns = readFileSync(saFile, 'utf8').trim();
    if (ns) return ns;
  }
  const ctx = kc?.getContextObject(kc.getCurrentContext());
  return ctx?.namespace || 'default';
}

/** HTTP status of a failed call, from client-node's ApiException (code) or Watch errors (statusCode). */
export function statusOf(err: unknown): number | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

/** One line for logs and status: ApiException's own message carries headers and the whole body. */
export function describeError(err: unknown): string {
  const status = statusOf(err);
  const body = (err as { body?: unknown } | null)?.body;
  let detail: string | undefined;
  if (typeof body === 'string') {
    try { detail = (JSON.parse(body) as { message?: string }).message; } catch { detail = body.slice(0, 200); }
  } else if (body && typeof body === 'object') detail = (body as { message?: string }).message;
  if (status !== undefined) return `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  const code = (err as { code?: unknown } | null)?.code;
  return `${typeof code === 'string' ? `${code}: ` : ''}${err instanceof Error ? err.message : String(err)}`;
}

export function isKubeObject(raw: unknown): raw is KubeObject {
  if (raw === null || typeof raw !== 'object') return false;
  const m = (raw as { metadata?: unknown }).metadata as Record<string, unknown> | undefined;
  return !!m && typeof m.name === 'string' && typeof m.uid === 'string' && typeof m.resourceVersion === 'string';
}

/** A request that takes longer than this counts as failed; the retry logic above takes over. */
const CALL_TIMEOUT_MS = 30_000;

function deadline<T>(p: Promise<T>, what: string, ms = CALL_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what}: no answer in ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function listPage(raw: unknown): ListPage {
  const body = (raw ?? {}) as { items?: unknown; metadata?: { resourceVersion?: unknown; continue?: unknown } };
  const items = Array.isArray(body.items) ? body.items.filter(isKubeObject) : [];
  const rv = body.metadata?.resourceVersion;
  if (typeof rv !== 'string' || rv === '') throw new Error('list response has no metadata.resourceVersion');
  const cont = body.metadata?.continue;
  return { items, resourceVersion: rv, ...(typeof cont === 'string' && cont ? { continueToken: cont } : {}) };
}

export function clientNodeApi(kc: KubeConfig): KubeApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const coordination = kc.makeApiClient(CoordinationV1Api);
  const watcher = new Watch(kc);
  return {
    async list(r, namespace, page) {
      const common = { group: r.group, version: r.version, plural: r.plural, limit: page.limit, _continue: page.continueToken };
      const raw: unknown = await deadline(namespace === undefined
        ? custom.listClusterCustomObject(common)
        : custom.listNamespacedCustomObject({ ...common, namespace }), `list ${r.plural}`);
      return listPage(raw);
    },
    async watch(r, namespace, opts, onEvent, onDone) {
      const path = namespace === undefined
        ? `/apis/${r.group}/${r.version}/${r.plural}`
        : `/apis/${r.group}/${r.version}/namespaces/${encodeURIComponent(namespace)}/${r.plural}`;
      const query = { resourceVersion: opts.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: opts.timeoutSeconds };
      const controller = await watcher.watch(path, query, (type: string, obj: unknown) => onEvent(type, obj), onDone);
      return { abort: () => controller.abort() };
    },
    async replaceStatus(r, object) {
      const namespace = object.metadata.namespace ?? '';
      const raw: unknown = await deadline(custom.replaceNamespacedCustomObjectStatus({
        group: r.group, version: r.version, plural: r.plural, namespace, name: object.metadata.name, body: object,
      }), `update ${r.plural}/status`);
      return isKubeObject(raw) ? raw : undefined;
    },
    async createEvent(namespace, event) {
      await deadline(core.createNamespacedEvent({ namespace, body: event }), 'create event');
    },
    async readLease(namespace, name) {
      try {
        return await deadline(coordination.readNamespacedLease({ namespace, name }), 'get lease');
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    },
    createLease: (namespace, lease) => deadline(coordination.createNamespacedLease({ namespace, body: lease }), 'create lease'),
    replaceLease: (namespace, lease) =>
      deadline(coordination.replaceNamespacedLease({ namespace, name: lease.metadata?.name ?? '', body: lease }), 'update lease'),
  };
}
