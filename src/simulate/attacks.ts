import type { Rng } from './rng.ts';
import { userName, type SignInResult, type SimEvent } from './traffic.ts';

/** Who an attempt aims at and what the app would answer. */
export type Target = (k: number) => { readonly username: string; readonly result: SignInResult };

/** Guessing passwords for one account: every guess fails. */
export function oneAccount(username: string): Target {
  return () => ({ username, result: 'failure' });
}

/**
 * A username list: `unknownShare` of names do not exist (the app says so), `hitShare` of guesses on real
 * accounts succeed (weak or reused passwords), the rest fail. Each call takes the next name.
 */
export function nameList(rng: Rng, o: { prefix: string; accounts: number; unknownShare: number; hitShare: number }): Target {
  return () => {
    if (rng.chance(o.unknownShare)) return { username: `former.${rng.int(1, 1e9)}@example.com`, result: 'unknown_user' };
    return { username: userName(o.prefix, rng.int(0, o.accounts - 1)), result: rng.chance(o.hitShare) ? 'success' : 'failure' };
  };
}

export interface PacedOptions {
  readonly fromMs: number;
  readonly toMs: number;
  /** Mean gap between attempts; each gap is drawn uniformly within ±jitter of it. */
  readonly intervalMs: number;
  readonly jitter?: number;
  /** Client address of attempt k (constant, or rotating inside a /64). */
  readonly ip: (k: number) => string;
  readonly source: string;
  readonly group: string;
  readonly target: Target;
}

/** One source attacking at a steady pace; it carries on whatever it is answered (tools do). */
export function paced(rng: Rng, o: PacedOptions, out: SimEvent[]): void {
  const j = o.jitter ?? 0.2;
  for (let t = o.fromMs, k = 0; t < o.toMs; t += o.intervalMs * rng.uniform(1 - j, 1 + j), k++) {
    const { username, result } = o.target(k);
    out.push({ atMs: Math.round(t), ip: o.ip(k), username, result, actor: 'attack', source: o.source, group: o.group });
  }
}

export interface DistributedOptions {
  readonly fromMs: number;
  readonly toMs: number;
  readonly ips: readonly string[];
  /** Attempts per second across the whole botnet (a Poisson process). */
  readonly ratePerSec: number;
  readonly group: string;
  readonly target: Target;
  /** Passwords sprayed, one per attempt in turn; absent: each attempt guesses a password of its own. */
  readonly passwords?: readonly string[];
}

/**
 * A botnet: attempts arrive as one Poisson process and each goes out from a random member, so every IP makes
 * only a few attempts, spread over the whole window (the shape that per-IP counting cannot see).
 */
export function distributed(rng: Rng, o: DistributedOptions, out: SimEvent[]): void {
  const gap = 1000 / o.ratePerSec;
  for (let t = o.fromMs + rng.exp(gap), k = 0; t < o.toMs; t += rng.exp(gap), k++) {
    const ip = rng.pick(o.ips);
    const { username, result } = o.target(k);
    const password = o.passwords ? o.passwords[k % o.passwords.length] : undefined;
    out.push({ atMs: Math.round(t), ip, username, result, actor: 'attack', source: ip, group: o.group, ...(password !== undefined ? { password } : {}) });
  }
}
