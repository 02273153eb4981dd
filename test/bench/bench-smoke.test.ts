// Proves the load harness counts correctly: the real child-process plumbing, the open-loop generator against the
// bare server, and the h2load summary parser. No timing thresholds: this machine is shared and noisy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forkTs, type ChildHandle } from '../../bench/lib/child.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseH2loadSummary, runH2load } from '../../bench/lib/h2load.ts';
import { openLoopInChild } from '../../bench/lib/open-loop.ts';
import { CHECK_PATH, grpcFrame, requestPool } from '../../bench/lib/requests.ts';
import { requireTool } from '../helpers/tools.ts';

describe('bench harness', () => {
  let server: ChildHandle;
  let target: string;

  beforeAll(async () => {
    const { child, ready } = await forkTs<{ port: number }>('bench/bare-server.ts');
    server = child;
    target = `127.0.0.1:${ready.port}`;
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('open-loop generator sends every scheduled check and counts every answer', async () => {
    const pool = requestPool(['192.0.2.0/24'], 16);
    const messages = pool.messages.map((m) => m.toString('base64'));
    const r = await openLoopInChild({ target, rate: 500, count: 300, warmup: 50, messages, connections: 2, perMessage: true });

    expect(r.requested).toBe(300);
    expect(r.completed).toBe(300); // warm-up answers are not counted
    expect(r.errors).toBe(0);
    expect(r.allowed).toBe(300); // the bare server says OK to everything
    expect(r.denied).toBe(0);
    expect(r.deniedPerMessage).toEqual(new Array(16).fill(0));
    expect(r.durationS).toBeGreaterThan(0);
    expect(r.achievedRate).toBeGreaterThan(0);
    for (const p of [r.latencyUs, r.serviceUs]) {
      expect(p.p50).toBeGreaterThan(0);
      expect(p.p50).toBeLessThanOrEqual(p.p99);
      expect(p.p99).toBeLessThanOrEqual(p.p999);
      expect(p.p999).toBeLessThanOrEqual(p.max);
    }
    // Latency counts from the scheduled send, so it can never be shorter than the service time.
    expect(r.latencyUs.p50).toBeGreaterThanOrEqual(r.serviceUs.p50);
  });

  it('reads h2load summaries (nghttp2 1.52)', () => {
    const out = `finished in 7.00s, 17388.80 req/s, 768.83KB/s
requests: 86944 total, 86944 started, 86944 done, 86940 succeeded, 4 failed, 0 errored, 0 timeout
status codes: 86944 2xx, 0 3xx, 0 4xx, 0 5xx
traffic: 3.75MB (3936245) total, 425.38KB (435587) headers (space savings 96.39%), 958.07KB (981058) data
                     min         max         mean         sd        +/- sd
time for request:     1.65ms     83.64ms      7.30ms      850us    93.54%
`;
    expect(parseH2loadSummary(out)).toEqual({
      achievedRate: 17389, requests: 86944, succeeded: 86940, failed: 4, errored: 0, timeout: 0, meanUs: 7300, sdUs: 850,
    });
  });

  it('the bare node:http2 answerer is a real Check server, and h2load drives it and counts every answer', async () => {
    requireTool('h2load');
    const { child, ready } = await forkTs<{ port: number }>('bench/bare-h2-server.ts');
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-smoke-'));
    try {
      const pool = requestPool(['192.0.2.0/24'], 4);
      const r = await openLoopInChild({ target: `127.0.0.1:${ready.port}`, rate: 200, count: 40, messages: pool.messages.map((m) => m.toString('base64')), connections: 1 });
      expect(r.errors).toBe(0);
      expect(r.allowed).toBe(40); // grpc-js decoded a CheckResponse with status OK from each answer

      const body = join(dir, 'check.grpc');
      writeFileSync(body, grpcFrame(pool.messages[1]!));
      const h = await runH2load({ url: `http://127.0.0.1:${ready.port}${CHECK_PATH}`, bodyFile: body, clients: 2, streams: 4, durationS: 1, warmupS: 0, rate: 200 });
      expect(h.failed + h.errored + h.timeout).toBe(0);
      expect(h.succeeded).toBe(h.requests);
      expect(h.requests).toBeGreaterThan(100);
      expect(h.latencyUs.p50).toBeGreaterThan(0);
      expect(h.latencyUs.p50).toBeLessThanOrEqual(h.latencyUs.p99);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await child.stop();
    }
  });
});
