// Issue 11 item 9: one big access-log batch must not stall Checks. 200k entries in 50k-entry messages on one
// real grpc-js stream, while a real grpc-js client sends a Check every 10 ms; on each gRPC transport. The strict
// latency figure (p99 ≤ 5 ms with 1M entries) belongs to `npm run bench`. This machine is shared (load averages
// of 6 on 2 cores seen: p50 8 ms, p99 70–105 ms here then), so the bound is generous; before the fix a 50k-entry
// message held the event loop for over a second (p99 1.27 s on node:http2; 11 Checks in 5 s on grpc-js).
import { afterEach, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { alsMessages, streamAccessLogs } from '../helpers/als-messages.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { startTestInstance, ZONES_YAML, type TestInstance } from '../helpers/portcullis.ts';

const ENTRIES = 200_000;
let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.stop();
  inst = undefined;
});

async function counter(base: string, name: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

describe.each(['grpc-js', 'http2'])('a %s server learning a 200k-entry access-log stream', (transport) => {
  it('keeps answering Checks promptly, and learns every entry', { timeout: 120_000 }, async () => {
    const messages = alsMessages({ entries: ENTRIES, perMessage: 50_000, distinct: 20_000, peer: '10.0.1.5' });
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'grpc-transport': transport });
    const client = new AuthzClient(inst.grpcTarget);
    const request = envoyCheckRequest({ peer: '10.0.1.5', method: 'POST', path: '/login', headers: { 'x-forwarded-for': '198.51.100.20' } });
    for (let i = 0; i < 20; i++) await client.check(request); // connection and JIT warm-up

    const outcomes0 = await counter(inst.httpBase, 'portcullis_outcomes_total');
    const latencies: number[] = [];
    let streaming = true;
    const checks = (async () => {
      while (streaming) {
        const sent = performance.now();
        const answer = await client.check(request);
        latencies.push(performance.now() - sent);
        expect(answer.status?.code ?? 0).toBe(0);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    // The backlog, sampled while the stream runs: readers pause at 4 MiB, so it never holds the whole stream.
    let maxBacklog = 0;
    const sampler = (async () => {
      while (streaming) {
        maxBacklog = Math.max(maxBacklog, await counter(inst!.httpBase, 'portcullis_outcome_backlog_bytes'));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const { wallMs } = await streamAccessLogs(inst.grpcTarget, messages); // answered once the last entry is learned
    streaming = false;
    await Promise.all([checks, sampler]);
    client.close();

    latencies.sort((a, b) => a - b);
    const p90 = latencies[Math.floor(latencies.length * 0.9)]!;
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    // With a Check every 2 ms, a stream learned in wallMs sees up to wallMs / 2 of them if none waits long. The
    // bound is loose (one per 50 ms on average): CI runs this beside other test files on 2 cores; before the
    // slices, 11 Checks were answered in 5 s. The strict figure is the benchmark's (npm run bench -- --only als).
    expect(latencies.length, `${latencies.length} Checks in ${wallMs} ms`).toBeGreaterThanOrEqual(Math.min(50, wallMs / 50));
    // With under 100 samples p99 is the single slowest Check, and one GC pause or a neighbour's burst in a full CI
    // run (449 ms seen once on Node 24) is not what this test is about: most Checks are prompt (p90), and none
    // waits for a whole message to be learned (max; before the slices, p99 was 1.27 s).
    const shape = `p50 ${latencies[latencies.length >> 1]!.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms over ${latencies.length} Checks`;
    expect(p90, shape).toBeLessThan(100);
    expect(latencies.at(-1)!, shape).toBeLessThan(1000);

    const total = messages.reduce((n, m) => n + m.length, 0);
    expect(maxBacklog).toBeGreaterThan(0);
    expect(maxBacklog, `backlog peaked at ${maxBacklog} of ${total} bytes`).toBeLessThanOrEqual(2 * messages[0]!.length);
    expect((await counter(inst.httpBase, 'portcullis_outcomes_total')) - outcomes0).toBe(ENTRIES);
    expect(await counter(inst.httpBase, 'portcullis_access_log_entries_total')).toBe(ENTRIES);
    expect(await counter(inst.httpBase, 'portcullis_outcomes_shed_total')).toBe(0);
    expect(await counter(inst.httpBase, 'portcullis_outcome_backlog_bytes')).toBe(0);
  });
});
