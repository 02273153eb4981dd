import { Backoff, jittered } from '../../backoff.ts';
import { isKubeObject, statusOf, type KubeApi, type KubeObject, type WatchHandle } from './client.ts';
import type { KindResource } from './resources.ts';

/** Receives one reflector's view of its (kind, namespace) scope. */
export interface ReflectorSink {
  /** A complete list of the scope: anything not in it is gone. */
  replace(items: readonly KubeObject[]): void;
  upsert(object: KubeObject): void;
  remove(object: KubeObject): void;
}

export type RelistReason = 'initial' | 'expired' | 'resync' | 'error';
export type WatchEndReason = 'closed' | 'expired' | 'error' | 'resync' | 'stalled';

export interface ReflectorOptions {
  readonly pageSize?: number;
  /** A full relist this often (±10 %), diffed against what is known: repairs anything a watch could have missed. */
  readonly resyncMs?: number;
  /** Server-side watch timeout, drawn from [min, max) per watch like client-go, so replicas do not reconnect together. */
  readonly watchTimeoutSeconds?: readonly [number, number];
  /** Extra time past the server-side timeout before a silent watch is presumed dead and abandoned. */
  readonly stallGraceMs?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  readonly onError?: (phase: 'list' | 'watch', err: unknown, retryInMs: number) => void;
  readonly onRelist?: (reason: RelistReason, items: number) => void;
  readonly onWatchEnd?: (reason: WatchEndReason) => void;
}

type WatchEnd = { kind: 'closed'; events: number; ms: number } | { kind: 'expired' | 'resync' | 'stalled' | 'stopped' } | { kind: 'error'; err: unknown };

class WatchStatusError extends Error {
  constructor(readonly statusCode: number | undefined, message: string) {
    super(message);
  }
}

/**
 * List, then watch from the list's resourceVersion, for one kind in one namespace (or all), forever.
 * Unlike client-node's informer, which stops for good on some errors, every failure here leads back into the
 * loop: a dropped or closed watch resumes from the last resourceVersion seen (events and bookmarks), 410 Gone
 * relists at once, anything else waits with jittered exponential backoff and retries. A periodic relist
 * catches whatever a watch could have missed.
 */
export class Reflector {
  readonly synced: Promise<void>;
  #markSynced!: () => void;
  #rv = '';
  #stopped = false;
  #relist: RelistReason | undefined = 'initial';
  #endWatch: ((reason: 'resync' | 'stopped') => void) | undefined;
  #wake: (() => void) | undefined;
  #sleepTimer: NodeJS.Timeout | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  readonly #backoff: Backoff;
  readonly #o: Required<Omit<ReflectorOptions, 'onError' | 'onRelist' | 'onWatchEnd'>> & ReflectorOptions;

