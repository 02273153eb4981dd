import type { Clock } from '../clock.ts';
import type { Outcome } from './engine.ts';
import { keyHash } from './hash.ts';

/**
 * Org Under Attack, one instance per policy. Outcomes go into fixed buckets; each closed bucket gives four
 * signals, scored against a baseline learned online (EWMA mean and variance). An attack starts after
 * `consecutiveBuckets` anomalous buckets above an absolute failure floor (on average over those buckets, each at
 * least half of it), and ends only after `cooldownMs`
 * without an anomalous bucket (a lower `clearScore` during the attack gives hysteresis). The baseline never
 * learns from anomalous or attack buckets. Cold start: before any baseline (the first coldStartMs) only an
 * absolute rule applies (enough failures, mostly failing, from many IPs); after it a provisional baseline scores,
 * behind the same absolute floor and surge factor, until warm-up ends. So an attack that begins a minute after a
 * fresh start is declared within ~30 s, while an ordinary start-up is not.
 */
export interface OrgAttackOptions {
  readonly clock: Clock;
  /** Bucket width. */
  readonly bucketMs?: number;
  /** Half-life of the baseline's EWMA. */
  readonly halfLifeMs?: number;
  /** History after which the baseline is trusted fully (the state's warmingUp ends). */
  readonly warmupMs?: number;
  /**
   * History after which the provisional baseline scores at all (cold start). Until warmupMs, the absolute
   * floor and the surge factor keep its noise from declaring anything ordinary.
   */
  readonly coldStartMs?: number;
  /** A bucket is anomalous above this score (max z-score across signals) ... */
  readonly scoreThreshold?: number;
  /** ... and, during an attack, still anomalous above this one. */
  readonly clearScore?: number;
  /** Anomalous buckets in a row before declaring. */
  readonly consecutiveBuckets?: number;
  /** Time without an anomalous bucket before the attack ends. */
  readonly cooldownMs?: number;
  /** Absolute floor: sign-in failures per bucket needed to declare or to stay anomalous. */
  readonly minFailures?: number;
  /** Count signals only score when at least this multiple of their baseline mean. */
  readonly minSurgeFactor?: number;
  /** Ratio signals only score when at least this far above their baseline mean. */
  readonly minRatioIncrease?: number;
  /** Events per bucket (sign-ins for the failure ratio, failures for the unknown-user ratio) for a ratio to count. */
  readonly minRatioEvents?: number;
  /** Bits of the distinct-failing-IP sketch (power of two; linear counting, good to ~bits*2). */
  readonly sketchBits?: number;
  /**
   * Cold start (before a baseline exists): a bucket is anomalous when it has minFailures failures, at least
   * this share of its sign-ins failing ...
   */
  readonly coldStartRatio?: number;
  /** ... from at least this many distinct IPs. */
  readonly coldStartDistinctIps?: number;
}

export const DEFAULT_ORG_ATTACK = Object.freeze({
  bucketMs: 10_000,
  halfLifeMs: 10 * 60_000,
  warmupMs: 10 * 60_000,
  coldStartMs: 60_000,
  scoreThreshold: 6,
  clearScore: 3,
  consecutiveBuckets: 3,
  cooldownMs: 5 * 60_000,
  minFailures: 20,
  minSurgeFactor: 3,
  minRatioIncrease: 0.2,
  minRatioEvents: 10,
  sketchBits: 4096,
  coldStartRatio: 0.5,
  coldStartDistinctIps: 10,
});

export interface AttackSignals {
  readonly failures: number;
  readonly successes: number;
  readonly failureRatio: number;
  readonly distinctFailingIps: number;
  /** Share of failures for usernames that do not exist. */
  readonly unknownUserRatio: number;
}

export interface AttackTransition {
  readonly type: 'start' | 'end';
  /** End of the bucket that caused it. */
  readonly atMs: number;
  readonly score: number;
  readonly signals: AttackSignals;
}

export interface BaselineStat {
  readonly mean: number;
  readonly std: number;
}

export interface OrgAttackState {
  readonly underAttack: boolean;
  /** Start of the current attack (ms), 0 when none. */
  readonly since: number;
  /** Score of the last closed bucket. */
  readonly score: number;
  readonly lastBucket: (AttackSignals & { readonly startMs: number }) | undefined;
  readonly baseline: Readonly<Record<SignalName, BaselineStat>>;
  readonly warmingUp: boolean;
  readonly anomalousStreak: number;
  readonly quietStreak: number;
}

export interface OrgOutcomeFacts {
  /** ipKey() of the client, for distinct failing IPs. */
  readonly clientKey?: number;
  readonly unknownUser?: boolean;
}

