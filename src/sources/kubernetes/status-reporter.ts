import type { DynamicZoneStatus, FeedStatus } from '../../feeds/manager.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { KubeMetrics } from '../../telemetry/kube-metrics.ts';
import type { KubeApi } from './client.ts';
import { EventRecorder } from './events.ts';
import { LeaderElector, type LeaderElectionOptions } from './lease.ts';
import type { Reconciler, Tracked } from './reconciler.ts';
import type { AttackState, RuntimeStatus } from './status.ts';
import { StatusWriter } from './status-writer.ts';

/** What the feed manager (src/feeds/manager.ts) reports about ThreatFeeds and DynamicZones; FeedManager is one. */
export interface FeedStatusSource {
  feedStatus(): readonly FeedStatus[];
  zoneStatus(): readonly DynamicZoneStatus[];
  /** Called when either may have changed (a read, a new snapshot, a database loading), never per Check. */
  onStatusChange(listener: () => void): void;
}

export interface StatusReporterOptions {
  readonly api: KubeApi;
  readonly reconciler: Reconciler;
  /** The source has listed every kind in full: before that there is nothing true to write. */
  readonly isReady: () => boolean;
  readonly leaseNamespace: string;
  readonly leaseName?: string;
  readonly identity: string;
  /** false: never elect, never write status or events (read-only replicas). */
  readonly writeStatus?: boolean;
  readonly logger: Logger;
  readonly metrics?: KubeMetrics;
  readonly lease?: Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs'>;
  readonly feeds?: FeedStatusSource;
  readonly debounceMs?: number;
  readonly now?: () => number;
}

/**
 * What the cluster is told: the elected leader writes each object's status (Accepted/Ready, feed reads, missing
 * databases, Org Under Attack) and Events; followers only remember what they would write. Reading config is the
 * source's job (source.ts); this class only writes.
 */
export class StatusReporter {
  readonly #o: StatusReporterOptions;
  readonly #elector: LeaderElector | undefined;
  readonly #recorder: EventRecorder;
  readonly #status: StatusWriter;
  readonly #attacks = new Map<string, AttackState>();
  /** The feed manager's statuses by name, read once per pass (not per object written). */
  #runtime: { feeds: ReadonlyMap<string, FeedStatus>; zones: ReadonlyMap<string, DynamicZoneStatus> } | undefined;
  #feedsDebounce: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: StatusReporterOptions) {
    this.#o = options;
    const now = options.now ?? Date.now;
    const log = options.logger;
    if (options.writeStatus !== false) {
      this.#elector = new LeaderElector(options.api, {
        namespace: options.leaseNamespace, name: options.leaseName ?? 'portcullis', identity: options.identity, now, ...options.lease,
        onChange: (leader) => {
          log.info({ identity: options.identity, lease: options.leaseName ?? 'portcullis' }, leader ? 'kubernetes: leading; writing status and events' : 'kubernetes: not leading');
          options.metrics?.leader(leader);
          if (leader) this.syncAll();
          else this.#status.clear();
        },
        onError: (m) => { options.metrics?.apiError('lease'); log.warn({ err: m }, 'kubernetes: leader election'); },
      });
    }
    const isLeader = () => this.isLeader;
    this.#recorder = new EventRecorder(options.api, {
      instance: options.identity, isLeader,
      onError: (m) => { options.metrics?.apiError('event'); log.warn({ err: m }, 'kubernetes: event not recorded'); },
    });
    this.#status = new StatusWriter(options.api, this.#recorder, {
      isLeader, now,
      lookup: (uid) => options.reconciler.get(uid),
      attackFor: (t) => this.#attacks.get(t.raw.metadata.name),
      runtimeFor: (t) => this.#runtimeOf(t),
      onResult: (r) => options.metrics?.statusWrite(r),
      onError: (m) => { options.metrics?.apiError('status'); log.warn({ err: m }, 'kubernetes: status not written'); },
    });
    options.feeds?.onStatusChange(() => this.#feedsChanged());
  }

  get isLeader(): boolean {
    return this.#elector?.isLeader ?? false;
  }

  /** True when no status write is queued or in flight. */
  get idle(): boolean {
    return this.#status.idle;
  }

  start(): void {
    this.#elector?.start();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#feedsDebounce);
    this.#status.stop();
    void this.#elector?.stop();
  }

  /** Resolves when the Lease is released (or at once without election). */
  release(): Promise<void> {
    return this.#elector?.stop() ?? Promise.resolve();
  }

  /** One object's status may be stale. */
  enqueue(uid: string): void {
    this.#status.enqueue(uid);
  }

  /** Every object's status may be stale (a new build, or this replica became leader). */
  syncAll(): void {
    if (!this.#o.isReady() || !this.isLeader) return;
    this.#readFeeds();
    for (const t of this.#o.reconciler.values()) this.#status.enqueue(t.uid);
  }

  /**
   * For the Org Under Attack detector: records the state on the ThreatPolicy's status and as an Event.
   * Only the leader writes; on followers this only remembers the state (written should they become leader).
   */
  async orgUnderAttack(policyName: string, state: 'start' | 'end', message: string): Promise<boolean> {
    const nowMs = (this.#o.now ?? Date.now)();
    this.#attacks.set(policyName, { state: state === 'start' ? 'UnderAttack' : 'Normal', since: new Date(nowMs).toISOString() });
    const policies = [...this.#o.reconciler.values()].filter((t) => t.kind === 'ThreatPolicy' && t.raw.metadata.name === policyName);
    const t = policies.find((p) => p.verdict?.inForce) ?? policies[0];
    if (!t) return false;
    this.#status.enqueue(t.uid);
    const m = t.raw.metadata;
    return this.#recorder.record(
      { kind: t.kind, name: m.name, namespace: m.namespace ?? '', uid: t.uid, resourceVersion: m.resourceVersion },
      state === 'start' ? 'Warning' : 'Normal', state === 'start' ? 'OrgUnderAttackStarted' : 'OrgUnderAttackEnded', message, nowMs,
    );
  }

  /** A feed read or zone change: one pass over ThreatFeeds and DynamicZones per window; unchanged statuses are not written. */
  #feedsChanged(): void {
    if (this.#stopped || !this.#o.isReady() || !this.isLeader || this.#feedsDebounce) return;
    this.#feedsDebounce = setTimeout(() => {
      this.#feedsDebounce = undefined;
      if (this.#stopped || !this.isLeader) return;
      this.#readFeeds();
      for (const t of this.#o.reconciler.values()) if (t.kind === 'ThreatFeed' || t.kind === 'DynamicZone') this.#status.enqueue(t.uid);
    }, this.#o.debounceMs ?? 10);
  }

  #readFeeds(): void {
    const f = this.#o.feeds;
    if (!f) return;
    this.#runtime = { feeds: new Map(f.feedStatus().map((s) => [s.name, s])), zones: new Map(f.zoneStatus().map((z) => [z.name, z])) };
  }

  /** The feed manager runs what serves under a name: an object left out (or shadowed by a file) gets nothing. */
  #runtimeOf(t: Tracked): RuntimeStatus | undefined {
    if (!this.#runtime || !t.verdict || t.verdict.serving === 'none') return undefined;
    const name = t.raw.metadata.name;
    const feed = t.kind === 'ThreatFeed' ? this.#runtime.feeds.get(name) : undefined;
    const zone = t.kind === 'DynamicZone' ? this.#runtime.zones.get(name) : undefined;
    return feed ? { feed } : zone ? { zone } : undefined;
  }
}
