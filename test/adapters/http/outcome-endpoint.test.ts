import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { outcomeEndpoint } from '../../../src/adapters/http/outcome-endpoint.ts';
import { DEFAULT_OUTCOME_QUEUE, OutcomeQueue, type OutcomeJob } from '../../../src/service/outcome-queue.ts';
import type { OutcomeReport } from '../../../src/decide/outcome.ts';

const TOKEN = 'webhook-token-0123456789';
let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function serve(queue: OutcomeQueue, seen: OutcomeReport[]): Promise<string> {
  const handler = outcomeEndpoint(queue, { report: (o) => seen.push(o) }, TOKEN);
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}/v1/outcomes`;
}
const post = (url: string, items: unknown[]) =>
  fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(items) });
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ clientIp: `198.18.0.${i % 250}`, result: 'failure', path: '/login' }));

describe('POST /v1/outcomes goes through the outcome queue', () => {
  it('answers 202 at once and learns the items in the queue’s slices, in order', async () => {
    const shed: unknown[] = [];
    // Four items per slice: a 1000-item POST takes 250 turns of the event loop, never one long run.
    const queue = new OutcomeQueue((...a) => shed.push(a), { ...DEFAULT_OUTCOME_QUEUE, sliceUnits: 4, stepUnits: 4 });
    const seen: OutcomeReport[] = [];
    const url = await serve(queue, seen);
    const res = await post(url, items(1000));
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1000 });
    expect(seen.length).toBeLessThan(1000);
    await new Promise<void>((r) => queue.afterQueued(r));
    expect(seen.map((o) => o.clientIp)).toEqual(items(1000).map((i) => i.clientIp));
    expect(shed).toEqual([]);
  });

  it('answers 503 with Retry-After while the backlog is congested, counts the items shed and learns none of them', async () => {
    const shed: unknown[] = [];
    const queue = new OutcomeQueue((...a) => shed.push(a), { ...DEFAULT_OUTCOME_QUEUE, highWaterBytes: 100, lowWaterBytes: 10 });
    // Another transport's batch that holds the backlog past the high-water mark until it is released.
    let released = false;
    const stuck: OutcomeJob = { source: 'access_log', step: () => (released ? 0 : 1), remaining: () => (released ? 0 : 1) };
    queue.offer(stuck, 1000);
    expect(queue.congested).toBe(true);
    const seen: OutcomeReport[] = [];
    const url = await serve(queue, seen);
    const res = await post(url, items(3));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await res.json()).toEqual({ error: 'backlog_full', retryAfterSeconds: 1 });
    expect(shed).toEqual([['webhook', 'backlog_full', 3]]);
    expect(seen).toEqual([]);
    released = true;
    await new Promise<void>((r) => queue.afterQueued(r));
    expect(queue.congested).toBe(false);
    expect((await post(url, items(3))).status).toBe(202);
  });
});