/**
 * The detector's learnt state as plain JSON, so replicas can share one detector through a store (src/store):
 * every replica restores it, closes the same buckets from the same shared counts and gets the same result.
 */
export interface OrgAttackSnapshot {
  readonly v: 1;
  readonly bucketMs: number;
  /** Index (time / bucketMs) of the bucket still open. */
  readonly openIdx: number;
  readonly closed: number;
  readonly attack: boolean;
  readonly sinceMs: number;
  readonly streak: number;
  readonly quiet: number;
  readonly lastScore: number;
  readonly last: (AttackSignals & { readonly startMs: number }) | null;
  readonly mean: readonly number[];
  readonly variance: readonly number[];
  readonly learned: readonly number[];
  /** Failures of the last consecutiveBuckets closed buckets, by closed-bucket index modulo their number. */
  readonly recent?: readonly number[];
}

/** Options that shape the buckets (OrgAttackDetector.reconfigure keeps them on a running detector). */
export const ORG_SHAPE_FIELDS = ['bucketMs', 'sketchBits'] as const;

/** DEFAULT_ORG_ATTACK with the given options, checked. */
function completeOptions(given: Partial<Record<keyof typeof DEFAULT_ORG_ATTACK, number | undefined>>): typeof DEFAULT_ORG_ATTACK {
  const o = { ...DEFAULT_ORG_ATTACK };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) (o as Record<string, number>)[k] = v;
  if (!(o.bucketMs >= 1000) || o.sketchBits < 32 || (o.sketchBits & (o.sketchBits - 1)) !== 0) {
    throw new RangeError('OrgAttackDetector: bucketMs >= 1000 and sketchBits a power of two >= 32');
  }
  return Object.freeze(o);
}

const SIGNALS = ['failures', 'distinctFailingIps', 'failureRatio', 'unknownUserRatio'] as const;
type SignalName = (typeof SIGNALS)[number];
const NO_TRANSITIONS: readonly AttackTransition[] = Object.freeze([]);
/** Catch-up limit when the process was idle: older empty buckets are skipped, not scored. */
const MAX_CATCH_UP = 8640;

export class OrgAttackDetector {
  private o: typeof DEFAULT_ORG_ATTACK;
  private readonly clock: Clock;
  private alpha = 0;
  private warmupBuckets = 0;
  private coldStartBuckets = 0;
  private cooldownBuckets = 0;
  // Open bucket.
  private openIdx: number;
  private failures = 0;
  private successes = 0;
  private unknown = 0;
  private sketch: Uint32Array;
  // Baseline, in SIGNALS order.
  private readonly mean = new Float64Array(4);
  private readonly variance = new Float64Array(4);
  private readonly learned = new Float64Array(4);
  private closed = 0;
  // State machine.
  private attack = false;
  private sinceMs = 0;
  private streak = 0;
  private quiet = 0;
  private lastScore = 0;
  private last: (AttackSignals & { readonly startMs: number }) | undefined;
  private pending: AttackTransition[] = [];
  /** Failures of the last consecutiveBuckets buckets, for the streak's floor. */
  private recent = new Float64Array(0);

  constructor(opts: OrgAttackOptions) {
    const { clock, ...rest } = opts;
    const o = completeOptions(rest);
    this.o = o;
    this.clock = clock;
    this.derive();
    this.sketch = new Uint32Array(o.sketchBits / 32);
    this.openIdx = Math.floor(clock.nowMs() / o.bucketMs);
  }

  /**
   * New options on a running detector (a reload): thresholds, half-life, warm-up and cool-down apply at once and
   * the learnt baseline and any attack in progress are kept. bucketMs and sketchBits shape the buckets: they keep
   * their values and their names are returned, unless `reshape` (the first config after start), which starts
   * the detector afresh at the new shape. Throws RangeError (and changes nothing) on invalid options.
   */
  reconfigure(options: Partial<Record<keyof typeof DEFAULT_ORG_ATTACK, number>>, reshape = false): string[] {
    const next = completeOptions(options);
    const deferred = ORG_SHAPE_FIELDS.filter((k) => next[k] !== this.o[k]);
    if (reshape && deferred.length > 0) {
      this.o = next;
      this.derive();
      this.sketch = new Uint32Array(next.sketchBits / 32);
      this.openIdx = Math.floor(this.clock.nowMs() / next.bucketMs);
      this.failures = this.successes = this.unknown = 0;
      this.mean.fill(0);
      this.variance.fill(0);
      this.learned.fill(0);
      this.closed = 0;
      this.recent = new Float64Array(0);
      this.attack = false;
      this.sinceMs = 0;
      this.streak = this.quiet = 0;
      this.lastScore = 0;
      this.last = undefined;
      this.pending = [];
      return [];
    }
    this.o = Object.freeze({ ...next, bucketMs: this.o.bucketMs, sketchBits: this.o.sketchBits });
    this.derive();
    return deferred;
  }

