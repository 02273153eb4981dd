/**
 * Lines per second with a burst of one second's worth. Refilled lazily from the caller's clock on each take,
 * so there is no timer; a flood costs one subtraction per dropped line.
 */
export class TokenBucket {
  #tokens: number;
  #lastMs: number;

  constructor(private readonly perSecond: number, nowMs: number) {
    this.#tokens = perSecond;
    this.#lastMs = nowMs;
  }

  take(nowMs: number): boolean {
    if (nowMs > this.#lastMs) {
      this.#tokens = Math.min(this.perSecond, this.#tokens + ((nowMs - this.#lastMs) * this.perSecond) / 1000);
      this.#lastMs = nowMs;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
