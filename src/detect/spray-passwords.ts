import type { IpKey } from './ip-key.ts';
import { BoundedLru } from './lru.ts';

/**
 * Spray passwords: one password failing on many distinct accounts, org-wide, is what a password spray looks
 * like from the inside (each source tries it on one or two accounts; no per-IP count sees anything). Inputs
 * are 20-bit keyed fingerprints (decide/password.ts), never passwords. Once a fingerprint is a spray password,
 * every failing attempt carrying it marks its source as spraying.
 *
 * Pure (times passed in) and bounded: `maxFingerprints` fingerprints being counted and `maxSources` marked
 * sources, least recently touched evicted first (lru.ts). Measured (V8
 * heap, Node 20): ~270 bytes per fingerprint being counted, ~40 per marked source.
 */
export interface SprayOptions {
  /** Distinct accounts failing with one fingerprint within windowMs that make it a spray password. */
  readonly accounts: number;
  /** accounts while Org Under Attack is declared (the aggressive profile). */
  readonly aggressiveAccounts: number;
  readonly windowMs: number;
  /** How long a fingerprint stays a spray password, and a source stays marked, after the last sighting. */
  readonly holdMs: number;
  readonly maxFingerprints: number;
  readonly maxSources: number;
}

export const DEFAULT_SPRAY_OPTIONS: SprayOptions = Object.freeze({
  accounts: 5,
  aggressiveAccounts: 2,
  windowMs: 10 * 60_000,
  holdMs: 60 * 60_000,
  maxFingerprints: 16_384,
  maxSources: 100_000,
});

interface Fingerprint {
  readonly accounts: number[];
  sinceSec: number;
  sprayUntilSec: number;
}

/** Options that bound the tables (SprayPasswords.reconfigure keeps them while they hold entries). */
export const SPRAY_SHAPE_FIELDS = ['maxFingerprints', 'maxSources'] as const;

export class SprayPasswords {
  #options: SprayOptions;
  #prints: BoundedLru<number, Fingerprint>;
  #sources: BoundedLru<IpKey, number>;

  constructor(options: Partial<SprayOptions> = {}) {
    this.#options = { ...DEFAULT_SPRAY_OPTIONS, ...options };
    this.#prints = new BoundedLru(this.#options.maxFingerprints);
    this.#sources = new BoundedLru(this.#options.maxSources);
  }

  get options(): SprayOptions {
    return this.#options;
  }

  /**
   * New options (a reload); fingerprints and marked sources are kept. The bounds (SPRAY_SHAPE_FIELDS) apply
   * only while both tables are empty (at start): otherwise they keep their values and their names are returned.
   */
  reconfigure(options: SprayOptions): string[] {
    const deferred = SPRAY_SHAPE_FIELDS.filter((k) => options[k] !== this.#options[k]);
    const keep = this.#prints.size + this.#sources.size > 0 && deferred.length > 0;
    this.#options = Object.freeze(keep ? { ...options, maxFingerprints: this.#options.maxFingerprints, maxSources: this.#options.maxSources } : { ...options });
    if (!keep) {
      if (this.#prints.max !== this.#options.maxFingerprints) this.#prints = new BoundedLru(this.#options.maxFingerprints);
      if (this.#sources.max !== this.#options.maxSources) this.#sources = new BoundedLru(this.#options.maxSources);
    }
    return keep ? deferred : [];
  }

  get fingerprints(): number {
    return this.#prints.size;
  }

  get markedSources(): number {
    return this.#sources.size;
  }

  /**
   * A failed sign-in carrying this fingerprint, on this account, from this source (an unfamiliar one: the
   * caller does not report an owner's own typo). Returns whether the fingerprint is a spray password now.
   */
  recordFailure(fingerprint: number, account: number, source: IpKey, nowMs: number, aggressive = false): boolean {
    const now = Math.floor(nowMs / 1000);
    const o = this.options;
    const p = this.#prints.touch(fingerprint, newFingerprint);
    if (p.sinceSec === 0) p.sinceSec = now;
    if ((now - p.sinceSec) * 1000 >= o.windowMs) {
      p.accounts.length = 0;
      p.sinceSec = now;
    }
    if (!p.accounts.includes(account) && p.accounts.length < o.accounts) p.accounts.push(account);
    const hold = Math.ceil(o.holdMs / 1000);
    const needed = aggressive ? Math.min(o.aggressiveAccounts, o.accounts) : o.accounts;
    if (p.accounts.length >= needed || p.sprayUntilSec > now) p.sprayUntilSec = now + hold;
    if (p.sprayUntilSec <= now) return false;
    this.#sources.set(source, now + hold);
    return true;
  }

  /** Read-only, allocation-free (the Check path). */
  isSpray(fingerprint: number, nowMs: number): boolean {
    const p = this.#prints.get(fingerprint);
    return p !== undefined && p.sprayUntilSec * 1000 > nowMs;
  }

  /** The source failed with a spray password within holdMs. Read-only, allocation-free. */
  sourceSpraying(source: IpKey, nowMs: number): boolean {
    const until = this.#sources.get(source);
    return until !== undefined && until * 1000 > nowMs;
  }
}

function newFingerprint(): Fingerprint {
  return { accounts: [], sinceSec: 0, sprayUntilSec: 0 };
}