  private derive(): void {
    const o = this.o;
    this.alpha = 1 - 2 ** (-o.bucketMs / o.halfLifeMs);
    this.warmupBuckets = Math.ceil(o.warmupMs / o.bucketMs);
    this.coldStartBuckets = Math.min(this.warmupBuckets, Math.ceil(o.coldStartMs / o.bucketMs));
    this.cooldownBuckets = Math.ceil(o.cooldownMs / o.bucketMs);
  }

  get options(): typeof DEFAULT_ORG_ATTACK {
    return this.o;
  }

  get underAttack(): boolean {
    return this.attack;
  }

  /** Counts one sign-in outcome into the open bucket (closing earlier buckets first if time moved on). */
  record(outcome: Outcome, facts: OrgOutcomeFacts = {}, nowMs = this.clock.nowMs()): void {
    this.closeUntil(Math.floor(nowMs / this.o.bucketMs));
    if (outcome === 'success') this.successes++;
    else if (outcome === 'failure') {
      this.failures++;
      if (facts.unknownUser) this.unknown++;
      if (facts.clientKey !== undefined) {
        const b = keyHash(facts.clientKey) & (this.o.sketchBits - 1);
        this.sketch[b >>> 5] = (this.sketch[b >>> 5]! | (1 << (b & 31))) >>> 0;
      }
    }
  }

  /** Closes every bucket that ended by `nowMs`; returns the transitions since the last tick. */
  tick(nowMs = this.clock.nowMs()): readonly AttackTransition[] {
    this.closeUntil(Math.floor(nowMs / this.o.bucketMs));
    if (this.pending.length === 0) return NO_TRANSITIONS;
    const out = this.pending;
    this.pending = [];
    return out;
  }

  get state(): OrgAttackState {
    const baseline = {} as Record<SignalName, BaselineStat>;
    SIGNALS.forEach((s, i) => (baseline[s] = { mean: this.mean[i]!, std: Math.sqrt(this.variance[i]!) }));
    return {
      underAttack: this.attack,
      since: this.sinceMs,
      score: this.lastScore,
      lastBucket: this.last,
      baseline,
      warmingUp: this.closed < this.warmupBuckets,
      anomalousStreak: this.streak,
      quietStreak: this.quiet,
    };
  }

  /** Learnt state (not the open bucket's counts), for a shared store. */
  exportState(): OrgAttackSnapshot {
    return {
      v: 1,
      bucketMs: this.o.bucketMs,
      openIdx: this.openIdx,
      closed: this.closed,
      attack: this.attack,
      sinceMs: this.sinceMs,
      streak: this.streak,
      quiet: this.quiet,
      lastScore: this.lastScore,
      last: this.last ?? null,
      mean: [...this.mean],
      variance: [...this.variance],
      learned: [...this.learned],
      recent: [...this.recent],
    };
  }

  /** Adopts a shared state; the open bucket starts empty. Pending transitions are dropped. */
  importState(s: OrgAttackSnapshot): void {
    if (s.v !== 1 || s.bucketMs !== this.o.bucketMs) throw new RangeError('OrgAttackDetector: incompatible shared state');
    this.openIdx = s.openIdx;
    this.closed = s.closed;
    this.attack = s.attack;
    this.sinceMs = s.sinceMs;
    this.streak = s.streak;
    this.quiet = s.quiet;
    this.lastScore = s.lastScore;
    this.last = s.last ?? undefined;
    this.mean.set(s.mean);
    this.variance.set(s.variance);
    this.learned.set(s.learned);
    this.recent = new Float64Array(s.recent ?? []);
    this.pending = [];
    this.setOpenBucket(0, 0, 0);
  }

  /** Replaces the open bucket's counts with totals summed elsewhere (a shared store's bucket). */
  setOpenBucket(failures: number, successes: number, unknown: number, sketch?: Uint8Array): void {
    this.failures = failures;
    this.successes = successes;
    this.unknown = unknown;
    const bytes = new Uint8Array(this.sketch.buffer);
    bytes.fill(0);
    // Only the number of set bits matters, so the bit order of the source does not.
    if (sketch) bytes.set(sketch.subarray(0, bytes.length));
  }

  /** Index of the bucket still open. */
  get openBucket(): number {
    return this.openIdx;
  }

  private closeUntil(idx: number): void {
    if (idx - this.openIdx > MAX_CATCH_UP) {
      this.closeBucket();
      this.openIdx = idx - MAX_CATCH_UP;
    }
    while (this.openIdx < idx) {
      this.closeBucket();
      this.openIdx++;
    }
  }

