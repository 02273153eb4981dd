/**
 * Per hashed account: the networks it recently signed in from ("familiar sources") and the distinct unfamiliar
 * sources now failing on it ("account under attack"). Microsoft Entra Smart Lockout keeps familiar and
 * unfamiliar locations apart for the same reason: strangers attacking an account must never lock its owner
 * out, and the owner failing from home is not an attack.
 *
 * A source is a network key (IPv4 /24, IPv6 /48, detect/ip-key.ts networkKey), so an office NAT or a home
 * router's changing address stays familiar. Pure: times are passed in, no timers, no I/O.
 *
 * Bounded: at most `maxAccounts` accounts (least recently touched evicted first: lru.ts), `familiarPerAccount` networks each, and `attackSources` unfamiliar
 * sources each. Measured (V8 heap, Node 20): ~320 bytes for an account with one familiar network, ~510 with
 * two and one stranger; plain arrays keep this short to read, a typed-array table would be ~3x smaller.
 */
import { BoundedLru } from './lru.ts';

export interface AccountOptions {
  readonly maxAccounts: number;
  /** Networks remembered per account (most recent success wins a slot). */
  readonly familiarPerAccount: number;
  /** How long a success keeps its network familiar. */
  readonly familiarMs: number;
  /** Distinct unfamiliar sources failing within attackWindowMs that declare the account under attack. */
  readonly attackSources: number;
  /** attackSources while Org Under Attack is declared (the aggressive profile). */
  readonly aggressiveAttackSources: number;
  readonly attackWindowMs: number;
  /** How long an account stays under attack after the last time the rule was met. */
  readonly attackHoldMs: number;
  /**
   * Distinct wrong-password fingerprints failing on the account within attackWindowMs that make it guessed (brute
   * force on the account, from however many sources); held attackHoldMs. Needs password signals.
   */
  readonly distinctPasswords: number;
  /** A familiar source failing again with the same wrong password within this is a stale client, counted once. */
  readonly staleClientMs: number;
}

export const DEFAULT_ACCOUNT_OPTIONS: AccountOptions = Object.freeze({
  maxAccounts: 50_000,
  familiarPerAccount: 4,
  familiarMs: 30 * 24 * 3600_000,
  attackSources: 5,
  aggressiveAttackSources: 5,
  attackWindowMs: 10 * 60_000,
  attackHoldMs: 30 * 60_000,
  distinctPasswords: 10,
  staleClientMs: 24 * 3600_000,
});

interface Account {
  /** [network, lastSuccessSec] pairs, flattened. */
  readonly familiar: number[];
  /** Distinct unfamiliar networks failing in the current window. */
  readonly strangers: number[];
  strangersSinceSec: number;
  attackUntilSec: number;
  /** Distinct wrong-password fingerprints in the current window (at most distinctPasswords). */
  readonly prints: number[];
  printsSinceSec: number;
  guessedUntilSec: number;
  /** The last wrong password from a familiar source, and when it was last seen (0: none). */
  staleFp: number;
  staleSec: number;
}

/** Options that bound the table (AccountSources.reconfigure keeps them while it holds accounts). */
export const ACCOUNT_SHAPE_FIELDS = ['maxAccounts', 'familiarPerAccount'] as const;

export class AccountSources {
  #options: AccountOptions;
  #accounts: BoundedLru<number, Account>;

  constructor(options: Partial<AccountOptions> = {}) {
    this.#options = { ...DEFAULT_ACCOUNT_OPTIONS, ...options };
    this.#accounts = new BoundedLru(this.#options.maxAccounts);
  }

  get options(): AccountOptions {
    return this.#options;
  }

