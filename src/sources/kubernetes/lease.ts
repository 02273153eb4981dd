import type { V1Lease } from '@kubernetes/client-node';
import { jittered } from '../../backoff.ts';
import { describeError, statusOf, type KubeApi } from './client.ts';

export interface LeaderElectionOptions {
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  /** How long a lease holds without renewal (client-go default 15 s). */
  readonly leaseDurationMs?: number;
  /** A leader that cannot renew for this long steps down (10 s), before others may take over. */
  readonly renewDeadlineMs?: number;
  /** How often to try to acquire or renew (2 s). */
  readonly retryPeriodMs?: number;
  readonly now?: () => number;
  readonly onChange?: (leader: boolean) => void;
  readonly onError?: (message: string) => void;
}

/**
 * MicroTime fields (renewTime, acquireTime) must have exactly six fractional digits: the API server parses them
 * with a fixed layout, and client-node serialises a Date with toISOString()'s three, which it rejects.
 */
export class MicroTime extends Date {
  override toISOString(): string {
    return super.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }
  override toJSON(): string {
    return this.toISOString();
  }
}

/** client-node types MicroTime fields as Date but hands them back as the string the server sent. */
function timeOf(t: Date | string): number | undefined {
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * Leader election over a coordination.k8s.io/v1 Lease, the algorithm of client-go's leaderelection: a lease is
 * taken over only once it has not changed for its whole duration as measured on this replica's own clock (so
 * clock skew between nodes does not matter), updates carry the resourceVersion (two candidates cannot both
 * win), and a leader that cannot renew within renewDeadline steps down before the lease can expire for others.
 */
export class LeaderElector {
  #leader = false;
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #lastRenewMs = 0;
  #observed: { key: string; atMs: number } | undefined;
  #stopping: Promise<void> | undefined;
  readonly #o: Required<Omit<LeaderElectionOptions, 'onChange' | 'onError'>> & LeaderElectionOptions;

  constructor(private readonly api: KubeApi, options: LeaderElectionOptions) {
    this.#o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, now: Date.now, ...options };
  }

  get isLeader(): boolean {
    return this.#leader && this.#o.now() - this.#lastRenewMs <= this.#o.renewDeadlineMs;
  }

  get identity(): string {
    return this.#o.identity;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#stopping = undefined;
    void this.#tick();
  }

  /** Stops and, when leading, releases the lease so another replica takes over at once instead of after it expires. */
  stop(): Promise<void> {
    this.#stopping ??= this.#release();
    return this.#stopping;
  }

  async #release(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leader) return;
    this.#set(false);
    try {
      const lease = await this.api.readLease(this.#o.namespace, this.#o.name);
      if (lease?.spec?.holderIdentity === this.#o.identity) {
        const now = new MicroTime(this.#o.now());
        await this.api.replaceLease(this.#o.namespace, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now } });
      }
    } catch (err) {
      this.#o.onError?.(`releasing lease: ${describeError(err)}`);
    }
  }

  async #tick(): Promise<void> {
    if (this.#stopped) return;
    let ok = false;
    try {
      ok = await this.#tryAcquireOrRenew();
    } catch (err) {
      this.#o.onError?.(`lease ${this.#o.namespace}/${this.#o.name}: ${describeError(err)}`);
    }
    if (this.#stopped) return;
    if (ok) {
      this.#lastRenewMs = this.#o.now();
      this.#set(true);
    } else if (this.#leader && this.#o.now() - this.#lastRenewMs > this.#o.renewDeadlineMs) {
      this.#set(false);
    }
    this.#timer = setTimeout(() => void this.#tick(), this.#leader ? this.#o.retryPeriodMs : jittered(this.#o.retryPeriodMs, 0.2));
  }

  #set(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#o.onChange?.(leader);
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.#o;
    const now = this.#o.now();
    const durationSeconds = Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000));
    const lease = await this.api.readLease(namespace, name);
    if (!lease) {
      try {
        await this.api.createLease(namespace, {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds: durationSeconds, acquireTime: new MicroTime(now), renewTime: new MicroTime(now), leaseTransitions: 0 },
        });
        return true;
      } catch (err) {
        if (statusOf(err) === 409) return false; // another candidate created it first
        throw err;
      }
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    // Expiry is judged by when *we* last saw the record change, not by the renewTime another node's clock wrote.
    const key = `${holder}|${lease.metadata?.resourceVersion ?? ''}`;
    if (this.#observed?.key !== key) this.#observed = { key, atMs: now };
    const heldMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder !== '' && holder !== identity && now - this.#observed.atMs < heldMs) {
      if (this.#leader) this.#set(false); // someone else holds it: we are certainly not leading
      return false;
    }
    const next: V1Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: new MicroTime(now),
        acquireTime: holder === identity && spec.acquireTime ? new MicroTime(timeOf(spec.acquireTime) ?? now) : new MicroTime(now),
        leaseTransitions: holder === identity ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      await this.api.replaceLease(namespace, next);
      return true;
    } catch (err) {
      if (statusOf(err) === 409) return false; // the lease changed under us: someone else renewed or took it
      throw err;
    }
  }
}