  private distinctIps(): number {
    let z = 0;
    for (let i = 0; i < this.sketch.length; i++) {
      let v = this.sketch[i]!;
      for (; v !== 0; v &= v - 1) z++;
    }
    const m = this.o.sketchBits;
    return z >= m ? m * Math.log(m) : -m * Math.log(1 - z / m);
  }

  private closeBucket(): void {
    const o = this.o;
    const total = this.failures + this.successes;
    const signals: AttackSignals = {
      failures: this.failures,
      successes: this.successes,
      failureRatio: total > 0 ? this.failures / total : 0,
      distinctFailingIps: Math.round(this.distinctIps()),
      unknownUserRatio: this.failures > 0 ? this.unknown / this.failures : 0,
    };
    const values = [signals.failures, signals.distinctFailingIps, signals.failureRatio, signals.unknownUserRatio];
    const valid = [true, true, total >= o.minRatioEvents, this.failures >= o.minRatioEvents];
    // Scored once a minute of history exists; the full warm-up only ends `warmingUp` (see coldStartMs).
    const warm = this.closed >= this.coldStartBuckets;
    let score = 0;
    if (warm) {
      for (let i = 0; i < 4; i++) if (valid[i]) score = Math.max(score, this.z(i, values[i]!));
    }
    const startMs = this.openIdx * o.bucketMs;
    const endMs = startMs + o.bucketMs;
    const floor = signals.failures >= o.minFailures;
    // No baseline yet: absolute rules only (a mostly failing bucket from many IPs is anomalous for any org).
    const cold = !warm && floor && valid[2] && signals.failureRatio >= o.coldStartRatio && signals.distinctFailingIps >= o.coldStartDistinctIps;
    if (!this.attack) {
      // The floor holds for the streak on average (its last consecutiveBuckets buckets), not for each bucket:
      // a surge just above the floor is Poisson-noisy, and one bucket dipping under it used to restart the streak.
      const recent = this.recentFailures(signals.failures);
      const anomalous = (warm && score > o.scoreThreshold && 2 * signals.failures >= o.minFailures) || cold;
      this.streak = anomalous ? this.streak + 1 : 0;
      if (this.streak >= o.consecutiveBuckets && recent >= o.minFailures * o.consecutiveBuckets) {
        this.attack = true;
        this.sinceMs = endMs;
        this.quiet = 0;
        this.pending.push({ type: 'start', atMs: endMs, score, signals });
      } else if (!(warm && score > o.scoreThreshold) && !cold) {
        this.learn(values, valid);
      }
    } else {
      const anomalous = floor && (score > o.clearScore || cold);
      this.quiet = anomalous ? 0 : this.quiet + 1;
      if (this.quiet >= this.cooldownBuckets) {
        this.attack = false;
        this.sinceMs = 0;
        this.streak = 0;
        this.pending.push({ type: 'end', atMs: endMs, score, signals });
      }
    }
    this.closed++;
    this.lastScore = score;
    this.last = { ...signals, startMs };
    this.failures = 0;
    this.successes = 0;
    this.unknown = 0;
    this.sketch.fill(0);
  }

  /** Failures of the last consecutiveBuckets closed buckets (this one included). */
  private recentFailures(failures: number): number {
    const n = this.o.consecutiveBuckets;
    const ring = this.recent.length === n ? this.recent : (this.recent = new Float64Array(n));
    ring[this.closed % n] = failures;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += ring[i]!;
    return sum;
  }

  /** One-sided z-score of signal i, gated so that small relative changes never score. */
  private z(i: number, x: number): number {
    const mu = this.mean[i]!;
    const v = this.variance[i]!;
    if (i < 2) {
      if (x < this.o.minSurgeFactor * mu) return 0;
      // Counts are at least Poisson-noisy: variance floor of the mean.
      return Math.max(0, (x - mu) / Math.sqrt(Math.max(v, mu, 1)));
    }
    if (x - mu < this.o.minRatioIncrease) return 0;
    return (x - mu) / Math.max(Math.sqrt(v), 0.05);
  }

  private learn(values: number[], valid: boolean[]): void {
    for (let i = 0; i < 4; i++) {
      if (!valid[i]) continue;
      const n = this.learned[i]! + 1;
      this.learned[i] = n;
      // Cumulative mean during warm-up, EWMA after: converges fast, then tracks slowly.
      const a = Math.max(this.alpha, 1 / n);
      const d = values[i]! - this.mean[i]!;
      const inc = a * d;
      this.mean[i] = this.mean[i]! + inc;
      this.variance[i] = n === 1 ? 0 : (1 - a) * (this.variance[i]! + d * inc);
    }
  }
}
