import { AccountSources } from '../../detect/accounts.ts';
import { AsnAggregates } from '../../detect/asn.ts';
import { DetectionEngine, type AttemptFacts, type Outcome, type OutcomeFacts, type RecordResult } from '../../detect/engine.ts';
import type { IpKey } from '../../detect/ip-key.ts';
import type { Verdict } from '../../detect/verdict.ts';
import { ROW_BYTES } from '../../detect/ip-table.ts';
import { SprayPasswords } from '../../detect/spray-passwords.ts';

/** Bytes per row in a ViewUpdate: the key (f64 little-endian), then the row in the shared-store format. */
export const VIEW_ROW_BYTES = 8 + ROW_BYTES;
const OUTCOME_CODE: Partial<Record<Outcome, number>> = { failure: 1, success: 2 };

/**
 * What the primary tells every worker after applying events: the rows of the keys that changed (counters,
 * blocks, levels: the worker loads them as the Redis store loads other replicas' rows), the (IP, account)
 * failure counts, the network-aggregate and account-signal events to replay, and Org Under Attack.
 * Flat typed arrays so the structured clone over the IPC channel is a few copies.
 */
export interface ViewUpdate {
  readonly t: 'view';
  readonly nowMs: number;
  readonly rows: Uint8Array;
  /** [key, usernameHash, failures] per pair. */
  readonly pairs: Float64Array;
  /** [netKey, key, outcome 1 failure | 2 success] per network outcome. */
  readonly nets: Float64Array;
  /** [1 success | 2 failure, account, network, nowMs, aggressive 0|1] per AccountSources call. */
  readonly accounts: Float64Array;
  /** [fingerprint, account, source key, nowMs, aggressive 0|1] per SprayPasswords.recordFailure. */
  readonly spray: Float64Array;
  /** [account, fingerprint, familiar 0|1, nowMs] per AccountSources.recordWrongPassword (distinct wrong passwords). */
  readonly passwords: Float64Array;
  /** [asn, source key, failure 0|1, nowMs] per AsnAggregates.record. */
  readonly asn: Float64Array;
  /** -1: unchanged; 0/1: the aggressive (Org Under Attack) profile off/on. */
  readonly aggressive: number;
}

export interface ViewBounds {
  /** Distinct keys per update (default 16,384): the builder reports `full` beyond, and the primary flushes. */
  readonly maxKeys?: number;
  /** Pair, network and signal events per update (default 16,384 each); beyond, they are dropped and counted. */
  readonly maxEvents?: number;
}

/**
 * Collects, on the primary, what changed in the detector state since the last update. Fed by the observed
 * engine and signals below; `take()` reads the current rows (so a key touched ten times is sent once).
 */
export class ViewBuilder {
  readonly maxKeys: number;
  readonly maxEvents: number;
  /** Events that did not fit an update (counted, never thrown). */
  dropped = 0;
  #keys = new Set<IpKey>();
  #pairs: number[] = [];
  #nets: number[] = [];
  #accounts: number[] = [];
  #spray: number[] = [];
  #passwords: number[] = [];
  #asn: number[] = [];
  #aggressiveSent = false;

  constructor(bounds: ViewBounds = {}) {
    this.maxKeys = bounds.maxKeys ?? 16_384;
    this.maxEvents = bounds.maxEvents ?? 16_384;
  }

  get empty(): boolean {
    return this.#keys.size === 0 && this.#pairs.length === 0 && this.#nets.length === 0 && this.#accounts.length === 0 && this.#spray.length === 0
      && this.#passwords.length === 0 && this.#asn.length === 0;
  }

  get full(): boolean {
    return this.#keys.size >= this.maxKeys;
  }

