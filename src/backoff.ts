/** Delay before retry number `attempt` (0-based): in [d/2, d], d doubling from initialMs up to maxMs. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const d = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return d / 2 + random() * (d / 2);
}

/** Exponential backoff with jitter (backoffDelay), counting its own attempts. */
export class Backoff {
  #attempt = 0;
  constructor(private readonly initialMs: number, private readonly maxMs: number, private readonly random: () => number = Math.random) {}

  next(): number {
    const d = backoffDelay(this.#attempt, this.initialMs, this.maxMs, this.random);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return d;
  }

  reset(): void {
    this.#attempt = 0;
  }

  get attempts(): number {
    return this.#attempt;
  }
}

/** A duration spread by ±fraction, so replicas started together do not act in lockstep. */
export function jittered(ms: number, fraction: number, random: () => number = Math.random): number {
  return ms * (1 - fraction + 2 * fraction * random());
}
