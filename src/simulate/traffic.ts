import type { Rng } from './rng.ts';

/** What the app answers if a sign-in reaches it: 200, 401, or 401 with `x-portcullis-signin-result: unknown_user`. */
export type SignInResult = 'success' | 'failure' | 'unknown_user';

/** One simulated sign-in. Traffic is open-loop: a schedule fixed in advance that does not react to denials. */
export interface SimEvent {
  /** Milliseconds from the scenario start. */
  readonly atMs: number;
  /** The client address, as the load balancer puts it in X-Forwarded-For. */
  readonly ip: string;
  readonly username: string;
  readonly result: SignInResult;
  readonly actor: 'legit' | 'attack';
  /** What per-IP figures are counted by: the IP, or its /64 for IPv6 rotation. */
  readonly source: string;
  /** Attack sub-population (e.g. "1 attempt / 30 s"), for the per-group breakdown. */
  readonly group?: string;
  /**
   * The password sent (sprays name theirs). Absent: a user's own password on success, the same mistyped one on
   * failure; for an attacker, a fresh guess per attempt.
   */
  readonly password?: string;
}

/** The few passwords real sprays use (the attacker bets that some accounts have them). */
export const SPRAYED_PASSWORDS: readonly string[] = Object.freeze(['Winter2026!', 'Password1', 'Welcome123']);

export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;

/**
 * Distinct client addresses. Legitimate and attacking populations draw from different first octets, so an
 * attacker never shares an address with a user by accident (NATs are modelled on purpose, not by collision).
 * No range overlaps the simulated load balancer (10.0.0.0/16).
 */
export class AddressPool {
  readonly #used = new Set<string>();
  constructor(private readonly rng: Rng) {}

  v4(kind: 'legit' | 'attack'): string {
    const firsts = kind === 'legit' ? [24, 31, 46, 62, 73, 81, 86, 90, 98, 99] : [5, 37, 45, 91, 103, 141, 178, 185, 193, 212];
    for (;;) {
      const ip = `${this.rng.pick(firsts)}.${this.rng.int(0, 255)}.${this.rng.int(0, 255)}.${this.rng.int(1, 254)}`;
      if (!this.#used.has(ip)) return this.#take(ip);
    }
  }

  /** A fresh /64, as "2a0x:hhhh:hhhh:hhhh" (the first four groups). */
  v6Prefix(kind: 'legit' | 'attack'): string {
    for (;;) {
      const p = `${kind === 'legit' ? '2a02' : '2a0b'}:${this.#hex16()}:${this.#hex16()}:${this.#hex16()}`;
      if (!this.#used.has(p)) return this.#take(p);
    }
  }

  /** A random address inside a /64 from v6Prefix(). */
  v6In(prefix: string): string {
    return `${prefix}:${this.#hex16()}:${this.#hex16()}:${this.#hex16()}:${this.#hex16()}`;
  }

  #hex16(): string {
    return this.rng.int(1, 0xffff).toString(16);
  }

  #take(s: string): string {
    this.#used.add(s);
    return s;
  }
}

/** How people sign in. Rates are per sign-in session. */
export interface Behaviour {
  /** Starts with a mistyped username: the app answers "unknown user". */
  readonly usernameTypo: number;
  /** First password attempt mistyped ... */
  readonly passwordTypo: number;
  /** ... and each retry after a typo mistyped again. */
  readonly retryTypo: number;
  /** Forgot the password: 2 to 5 failures, then a reset instead of a success (hammering is its own scenario). */
  readonly forgot: number;
}

/** Desktop users; about 4 % of sign-ins fail. */
export const DESKTOP: Behaviour = Object.freeze({ usernameTypo: 0.004, passwordTypo: 0.025, retryTypo: 0.2, forgot: 0.0015 });
/** Phone keyboards: more typos; about 5 % of sign-ins fail. */
export const MOBILE: Behaviour = Object.freeze({ usernameTypo: 0.006, passwordTypo: 0.04, retryTypo: 0.25, forgot: 0.0015 });

/** One user's sign-in session starting at `atMs`: typos and retries a few seconds apart, then (usually) a success. */
export function session(rng: Rng, atMs: number, ip: string, username: string, b: Behaviour, out: SimEvent[]): void {
  let t = atMs;
  const push = (result: SignInResult, name = username): void => {
    out.push({ atMs: Math.round(t), ip, username: name, result, actor: 'legit', source: ip });
  };
  if (rng.chance(b.usernameTypo)) {
    push('unknown_user', `${username.slice(0, -1)}x`);
    t += rng.uniform(4 * SEC, 20 * SEC);
  }
  if (rng.chance(b.forgot)) {
    const n = 2 + rng.geometric(0.35, 3);
    for (let i = 0; i < n; i++, t += rng.uniform(5 * SEC, 30 * SEC)) push('failure');
    return;
  }
  let typo = rng.chance(b.passwordTypo);
  for (let k = 0; typo && k < 4; k++) {
    push('failure');
    t += rng.uniform(3 * SEC, 15 * SEC);
    typo = rng.chance(b.retryTypo);
  }
  push('success');
}

export interface PopulationOptions {
  readonly users: number;
  /** Usernames are `${prefix}${i}@example.com`; attackers aim at the same names. */
  readonly prefix: string;
  readonly fromMs: number;
  readonly toMs: number;
  /** Mean sessions per user in [fromMs, toMs); the fraction is a chance of one more. */
  readonly sessionsPerUser: number;
  readonly behaviour: Behaviour;
  /** Client address of user i's session. */
  readonly ipOf: (user: number) => string;
  /** Session start time; default uniform over the period. */
  readonly when?: (rng: Rng) => number;
}

/** Sign-in sessions of a population of ordinary users. */
export function population(rng: Rng, o: PopulationOptions, out: SimEvent[]): void {
  for (let i = 0; i < o.users; i++) {
    const n = Math.floor(o.sessionsPerUser) + (rng.chance(o.sessionsPerUser % 1) ? 1 : 0);
    for (let s = 0; s < n; s++) {
      const at = o.when ? o.when(rng) : rng.uniform(o.fromMs, o.toMs);
      session(rng, Math.min(Math.max(at, o.fromMs), o.toMs), o.ipOf(i), userName(o.prefix, i), o.behaviour, out);
    }
  }
}

export function userName(prefix: string, i: number): string {
  return `${prefix}${i}@example.com`;
}

/** Events in time order; ties keep generation order (stable sort). */
export function sortEvents(events: SimEvent[]): SimEvent[] {
  return events.sort((a, b) => a.atMs - b.atMs);
}

/** The schedule as replay records (CSV: time,ip,username,success,label), to tune thresholds on it with `portcullis replay`. */
export function toRecordsCsv(events: readonly SimEvent[], startMs: number): string {
  const success = { success: 'true', failure: 'false', unknown_user: 'unknown_user' } as const;
  // The label column (who sent it) gives replay's precision and recall, and keeps attackers' successes out of
  // its false positives.
  const lines = events.map((e) => `${new Date(startMs + e.atMs).toISOString()},${e.ip},${e.username},${success[e.result]},${e.actor}`);
  return `time,ip,username,success,label\n${lines.join('\n')}\n`;
}
