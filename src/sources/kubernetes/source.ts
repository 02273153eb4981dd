import type { Logger } from '../../telemetry/logger.ts';
import type { KubeMetrics, KubeObjectState } from '../../telemetry/kube-metrics.ts';
import type { ConfigSource, SourceBatch } from '../files.ts';
import { compile } from '../../config/compile.ts';
import type { ConfigIssue } from '../../api/objects.ts';
import { formatIssues, ISSUE_LIST_LIMIT } from '../../config/reloader.ts';
import type { Kind } from '../../api/schema.ts';
import { describeError, type KubeApi, type KubeObject } from './client.ts';
import type { LeaderElectionOptions } from './lease.ts';
import { Reconciler, type Tracked } from './reconciler.ts';
import { Reflector, type ReflectorOptions } from './reflector.ts';
import { RESOURCE_LIST } from './resources.ts';
import { issuesMessage } from './status.ts';
import { StatusReporter, type FeedStatusSource } from './status-reporter.ts';

export type { FeedStatusSource };

export interface KubernetesSourceOptions {
  readonly api: KubeApi;
  /** Namespaces to watch, or 'all' for a cluster-wide watch. */
  readonly namespaces: readonly string[] | 'all';
  /** Where the Lease lives: the pod's own namespace. */
  readonly leaseNamespace: string;
  readonly leaseName?: string;
  /** Unique per replica (pod name plus a random suffix). */
  readonly identity: string;
  /** false: never elect, never write status or events (read-only replicas). */
  readonly writeStatus?: boolean;
  readonly logger: Logger;
  readonly metrics?: KubeMetrics;
  readonly reflector?: ReflectorOptions;
  readonly lease?: Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;
  /**
   * Config files served alongside the Kubernetes objects (e.g. trusted proxies set by the Helm chart). They stay
   * all-or-nothing: a file reload with any problem is rejected and the last good files keep serving.
   */
  readonly files?: ConfigSource;
  /**
   * The feed manager: the leader writes feed reads (entries, bad lines, last refresh, errors, overlaps) into
   * ThreatFeed status and missing databases into DynamicZone status. Absent: only Accepted/Ready from the config.
   */
  readonly feeds?: FeedStatusSource;
  /** Changes arriving within this window are compiled together (and feed status changes written together). */
  readonly debounceMs?: number;
  readonly now?: () => number;
}

/**
 * Config from Kubernetes: one reflector per kind and namespace feeding the reconciler, which keeps every object
 * (and its last good version) by uid. Each change builds a batch of objects that are valid together for the
 * same compile step and snapshot swap that files use. The first batch is delivered (and start() resolves)
 * only once every kind has been listed in full, which is what readiness waits for. The elected leader writes
 * status and Events; every replica serves checks from its own snapshot.
 */
export class KubernetesSource implements ConfigSource {
  readonly reconciler = new Reconciler();
  readonly #o: KubernetesSourceOptions;
  readonly #reflectors: Reflector[] = [];
  readonly #status: StatusReporter;
  readonly #reported = new Map<string, string>();
  #onBatch: ((b: SourceBatch) => void) | undefined;
  #ready = false;
  #stopped = false;
  #debounce: NodeJS.Timeout | undefined;
  #pendingSince: number | undefined;
  #reportedStatic = '';

  constructor(options: KubernetesSourceOptions) {
    this.#o = options;
    this.#status = new StatusReporter({ ...options, reconciler: this.reconciler, isReady: () => this.#ready });
    options.metrics?.objectsFrom(() => [...this.reconciler.values()].map((t) => ({ kind: t.kind, state: stateOf(t) })));
  }

  get ready(): boolean {
    return this.#ready;
  }

  get isLeader(): boolean {
    return this.#status.isLeader;
  }

  /** True when no status write is queued or in flight (for tests and graceful shutdown). */
  get statusIdle(): boolean {
    return this.#status.idle;
  }

