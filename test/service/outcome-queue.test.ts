// The outcome queue's contract: batches are learned in slices (the event loop turns between them), readers are
// told to pause above the high-water mark and resume below the low one, and nothing is dropped uncounted.
import { describe, expect, it } from 'vitest';
import type { OutcomeSource, ShedReason } from '../../src/decide/outcome.ts';
import { OutcomeQueue, type OutcomeJob, type OutcomeQueueOptions } from '../../src/service/outcome-queue.ts';

/** A batch of `n` entries, each costing about `costUs` of CPU. */
function job(n: number, seen: number[], costUs = 0, source: OutcomeSource = 'access_log'): OutcomeJob {
  let done = 0;
  return {
    source,
    step(max) {
      const k = Math.min(max, n - done);
      for (let i = 0; i < k; i++) {
        const until = performance.now() + costUs / 1000;
        while (performance.now() < until);
        seen.push(done++);
      }
      return k;
    },
    remaining: () => n - done,
  };
}

const OPTIONS: OutcomeQueueOptions = { sliceMs: 1, sliceUnits: 10_000, stepUnits: 8, highWaterBytes: 1000, lowWaterBytes: 200, maxBytes: 5000 };

describe('OutcomeQueue', () => {
  it('learns a large batch in slices of about sliceMs, letting timers run in between', async () => {
    const seen: number[] = [];
    const queue = new OutcomeQueue(() => undefined, OPTIONS);
    queue.offer(job(4000, seen, 20), 10); // ~80 ms of work
    const gaps: number[] = [];
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      gaps.push(now - last);
      last = now;
    }, 0);
    await new Promise<void>((r) => queue.afterQueued(r));
    clearInterval(timer);
    expect(seen.length).toBe(4000);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    // The timer ran many times during the batch, never waiting for more than a few slices.
    expect(gaps.length).toBeGreaterThan(20);
    expect(gaps.sort((a, b) => a - b)[Math.floor(gaps.length * 0.9)]!).toBeLessThan(15);
  });

  it('signals congestion above the high-water mark and resumes readers at the low one', async () => {
    const queue = new OutcomeQueue(() => undefined, OPTIONS);
    const seen: number[] = [];
    queue.offer(job(100, seen), 600);
    expect(queue.congested).toBe(false);
    queue.offer(job(100, seen), 600);
    expect(queue.congested).toBe(true);
    expect(queue.backlogBytes).toBe(1200);
    let resumed = 0;
    queue.whenUncongested(() => resumed++);
    expect(resumed).toBe(0);
    await new Promise<void>((r) => queue.afterQueued(r));
    expect(resumed).toBe(1);
    expect(queue.backlogBytes).toBe(0);
    queue.whenUncongested(() => resumed++); // not congested: at once
    expect(resumed).toBe(2);
  });

  it('refuses a batch past maxBytes and counts its entries; at close, counts what is left', async () => {
    const shed: Array<[OutcomeSource, ShedReason, number]> = [];
    const queue = new OutcomeQueue((s, r, n) => shed.push([s, r, n]), OPTIONS);
    const seen: number[] = [];
    expect(queue.offer(job(10, seen), 4000)).toBe(true);
    expect(queue.offer(job(7, seen, 0, 'syslog_udp'), 2000)).toBe(false);
    expect(shed).toEqual([['syslog_udp', 'backlog_full', 7]]);
    // A batch of 50k entries at ~20 µs each cannot finish in a 5 ms grace: the rest is counted at close.
    queue.offer(job(50_000, seen, 20, 'syslog_tcp'), 100);
    await queue.close(5);
    const left = shed.find(([, r]) => r === 'shutdown')!;
    expect(left[0]).toBe('syslog_tcp');
    expect(left[2] + seen.length).toBe(50_010);
    expect(queue.offer(job(3, seen), 1)).toBe(false);
    expect(shed.at(-1)).toEqual(['access_log', 'shutdown', 3]);
    expect(queue.backlogBytes).toBe(0);
  });
});