  key(key: IpKey): void {
    if (this.#keys.size < this.maxKeys || this.#keys.has(key)) this.#keys.add(key);
    else this.dropped++;
  }

  pair(key: IpKey, usernameHash: number): void {
    this.#add(this.#pairs, 3, key, usernameHash, 0);
  }

  net(netKey: number, key: IpKey, outcome: Outcome): void {
    const code = OUTCOME_CODE[outcome];
    if (code !== undefined) this.#add(this.#nets, 3, netKey, key, code);
  }

  account(kind: 1 | 2, account: number, network: number, nowMs: number, aggressive: boolean): void {
    this.#add(this.#accounts, 5, kind, account, network, nowMs, aggressive ? 1 : 0);
  }

  spray(fingerprint: number, account: number, source: IpKey, nowMs: number, aggressive: boolean): void {
    this.#add(this.#spray, 5, fingerprint, account, source, nowMs, aggressive ? 1 : 0);
  }

  wrongPassword(account: number, fingerprint: number, familiar: boolean, nowMs: number): void {
    this.#add(this.#passwords, 4, account, fingerprint, familiar ? 1 : 0, nowMs);
  }

  asnOutcome(asn: number, key: IpKey, failure: boolean, nowMs: number): void {
    this.#add(this.#asn, 4, asn, key, failure ? 1 : 0, nowMs);
  }

  /** Everything collected, with the rows and pair counts as the engine holds them now; undefined if nothing changed. */
  take(engine: DetectionEngine, nowMs: number): ViewUpdate | undefined {
    const aggressive = engine.aggressive;
    const flip = aggressive !== this.#aggressiveSent;
    if (this.empty && !flip) return undefined;
    this.#aggressiveSent = aggressive;
    const rows = new Uint8Array(this.#keys.size * VIEW_ROW_BYTES);
    const dv = new DataView(rows.buffer);
    let n = 0;
    for (const key of this.#keys) {
      const row = engine.exportRow(key);
      if (!row) continue; // evicted meanwhile: the worker's copy ages out on its own sweep
      dv.setFloat64(n * VIEW_ROW_BYTES, key, true);
      rows.set(row, n * VIEW_ROW_BYTES + 8);
      n++;
    }
    const pairs = Float64Array.from(this.#pairs);
    for (let i = 0; i < pairs.length; i += 3) pairs[i + 2] = engine.accountFailures(pairs[i]!, pairs[i + 1]!);
    const update: ViewUpdate = {
      t: 'view',
      nowMs,
      rows: n * VIEW_ROW_BYTES === rows.length ? rows : rows.slice(0, n * VIEW_ROW_BYTES),
      pairs,
      nets: Float64Array.from(this.#nets),
      accounts: Float64Array.from(this.#accounts),
      spray: Float64Array.from(this.#spray),
      passwords: Float64Array.from(this.#passwords),
      asn: Float64Array.from(this.#asn),
      aggressive: flip ? (aggressive ? 1 : 0) : -1,
    };
    this.#keys = new Set();
    this.#pairs = [];
    this.#nets = [];
    this.#accounts = [];
    this.#spray = [];
    this.#passwords = [];
    this.#asn = [];
    return update;
  }

  /** The start of a (re)started worker's view: every active block and the profile in force. */
  static sync(engine: DetectionEngine, nowMs: number): ViewUpdate {
    const rows: Uint8Array[] = [];
    const keys: number[] = [];
    engine.forEachActiveBlock((key, row) => { keys.push(key); rows.push(row); }, nowMs);
    const out = new Uint8Array(keys.length * VIEW_ROW_BYTES);
    const dv = new DataView(out.buffer);
    keys.forEach((key, i) => {
      dv.setFloat64(i * VIEW_ROW_BYTES, key, true);
      out.set(rows[i]!, i * VIEW_ROW_BYTES + 8);
    });
    const none = new Float64Array(0);
    return { t: 'view', nowMs, rows: out, pairs: none, nets: none, accounts: none, spray: none, passwords: none, asn: none, aggressive: engine.aggressive ? 1 : 0 };
  }

  #add(list: number[], width: number, ...values: number[]): void {
    if (list.length / width >= this.maxEvents) {
      this.dropped++;
      return;
    }
    for (const v of values) list.push(v);
  }
}

export function isViewUpdate(m: unknown): m is ViewUpdate {
  if (typeof m !== 'object' || m === null || (m as { t?: unknown }).t !== 'view') return false;
  const v = m as ViewUpdate;
  return typeof v.nowMs === 'number' && v.rows instanceof Uint8Array && v.rows.length % VIEW_ROW_BYTES === 0
    && v.pairs instanceof Float64Array && v.pairs.length % 3 === 0 && v.nets instanceof Float64Array && v.nets.length % 3 === 0
    && v.accounts instanceof Float64Array && v.accounts.length % 5 === 0 && v.spray instanceof Float64Array && v.spray.length % 5 === 0
    && v.passwords instanceof Float64Array && v.passwords.length % 4 === 0 && v.asn instanceof Float64Array && v.asn.length % 4 === 0
    && typeof v.aggressive === 'number';
}

/** The account signals a worker's view replays (the ASN aggregate only where the worker reads ASNs). */
export interface ViewSignals {
  readonly accounts: AccountSources;
  readonly spray: SprayPasswords;
  readonly asn?: AsnAggregates;
}

/** A worker's local view takes an update: rows and pairs replace its copies, signal events are replayed. */
export function applyView(v: ViewUpdate, engine: DetectionEngine, signals?: ViewSignals): void {
  if (v.aggressive === 0 || v.aggressive === 1) engine.setAggressive(v.aggressive === 1);
  const dv = new DataView(v.rows.buffer, v.rows.byteOffset, v.rows.byteLength);
  for (let o = 0; o < v.rows.length; o += VIEW_ROW_BYTES) engine.loadRow(dv.getFloat64(o, true), v.rows.subarray(o + 8, o + VIEW_ROW_BYTES), v.nowMs);
  const sec = Math.floor(v.nowMs / 1000);
  for (let i = 0; i < v.pairs.length; i += 3) engine.loadAccountFailures(v.pairs[i]!, v.pairs[i + 1]!, v.pairs[i + 2]!, sec);
  for (let i = 0; i < v.nets.length; i += 3) engine.recordNetworkOutcome(v.nets[i]!, v.nets[i + 1]!, v.nets[i + 2] === 1 ? 'failure' : 'success');
  if (!signals) return;
  const a = v.accounts;
  for (let i = 0; i < a.length; i += 5) {
    if (a[i] === 1) signals.accounts.recordSuccess(a[i + 1]!, a[i + 2]!, a[i + 3]!);
    else signals.accounts.recordFailure(a[i + 1]!, a[i + 2]!, a[i + 3]!, a[i + 4] === 1);
  }
  const s = v.spray;
  for (let i = 0; i < s.length; i += 5) signals.spray.recordFailure(s[i]!, s[i + 1]!, s[i + 2]!, s[i + 3]!, s[i + 4] === 1);
  const w = v.passwords;
  for (let i = 0; i < w.length; i += 4) signals.accounts.recordWrongPassword(w[i]!, w[i + 1]!, w[i + 2] === 1, w[i + 3]!);
  const asn = signals.asn;
  if (asn) for (let i = 0; i < v.asn.length; i += 4) asn.record(v.asn[i]!, v.asn[i + 1]!, v.asn[i + 2] === 1, v.asn[i + 3]!);
}

/**
 * The primary's engine: the real one, noting every key, pair and network aggregate that changes so the next
 * ViewUpdate carries it. Every write path (the memory store, the Redis store's own and other replicas' rows,
 * its outage fallback) goes through these methods.
 */
export class ObservedEngine extends DetectionEngine {
  view: ViewBuilder | undefined;

  override recordAttempt(key: IpKey, facts?: AttemptFacts): RecordResult {
    this.view?.key(key);
    return super.recordAttempt(key, facts);
  }

  override recordRefused(key: IpKey): RecordResult {
    this.view?.key(key);
    return super.recordRefused(key);
  }

  // recordOutcome goes through learnOutcome: one override sees both.
  override learnOutcome(key: IpKey, outcome: Outcome, facts?: OutcomeFacts, nowMs?: number): Verdict | undefined {
    this.view?.key(key);
    if (facts?.usernameHash !== undefined) this.view?.pair(key, facts.usernameHash);
    return super.learnOutcome(key, outcome, facts, nowMs);
  }

  override recordNetworkOutcome(netKey: number, key: IpKey, outcome: Outcome): void {
    this.view?.net(netKey, key, outcome);
    super.recordNetworkOutcome(netKey, key, outcome);
  }

  override loadRow(key: IpKey, row: Uint8Array, nowMs?: number): void {
    this.view?.key(key);
    super.loadRow(key, row, nowMs);
  }

  override loadBlock(key: IpKey, untilMs: number, level: 'MEDIUM' | 'HIGH', nowMs?: number): void {
    this.view?.key(key);
    super.loadBlock(key, untilMs, level, nowMs);
  }

  override loadAccountFailures(key: IpKey, usernameHash: number, failures: number, nowSec: number): void {
    this.view?.pair(key, usernameHash);
    super.loadAccountFailures(key, usernameHash, failures, nowSec);
  }
}

/** The primary's familiar-source detector, noting each learnt event for the workers to replay. */
export class ObservedAccounts extends AccountSources {
  view: ViewBuilder | undefined;

  override recordSuccess(account: number, network: number, nowMs: number): void {
    this.view?.account(1, account, network, nowMs, false);
    super.recordSuccess(account, network, nowMs);
  }

  override recordFailure(account: number, network: number, nowMs: number, aggressive = false): void {
    this.view?.account(2, account, network, nowMs, aggressive);
    super.recordFailure(account, network, nowMs, aggressive);
  }

  override recordWrongPassword(account: number, fingerprint: number, familiar: boolean, nowMs: number): boolean {
    this.view?.wrongPassword(account, fingerprint, familiar, nowMs);
    return super.recordWrongPassword(account, fingerprint, familiar, nowMs);
  }
}

/** The primary's ASN aggregate, noting each outcome for the workers to replay. */
export class ObservedAsn extends AsnAggregates {
  view: ViewBuilder | undefined;

  override record(asn: number, key: IpKey, failure: boolean, nowMs: number): void {
    this.view?.asnOutcome(asn, key, failure, nowMs);
    super.record(asn, key, failure, nowMs);
  }
}

/** The primary's spray-password detector, noting each failure for the workers to replay. */
export class ObservedSpray extends SprayPasswords {
  view: ViewBuilder | undefined;

  override recordFailure(fingerprint: number, account: number, source: IpKey, nowMs: number, aggressive = false): boolean {
    this.view?.spray(fingerprint, account, source, nowMs, aggressive);
    return super.recordFailure(fingerprint, account, source, nowMs, aggressive);
  }
}
