/** Exponential backoff with jitter: each delay is in [d/2, d], d doubling from initialMs up to maxMs. */
export class Backoff {
  #attempt = 0;
  constructor(private readonly initialMs: number, private readonly maxMs: number, private readonly random: () => number = Math.random) {}

  next(): number {
    const d = Math.min(this.maxMs, this.initialMs * 2 ** this.#attempt);
    this.#attempt = Math.min(this.#attempt + 1, 30);
    return d / 2 + this.random() * (d / 2);
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
