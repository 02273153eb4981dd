import { randomBytes } from 'node:crypto';
import type { Clock } from '../../clock.ts';
import type { AttemptFacts, BlockPlan, DetectionEngine, Outcome, OutcomeFacts } from '../../detect/engine.ts';
import type { IpKey } from '../../detect/ip-key.ts';
import { ROW_BYTES } from '../../detect/ip-table.ts';
import type { OrgAttackDetector, OrgOutcomeFacts } from '../../detect/org-attack.ts';
import type { DetectorStore, SignalEvent, StoreCounters, StoreHealth, StoreListener } from '../store.ts';
import { SignalChannel } from './signals.ts';
import type { DetectionSettings } from '../../detect/detection.ts';
import { configureDetectors } from '../configure.ts';
import { BlockChannel, rowUntilSec } from './blocks.ts';
import { backoffMs, createRedisClient, ScriptRunner, type RedisClient } from './client.ts';
import type { RedisSettings } from './endpoint.ts';
import { RedisKeys } from './keys.ts';
import { SharedOrg } from './org.ts';
import { EV_ATTEMPT, EV_FAILURE, EV_REFUSED, EV_SUCCESS, EV_UNKNOWN_USER_FAILURE, liveRecordParams, recordParams, RowWriter, type SendResult, type StoreEvent } from './writer.ts';

export interface RedisStoreOptions {
  readonly settings: RedisSettings;
  /** The local view: the Check path reads it, an outage counts in it. */
  readonly engine: DetectionEngine;
  readonly org: OrgAttackDetector;
  readonly clock: Clock;
  /** Degraded or recovered, with why: for the log line and the event. */
  readonly onHealth?: (health: StoreHealth, reason: string) => void;
  /** (IP, username) failure counters kept per client in Redis. */
  readonly maxPairsPerIp?: number;
  /** How long start() waits for Redis before starting degraded. */
  readonly startTimeoutMs?: number;
  /** Account-signal events kept in the shared stream (about; XADD MAXLEN ~). */
  readonly maxSignalEvents?: number;
}

const NO_LISTENER: StoreListener = { blockStarted: () => undefined, attack: () => undefined };
/** Events per replay step after an outage. */
const REPLAY_CHUNK = 5000;
const TRIM_EVERY_MS = 10_000;

/**
 * Detector state in Redis, shared by every replica (docs/redis.md). The Check path never waits on Redis: it
 * reads the local view (engine, org), which this store keeps current from the rows its own writes return and
 * from rows other replicas publish. Writes go out in batches; a block is a compare-and-set decided here with
 * the engine's own rules. When Redis fails the store is degraded: it counts in the local view, buffers the
 * events (bounded) and replays them once Redis answers again.
 */
export class RedisStore implements DetectorStore {
  readonly mode = 'redis' as const;
  readonly engine: DetectionEngine;
  readonly org: OrgAttackDetector;
  readonly stats = { outages: 0, replayed: 0, lost: 0, dropped: 0 };
  readonly #o: RedisStoreOptions;
  readonly #client: RedisClient;
  readonly #sub: RedisClient;
  readonly #scripts: ScriptRunner;
  readonly #keys: RedisKeys;
  readonly #writer: RowWriter;
  readonly #blocks: BlockChannel;
  readonly #org: SharedOrg;
  readonly #signals: SignalChannel;
  /** Longest a shared account signal matters: the stream's TTL (familiar networks, spray holds). */
  #signalTtlMs = 30 * 86_400_000;
  readonly #params: () => ReturnType<typeof recordParams>;
  readonly #pending = new Set<Promise<unknown>>();
  #listener = NO_LISTENER;
  #buffer: StoreEvent[] = [];
  #degradedSince = 0;
  #reason = '';
  #recovering: Promise<void> | undefined;
  #tries = 0;
  #nextTry = 0;
  #lastTrim = 0;
  #closed = false;
  #lastError = '';

