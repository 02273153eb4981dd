import type { AttemptFacts, Detector, Outcome, OutcomeFacts, Verdict } from '../detect/engine.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { AttackTransition, OrgAttackDetector, OrgOutcomeFacts } from '../detect/org-attack.ts';
import type { DetectionSettings } from '../detect/detection.ts';

/** What a store tells the service about; each block and each transition is reported once, cluster-wide. */
export interface StoreListener {
  blockStarted(key: IpKey, clientText: string | undefined, verdict: Verdict): void;
  attack(t: AttackTransition): void;
}

/**
 * What one correlated outcome teaches the per-account and per-password detectors (service/account-signals.ts):
 * a success makes the network familiar to the account; a failure counts towards accounts under attack, spray
 * passwords and distinct wrong passwords. In Redis mode every replica applies every replica's events, so they
 * agree (docs/redis.md). `fingerprint` 0: no password was read.
 */
export type SignalEvent =
  | { readonly kind: 'success'; readonly account: number; readonly net: number; readonly atMs: number }
  | { readonly kind: 'failure'; readonly account: number; readonly net: number; readonly fingerprint: number; readonly source: IpKey; readonly atMs: number };

export const STORE_MODES = ['memory', 'redis'] as const;
export type StoreMode = (typeof STORE_MODES)[number];

export interface StoreHealth {
  readonly mode: StoreMode;
  /** Shared state unreachable: deciding and counting on local state only. */
  readonly degraded: boolean;
  /** Since when (ms), 0 when not degraded. */
  readonly degradedSinceMs: number;
  /** One line for /readyz and logs. */
  readonly detail: string;
  /** Events counted locally, waiting to be replayed into the shared store. */
  readonly buffered: number;
}

/** Cumulative numbers a shared store keeps; the memory store has none. */
export interface StoreCounters {
  /** Script calls sent (record batches, one per client per flush). */
  readonly calls: number;
  /** Batches sent (one pipelined write each: one round trip per Redis node). */
  readonly batches: number;
  /** Rows (blocks, level changes) received from other replicas. */
  readonly received: number;
  readonly scriptReloads: number;
  readonly outages: number;
  readonly replayed: number;
  /** Events that may be missing from the shared state: timed-out writes, org counts too old to send. */
  readonly lost: number;
  /** Events dropped from a full outage buffer. */
  readonly dropped: number;
}

/**
 * Where the detectors keep their state. `engine` and `org` are always the local view: the Check path reads
 * only them (never I/O), so a shared store must keep them up to date. Writes are fire-and-forget; their
 * consequences (blocks, attack transitions) come back through the listener, possibly later.
 */
export interface DetectorStore {
  readonly mode: StoreMode;
  readonly engine: Detector;
  readonly org: OrgAttackDetector;
  setListener(listener: StoreListener): void;
  /** Policy action Block (true) or None/Audit (false). */
  setBlocking(enabled: boolean): void;
  /**
   * The policy's detection settings, applied to the engine and Org Under Attack in place (counters, blocks and the
   * baseline kept). Returns the settings paths that shape the tables ("thresholds.bruteForce.windowMs",
   * "orgUnderAttack.bucketMs") and were left as they are, to apply at the next start; with `reshape` (the first
   * config after start) they apply too.
   */
  configure(detection: DetectionSettings, reshape: boolean): string[];
  recordAttempt(key: IpKey, facts: AttemptFacts, clientText: string | undefined): void;
  recordOutcome(key: IpKey, outcome: Outcome, facts: OutcomeFacts, clientText: string | undefined): void;
  /** A sign-in attempt the decision refused (429/403): persistence evidence, never a failed sign-in. */
  recordRefused(key: IpKey, clientText: string | undefined): void;
  /** One sign-in outcome for Org Under Attack. */
  recordOrgOutcome(outcome: Outcome, facts: OrgOutcomeFacts, nowMs: number): void;
  /** An account-signal event this process learnt (already applied locally): shared with the other replicas. */
  shareSignal(e: SignalEvent): void;
  /** Where other replicas' events go (and, at start, those the shared store kept); memory: never called. */
  setSignalListener(fn: (e: SignalEvent) => void): void;
  /** From one shared 1 s interval: closes attack buckets, sweeps, retries the shared store. */
  tick(nowMs: number): void;
  /** Brings the local view of one key up to date (admin endpoint); never rejects. */
  refresh(key: IpKey): Promise<void>;
  health(): StoreHealth;
  /** Cumulative counts for metrics; undefined for the memory store. */
  counters(): StoreCounters | undefined;
  /** Resolves when every write issued so far has been answered (tests, shutdown). */
  settled(): Promise<void>;
  close(): Promise<void>;
}