  constructor(
    readonly resource: KindResource,
    readonly namespace: string | undefined,
    private readonly api: KubeApi,
    private readonly sink: ReflectorSink,
    options: ReflectorOptions = {},
  ) {
    this.#o = {
      pageSize: 500, resyncMs: 10 * 60_000, watchTimeoutSeconds: [300, 600], stallGraceMs: 30_000,
      backoffInitialMs: 500, backoffMaxMs: 30_000, ...options,
    };
    this.#backoff = new Backoff(this.#o.backoffInitialMs, this.#o.backoffMaxMs);
    this.synced = new Promise((resolve) => { this.#markSynced = resolve; });
  }

  get resourceVersion(): string {
    return this.#rv;
  }

  start(): void {
    this.#scheduleResync();
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#resyncTimer);
    this.#endWatch?.('stopped');
    this.#wake?.();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      let phase: 'list' | 'watch' = 'list';
      try {
        if (this.#relist) await this.#list(this.#relist);
        phase = 'watch';
        const end = await this.#watchOnce();
        if (end.kind === 'stopped' || this.#stopped) return;
        this.#o.onWatchEnd?.(end.kind);
        if (end.kind === 'error') throw end.err;
        if (end.kind === 'expired') this.#relist = 'expired';
        else if (end.kind === 'resync') this.#relist = 'resync';
        else if (end.kind === 'closed') {
          // A server that closes every watch at once would otherwise be hammered.
          if (end.events === 0 && end.ms < 1000) await this.#sleep(this.#backoff.next());
          else this.#backoff.reset();
        }
      } catch (err) {
        if (this.#stopped) return;
        if (statusOf(err) === 410) {
          // Our resourceVersion (or list continue token) is older than the server keeps: start over from a list.
          this.#relist = 'expired';
          continue;
        }
        // A failed list is retried as a list (#relist is still set); a failed watch resumes from the last resourceVersion.
        const wait = this.#backoff.next();
        this.#o.onError?.(phase, err, wait);
        await this.#sleep(wait);
      }
    }
  }

  async #list(reason: RelistReason): Promise<void> {
    const items: KubeObject[] = [];
    let rv: string | undefined;
    let continueToken: string | undefined;
    do {
      const page = await this.api.list(this.resource, this.namespace, { limit: this.#o.pageSize, continueToken });
      if (this.#stopped) return;
      items.push(...page.items);
      // Every page of a list is one snapshot at the first page's resourceVersion.
      rv ??= page.resourceVersion;
      continueToken = page.continueToken;
    } while (continueToken);
    this.sink.replace(items);
    this.#rv = rv;
    this.#relist = undefined;
    this.#backoff.reset();
    this.#o.onRelist?.(reason, items.length);
    this.#markSynced();
  }

  #watchOnce(): Promise<WatchEnd> {
    const [min, max] = this.#o.watchTimeoutSeconds;
    const timeoutSeconds = Math.floor(min + Math.random() * Math.max(0, max - min));
    const started = Date.now();
    let events = 0;
    return new Promise<WatchEnd>((resolve) => {
      let settled = false;
      let handle: WatchHandle | undefined;
      const finish = (end: WatchEnd) => {
        if (settled) return;
        settled = true;
        clearTimeout(stall);
        this.#endWatch = undefined;
        handle?.abort();
        resolve(end);
      };
      // node-fetch has no read timeout: a connection that died silently would otherwise hang here forever.
      const stall = setTimeout(() => finish({ kind: 'stalled' }), timeoutSeconds * 1000 + this.#o.stallGraceMs);
      this.#endWatch = (reason) => finish({ kind: reason });
      const onEvent = (type: string, object: unknown) => {
        if (settled) return;
        try {
          events++;
          if (type === 'ERROR') {
            const s = (object ?? {}) as { code?: number; message?: string };
            finish(s.code === 410 ? { kind: 'expired' } : { kind: 'error', err: new WatchStatusError(s.code, `watch error event: ${s.message ?? 'unknown'}`) });
            return;
          }
          if (type === 'BOOKMARK') {
            const rv = (object as { metadata?: { resourceVersion?: unknown } } | null)?.metadata?.resourceVersion;
            if (typeof rv === 'string' && rv) this.#rv = rv;
            return;
          }
          if (!isKubeObject(object)) return;
          if (type === 'ADDED' || type === 'MODIFIED') this.sink.upsert(object);
          else if (type === 'DELETED') this.sink.remove(object);
          else return;
          this.#rv = object.metadata.resourceVersion;
        } catch (err) {
          // The sink failed part-way: what it holds is suspect, so relist rather than resume.
          this.#relist = 'error';
          finish({ kind: 'error', err });
        }
      };
      const onDone = (err: unknown) => {
        if (!err) finish({ kind: 'closed', events, ms: Date.now() - started });
        else finish(statusOf(err) === 410 ? { kind: 'expired' } : { kind: 'error', err });
      };
      this.api.watch(this.resource, this.namespace, { resourceVersion: this.#rv, timeoutSeconds }, onEvent, onDone).then(
        (h) => { handle = h; if (settled) h.abort(); },
        (err: unknown) => finish({ kind: 'error', err }),
      );
    });
  }

  #scheduleResync(): void {
    if (this.#o.resyncMs <= 0 || this.#stopped) return;
    this.#resyncTimer = setTimeout(() => {
      if (this.#endWatch) this.#endWatch('resync');
      else this.#relist ??= 'resync';
      this.#scheduleResync();
    }, jittered(this.#o.resyncMs, 0.1));
    this.#resyncTimer.unref();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = () => { clearTimeout(this.#sleepTimer); this.#wake = undefined; resolve(); };
      this.#sleepTimer = setTimeout(() => this.#wake?.(), ms);
    });
  }
}