  async start(onBatch: (batch: SourceBatch) => void): Promise<void> {
    this.#onBatch = onBatch;
    const { namespaces, logger: log, metrics } = this.#o;
    const scopes: Array<string | undefined> = namespaces === 'all' ? [undefined] : [...namespaces];
    for (const r of RESOURCE_LIST) {
      for (const ns of scopes) {
        const where = { kind: r.kind, namespace: ns ?? '(all)' };
        const reflector = new Reflector(r, ns, this.#o.api, this.#sink(r.kind, ns), {
          ...this.#o.reflector,
          onError: (phase, err, retryInMs) => {
            metrics?.apiError(phase);
            log.warn({ ...where, phase, err: describeError(err), retryInMs: Math.round(retryInMs) }, phase === 'list' && !this.#ready
              ? 'kubernetes: cannot list (CRDs installed? RBAC allows list/watch?); retrying'
              : 'kubernetes: watch failed; retrying');
          },
          onRelist: (reason, items) => {
            metrics?.relist(r.kind, reason);
            if (reason !== 'initial') log.info({ ...where, reason, items }, 'kubernetes: relisted');
          },
          onWatchEnd: (reason) => metrics?.watchEnd(r.kind, reason),
        });
        this.#reflectors.push(reflector);
      }
    }
    if (this.#o.files) await this.#o.files.start((b) => this.#onFiles(b.issues.length > 0 ? b.issues : compile(b.objects, 0, Date.now()).issues, b.objects));
    for (const r of this.#reflectors) r.start();
    this.#status.start();
    await Promise.all(this.#reflectors.map((r) => r.synced));
    if (this.#stopped) return;
    this.#ready = true;
    this.#build();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#debounce);
    this.#o.files?.stop();
    for (const r of this.#reflectors) r.stop();
    this.#status.stop();
  }

  /** Stops and waits (at most releaseTimeoutMs) for the lease to be released, so a successor takes over at once. */
  async stopAndRelease(releaseTimeoutMs = 2000): Promise<void> {
    this.stop();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#status.release(), new Promise<void>((r) => { timer = setTimeout(r, releaseTimeoutMs); })]);
    clearTimeout(timer);
  }

  /** Org Under Attack started or ended: the leader records it on the ThreatPolicy's status and as an Event. */
  orgUnderAttack(policyName: string, state: 'start' | 'end', message: string): Promise<boolean> {
    return this.#status.orgUnderAttack(policyName, state, message);
  }

  #onFiles(issues: readonly ConfigIssue[], objects: SourceBatch['objects']): void {
    if (issues.length > 0) {
      this.#o.logger.error({ issues: formatIssues(issues, ISSUE_LIST_LIMIT), issueCount: issues.length }, 'config files rejected; keeping the last good files');
      return;
    }
    this.reconciler.setStatic(objects);
    this.#changed();
  }

  #sink(kind: Kind, namespace: string | undefined) {
    return {
      replace: (items: readonly KubeObject[]) => {
        const c = this.reconciler.replace(kind, namespace, items);
        if (c.spec) this.#changed();
        else if (c.status) this.#status.syncAll();
      },
      upsert: (o: KubeObject) => {
        const c = this.reconciler.upsert(kind, o);
        if (c === 'spec') this.#changed();
        else if (c === 'status') this.#status.enqueue(o.metadata.uid);
      },
      remove: (o: KubeObject) => {
        if (this.reconciler.remove(o.metadata.uid)) this.#changed();
      },
    };
  }

  #changed(): void {
    this.#pendingSince ??= performance.now();
    if (!this.#ready || this.#debounce) return;
    this.#debounce = setTimeout(() => { this.#debounce = undefined; this.#build(); }, this.#o.debounceMs ?? 10);
  }

  #build(): void {
    if (this.#stopped) return;
    const nowMs = (this.#o.now ?? Date.now)();
    const objects = this.reconciler.build(nowMs);
    this.#onBatch?.({ objects, issues: [] });
    if (this.#pendingSince !== undefined) this.#o.metrics?.applied((performance.now() - this.#pendingSince) / 1000);
    this.#pendingSince = undefined;
    this.#report();
    this.#status.syncAll();
  }

  /** Every replica logs a rejected object once per distinct problem; only the leader writes status and Events. */
  #report(): void {
    const seen = new Set<string>();
    for (const t of this.reconciler.values()) {
      seen.add(t.uid);
      const v = t.verdict;
      const text = v && !v.accepted ? issuesMessage(v.issues) : '';
      if (this.#reported.get(t.uid) === text) continue;
      this.#reported.set(t.uid, text);
      if (!v || v.accepted) continue;
      this.#o.logger.warn({
        kind: t.kind, namespace: t.raw.metadata.namespace, name: t.raw.metadata.name, generation: t.generation,
        serving: v.serving === 'previous' ? `generation ${v.servingGeneration}` : v.serving, issues: formatIssues(v.issues, ISSUE_LIST_LIMIT), issueCount: v.issues.length,
      }, 'kubernetes: object rejected');
    }
    for (const uid of this.#reported.keys()) if (!seen.has(uid)) this.#reported.delete(uid);
    const fileProblems = formatIssues(this.reconciler.staticIssues, ISSUE_LIST_LIMIT);
    if (fileProblems.join('\n') !== this.#reportedStatic && fileProblems.length > 0) this.#o.logger.warn({ issues: fileProblems }, 'kubernetes: a ThreatPolicy from the config files is left out');
    this.#reportedStatic = fileProblems.join('\n');
  }
}

function stateOf(t: Tracked): KubeObjectState {
  if (t.verdict?.accepted) return 'accepted';
  return t.verdict?.serving === 'previous' ? 'serving_previous' : 'rejected';
}