  constructor(o: RedisStoreOptions) {
    this.#o = o;
    this.engine = o.engine;
    this.org = o.org;
    const s = o.settings;
    this.#keys = new RedisKeys(s.keyPrefix);
    this.#client = createRedisClient(s, 'command');
    this.#sub = createRedisClient(s, 'subscriber');
    this.#scripts = new ScriptRunner(this.#client);
    this.#params = liveRecordParams(() => o.engine.thresholds);
    const nowMs = (): number => o.clock.nowMs();
    this.#writer = new RowWriter(this.#scripts, this.#keys, () => o.engine.thresholds, o.maxPairsPerIp ?? 128, s.flushMs, s.mode !== 'cluster', () => Math.floor(nowMs() / 1000),
      (key, row, accounts, events) => this.#onRow(key, row, accounts, events), (r) => this.#onFlushed(r));
    const origin = `${process.pid.toString(36)}-${randomBytes(4).toString('hex')}`;
    this.#blocks = new BlockChannel(this.#client, this.#sub, this.#keys, o.engine, origin, nowMs);
    this.#org = new SharedOrg(this.#client, this.#scripts, this.#keys, o.org);
    this.#signals = new SignalChannel(this.#client, this.#sub, this.#keys, origin, o.maxSignalEvents ?? 100_000, () => this.#signalTtlMs);
    // Errors surface through commands; the connection's last error explains a lost link (auth, TLS, refused).
    this.#client.on('error', (err: Error) => {
      this.#lastError = err.message;
    });
    this.#sub.on('error', () => undefined);
    this.#client.on('close', () => this.#degrade('connection to Redis lost'));
    this.#client.on('ready', () => void this.#recover());
  }

  /** Connects, loads scripts and active blocks. Never rejects: unreachable Redis means starting degraded. */
  async start(): Promise<void> {
    const budget = this.#o.startTimeoutMs ?? 3000;
    try {
      await withTimeout(Promise.all([this.#client.connect(), this.#sub.connect()]), budget);
      await this.#scripts.load();
      await this.#blocks.start();
      await this.#signals.start();
      await this.#org.tick(this.#o.clock.nowMs(), (t) => this.#listener.attack(t));
      this.#adoptAttackState();
    } catch (err) {
      this.#degrade(`Redis unreachable at start: ${message(err)}`);
      // The subscription is queued until the subscriber connects; blocks are re-read on recovery.
      this.#blocks.start().catch(() => undefined);
      this.#signals.start().catch(() => undefined);
    }
  }

  setListener(listener: StoreListener): void {
    this.#listener = listener;
  }

  setBlocking(enabled: boolean): void {
    this.engine.setBlocking(enabled);
  }

  /** As in memory; the record script's windows follow the engine. A reshaped view re-adopts the shared org state. */
  configure(detection: DetectionSettings, reshape: boolean): string[] {
    this.#signalTtlMs = Math.max(detection.accounts.familiarMs, detection.sprayPasswords.holdMs, detection.accounts.attackHoldMs);
    const r = configureDetectors(this.engine, this.org, detection, reshape);
    if (r.orgReshaped) this.#org.resync();
    return r.deferred;
  }

  recordAttempt(key: IpKey, facts: AttemptFacts, clientText: string | undefined): void {
    this.#submit({ key, kind: EV_ATTEMPT, sec: this.#nowSec(), usernameHash: facts.usernameHash, clientText });
  }

  recordOutcome(key: IpKey, outcome: Outcome, facts: OutcomeFacts, clientText: string | undefined): void {
    if (outcome !== 'failure' && outcome !== 'success') return;
    // Network aggregates are per replica (not in Redis): counted in the local view only.
    if (facts.netKey !== undefined) this.engine.recordNetworkOutcome(facts.netKey, key, outcome);
    const kind = outcome === 'success' ? EV_SUCCESS : facts.unknownUser ? EV_UNKNOWN_USER_FAILURE : EV_FAILURE;
    this.#submit({ key, kind, sec: this.#nowSec(), usernameHash: facts.usernameHash, clientText });
  }

  recordRefused(key: IpKey, clientText: string | undefined): void {
    this.#submit({ key, kind: EV_REFUSED, sec: this.#nowSec(), usernameHash: undefined, clientText });
  }

  shareSignal(e: SignalEvent): void {
    // Not buffered through an outage: the local view has it, and account signals are hints, not counters.
    if (this.degraded) return;
    this.#track(this.#signals.share(e));
  }

  setSignalListener(fn: (e: SignalEvent) => void): void {
    this.#signals.setListener(fn);
  }

  recordOrgOutcome(outcome: Outcome, facts: OrgOutcomeFacts, nowMs: number): void {
    this.#org.record(outcome, facts, nowMs);
  }

  tick(nowMs: number): void {
    this.engine.sweep(4096, nowMs);
    if (this.#closed) return;
    if (this.degraded) {
      if (performance.now() >= this.#nextTry) void this.#recover();
      return;
    }
    this.#track(this.#org.tick(nowMs, (t) => this.#listener.attack(t)).then(() => this.#adoptAttackState()));
    if (nowMs - this.#lastTrim >= TRIM_EVERY_MS) {
      this.#lastTrim = nowMs;
      this.#track(this.#blocks.trim());
    }
  }

  async refresh(key: IpKey): Promise<void> {
    if (this.degraded) return;
    try {
      const row = await this.#client.getBuffer(this.#keys.row(key));
      if (row && row.length === ROW_BYTES) this.engine.loadRow(key, row, this.#o.clock.nowMs());
    } catch {
      // The admin view then shows the local state, which is what this replica decides with.
    }
  }

  get degraded(): boolean {
    return this.#degradedSince !== 0;
  }

  health(): StoreHealth {
    const s = this.#o.settings;
    const where = `redis ${s.mode} ${s.urls.map(redact).join(',')} prefix ${JSON.stringify(s.keyPrefix)}`;
    if (!this.degraded) return { mode: 'redis', degraded: false, degradedSinceMs: 0, detail: `${where}: connected`, buffered: 0 };
    const since = new Date(this.#degradedSince).toISOString();
    return {
      mode: 'redis',
      degraded: true,
      degradedSinceMs: this.#degradedSince,
      detail: `${where}: degraded since ${since} (${this.#why()}); deciding on local state, ${this.#buffer.length} events buffered`,
      buffered: this.#buffer.length,
    };
  }

  counters(): StoreCounters {
    const s = this.stats;
    return { calls: this.#writer.calls, batches: this.#writer.flushes, received: this.#blocks.received, scriptReloads: this.#scripts.reloads, outages: s.outages, replayed: s.replayed, lost: s.lost + this.#org.lost, dropped: s.dropped };
  }

  /** Every write issued so far answered, and every row published before now received (a PING on the subscriber answers after them). */
  async settled(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      await this.#writer.settled();
      if (this.#pending.size === 0 && !this.#recovering && this.#writer.queued === 0) break;
      await Promise.all([...this.#pending, this.#recovering]);
    }
    if (!this.degraded) await withTimeout(this.#sub.ping(), this.#o.settings.timeoutMs).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (!this.degraded) await withTimeout(this.settled(), 1000).catch(() => undefined);
    this.#closed = true;
    this.#client.disconnect();
    this.#sub.disconnect();
  }

  /** The failure, with the connection's last error when that says more (auth, TLS, refused). */
  #why(): string {
    const e = this.#lastError;
    return e && !this.#reason.includes(e) ? `${this.#reason}; last error: ${e}` : this.#reason;
  }

  #nowSec(): number {
    return Math.floor(this.#o.clock.nowMs() / 1000);
  }

  #submit(e: StoreEvent): void {
    if (this.degraded) this.#applyLocally(e, true);
    else this.#writer.push(e);
  }

  /** Counts an event in the local view (deciding blocks there) and, if asked, keeps it for the replay. */
  #applyLocally(e: StoreEvent, buffer: boolean): void {
    const facts = { usernameHash: e.usernameHash, unknownUser: e.kind === EV_UNKNOWN_USER_FAILURE };
    const r = e.kind === EV_REFUSED ? this.engine.recordRefused(e.key) : e.kind === EV_ATTEMPT ? this.engine.recordAttempt(e.key, facts) : this.engine.recordOutcome(e.key, e.kind === EV_SUCCESS ? 'success' : 'failure', facts);
    if (r.newlyBlocked) this.#listener.blockStarted(e.key, e.clientText, r.verdict);
    if (!buffer) return;
    if (this.#buffer.length >= this.#o.settings.bufferEvents) {
      // Oldest first: the newest events matter most to the windows still open.
      const drop = Math.max(1, this.#buffer.length >> 4);
      this.#buffer.splice(0, drop);
      this.stats.dropped += drop;
    }
    this.#buffer.push(e);
  }

  /**
   * A row came back from Redis. The common case (no block to start or share, level unchanged) is synchronous
   * and allocates nothing; the rest goes on asynchronously.
   */
  #onRow(key: IpKey, row: Buffer, accounts: readonly number[], events: readonly StoreEvent[]): void {
    const now = this.#o.clock.nowMs();
    const nowSec = Math.floor(now / 1000);
    // Per-account failures stay in Redis; the local view keeps the counts its own writes saw (per-attempt checks).
    for (let i = 0; i + 1 < accounts.length; i += 2) this.engine.loadAccountFailures(key, accounts[i]!, accounts[i + 1]!, nowSec);
    const before = this.engine.evaluate(key, now).level;
    const localUntil = this.engine.blockUntilSec(key);
    this.engine.loadRow(key, row, now);
    if (localUntil > rowUntilSec(row) && localUntil * 1000 > now) {
      // Made here during an outage (or after Redis lost its data): give it to the others, no second event.
      this.#track(this.#share(key, this.engine.exportRow(key)!, now));
      return;
    }
    const plan = this.engine.planBlock(key, now);
    if (plan) this.#track(this.#block(key, plan, events[events.length - 1]?.clientText, now));
    else if (this.engine.evaluate(key, now).level !== before) this.#track(this.#blocks.publish(key, row, false));
  }

  /** Starts a block as a compare-and-set; if the row changed meanwhile, decides again on the new row. */
  async #block(key: IpKey, plan: BlockPlan, clientText: string | undefined, now: number): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await this.#cas(key, plan.expectUntilSec, plan.expectFlags, plan.untilSec, plan.flags, now);
      if (!r.row) return;
      this.engine.loadRow(key, r.row, now);
      if (r.ok) {
        this.#listener.blockStarted(key, clientText, this.engine.evaluate(key, now));
        await this.#blocks.publish(key, r.row, true);
        return;
      }
      const next = this.engine.planBlock(key, now);
      if (!next) return;
      plan = next;
    }
  }

  async #cas(key: IpKey, expectUntil: number, expectFlags: number, until: number, flags: number, now: number): Promise<{ ok: boolean; row: Buffer | undefined }> {
    const p = this.#params();
    const args = [expectUntil, expectFlags, until, flags, p.idleSec, p.offenceMemorySec, Math.floor(now / 1000)];
    const r = (await this.#scripts.run('block', [this.#keys.row(key)], args)) as [number, Buffer?];
    return { ok: r[0] === 1, row: r[1] };
  }

  async #share(key: IpKey, local: Uint8Array, now: number): Promise<void> {
    const p = this.#params();
    const r = (await this.#scripts.run('share', [this.#keys.row(key)], [Buffer.from(local), p.idleSec, p.offenceMemorySec, Math.floor(now / 1000)])) as [number, Buffer];
    this.engine.loadRow(key, r[1], now);
    if (r[0] === 1) await this.#blocks.publish(key, r[1], true);
  }

  /** Blocks this replica enforces that the shared index lacks (made during the outage, or Redis restarted empty). */
  async #shareLocalBlocks(indexed: ReadonlySet<number>): Promise<void> {
    const now = this.#o.clock.nowMs();
    const missing: Promise<void>[] = [];
    this.engine.forEachActiveBlock((key, row) => {
      if (!indexed.has(key)) missing.push(this.#share(key, row, now));
    }, now);
    await Promise.all(missing);
  }

  #onFlushed(r: SendResult): void {
    if (!r.error) return;
    this.#degrade(message(r.error));
    for (const e of r.failed) this.#applyLocally(e, true);
    for (const e of r.ambiguous) this.#applyLocally(e, false);
    this.stats.lost += r.ambiguous.length;
  }

  #degrade(reason: string): void {
    if (this.#closed || this.degraded) return;
    this.#degradedSince = this.#o.clock.nowMs() || 1;
    this.#reason = reason;
    this.stats.outages++;
    this.#tries = 0;
    this.#nextTry = performance.now() + backoffMs(0);
    for (const e of this.#writer.drain()) this.#applyLocally(e, true);
    this.#o.onHealth?.(this.health(), reason);
  }

  /** Scripts, active blocks, the buffered events, the org counts: then the store is shared again. */
  #recover(): Promise<void> {
    if (!this.degraded || this.#closed) return Promise.resolve();
    this.#recovering ??= (async () => {
      try {
        await this.#scripts.load();
        const indexed = await this.#blocks.resync();
        let replayed = 0;
        while (this.#buffer.length > 0) {
          const chunk = this.#buffer.splice(0, REPLAY_CHUNK);
          const r = await this.#writer.send(groupByKey(chunk));
          replayed += chunk.length - r.failed.length - r.ambiguous.length;
          this.stats.lost += r.ambiguous.length;
          if (r.error) {
            this.#buffer.unshift(...r.failed);
            throw r.error;
          }
        }
        // After the replay, so a row Redis lost is rebuilt from the events rather than copied and replayed twice.
        await this.#shareLocalBlocks(indexed);
        await this.#org.flush();
        const seconds = Math.round((this.#o.clock.nowMs() - this.#degradedSince) / 1000);
        this.stats.replayed += replayed;
        this.#degradedSince = 0;
        this.#reason = '';
        this.#lastError = '';
        this.#o.onHealth?.(this.health(), `Redis back after ${seconds} s; ${replayed} events replayed`);
      } catch (err) {
        this.#reason = message(err);
        this.#tries++;
        this.#nextTry = performance.now() + backoffMs(this.#tries);
      }
    })().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  #adoptAttackState(): void {
    if (this.engine.aggressive !== this.org.underAttack) this.engine.setAggressive(this.org.underAttack);
  }

  #track(p: Promise<unknown>): void {
    const q = p.catch((err) => this.#degrade(message(err)));
    this.#pending.add(q);
    void q.finally(() => this.#pending.delete(q));
  }
}

function groupByKey(events: readonly StoreEvent[]): Map<IpKey, StoreEvent[]> {
  const m = new Map<IpKey, StoreEvent[]>();
  for (const e of events) {
    const l = m.get(e.key);
    if (l) l.push(e);
    else m.set(e.key, [e]);
  }
  return m;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** URL without credentials, for /readyz and logs. */
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