  /**
   * New options (a reload); accounts are kept. The bounds (ACCOUNT_SHAPE_FIELDS) apply only while the table is
   * empty (at start): otherwise they keep their values and their names are returned.
   */
  reconfigure(options: AccountOptions): string[] {
    const deferred = ACCOUNT_SHAPE_FIELDS.filter((k) => options[k] !== this.#options[k]);
    const keep = this.#accounts.size > 0 && deferred.length > 0;
    this.#options = Object.freeze(keep ? { ...options, maxAccounts: this.#options.maxAccounts, familiarPerAccount: this.#options.familiarPerAccount } : { ...options });
    if (!keep && this.#accounts.max !== this.#options.maxAccounts) this.#accounts = new BoundedLru(this.#options.maxAccounts);
    return keep ? deferred : [];
  }

  get size(): number {
    return this.#accounts.size;
  }

  get evictions(): number {
    return this.#accounts.evictions;
  }

  /** The account signed in from this network: it becomes (or stays) familiar. */
  recordSuccess(account: number, network: number, nowMs: number): void {
    const a = this.#touch(account);
    const now = Math.floor(nowMs / 1000);
    const f = a.familiar;
    let slot = -1;
    let oldest = 0;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === network) { slot = i; break; }
      if (slot < 0 || f[i + 1]! < oldest) { slot = i; oldest = f[i + 1]!; }
    }
    if (f[slot] !== network && f.length < 2 * this.options.familiarPerAccount) slot = f.length;
    f[slot] = network;
    f[slot + 1] = now;
  }

  /**
   * A failed sign-in on the account from this network. Familiar sources count nowhere here (the owner
   * mistyping); unfamiliar ones are remembered, distinct, until the window passes.
   */
  recordFailure(account: number, network: number, nowMs: number, aggressive = false): void {
    if (this.familiar(account, network, nowMs)) return;
    const a = this.#touch(account);
    const now = Math.floor(nowMs / 1000);
    const o = this.options;
    if ((now - a.strangersSinceSec) * 1000 >= o.attackWindowMs) {
      a.strangers.length = 0;
      a.strangersSinceSec = now;
    }
    if (a.strangers.includes(network)) return;
    const needed = aggressive ? Math.min(o.aggressiveAttackSources, o.attackSources) : o.attackSources;
    if (a.strangers.length < o.attackSources) a.strangers.push(network);
    if (a.strangers.length >= needed) a.attackUntilSec = now + Math.ceil(o.attackHoldMs / 1000);
  }

  /**
   * A failed sign-in's password fingerprint (never 0) on the account. Returns true when it is a stale client: the
   * same wrong password, from a source familiar to the account, as that source's last one within staleClientMs
   * (a phone still holding an old password), which the caller counts as no failure. Otherwise the fingerprint
   * counts towards distinctPasswords.
   */
  recordWrongPassword(account: number, fingerprint: number, familiar: boolean, nowMs: number): boolean {
    const a = this.#touch(account);
    const now = Math.floor(nowMs / 1000);
    const o = this.options;
    if (familiar) {
      if (a.staleFp === fingerprint && (now - a.staleSec) * 1000 < o.staleClientMs) {
        a.staleSec = now;
        return true;
      }
      a.staleFp = fingerprint;
      a.staleSec = now;
    }
    if ((now - a.printsSinceSec) * 1000 >= o.attackWindowMs) {
      a.prints.length = 0;
      a.printsSinceSec = now;
    }
    if (!a.prints.includes(fingerprint) && a.prints.length < o.distinctPasswords) a.prints.push(fingerprint);
    if (a.prints.length >= o.distinctPasswords) a.guessedUntilSec = now + Math.ceil(o.attackHoldMs / 1000);
    return false;
  }

  /** Many distinct wrong passwords failed on the account recently. Read-only, allocation-free. */
  guessed(account: number, nowMs: number): boolean {
    const a = this.#accounts.get(account);
    return a !== undefined && a.guessedUntilSec * 1000 > nowMs;
  }

  /** This network succeeded on the account within familiarMs. Read-only, allocation-free. */
  familiar(account: number, network: number, nowMs: number): boolean {
    const a = this.#accounts.get(account);
    if (!a) return false;
    const f = a.familiar;
    const since = Math.floor((nowMs - this.options.familiarMs) / 1000);
    for (let i = 0; i < f.length; i += 2) if (f[i] === network && f[i + 1]! > since) return true;
    return false;
  }

  /** Failing from many distinct unfamiliar sources now. Read-only, allocation-free. */
  underAttack(account: number, nowMs: number): boolean {
    const a = this.#accounts.get(account);
    return a !== undefined && a.attackUntilSec * 1000 > nowMs;
  }

  #touch(account: number): Account {
    return this.#accounts.touch(account, newAccount);
  }
}

function newAccount(): Account {
  return { familiar: [], strangers: [], strangersSinceSec: 0, attackUntilSec: 0, prints: [], printsSinceSec: 0, guessedUntilSec: 0, staleFp: 0, staleSec: 0 };
}
