import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchFeed } from '../../src/feeds/fetcher.ts';
import { FeedServer } from '../helpers/feed-server.ts';

let server: FeedServer;
beforeAll(async () => {
  server = await FeedServer.start();
});
afterAll(() => server.close());

const opts = { timeoutMs: 2000, maxBytes: 1024 };

describe('fetchFeed against a local HTTP server', () => {
  it('returns the body with its validators, and 304 when they still match', async () => {
    server.routes.set('/drop.txt', { body: '192.0.2.0/24 ; SBL1\n', etag: '"v1"', lastModified: 'Wed, 05 Aug 2026 10:00:00 GMT' });
    const first = await fetchFeed(server.url('/drop.txt'), opts);
    expect(first).toEqual({ result: 'ok', text: '192.0.2.0/24 ; SBL1\n', bytes: 20, etag: '"v1"', lastModified: 'Wed, 05 Aug 2026 10:00:00 GMT' });
    const again = await fetchFeed(server.url('/drop.txt'), { ...opts, etag: '"v1"', lastModified: 'Wed, 05 Aug 2026 10:00:00 GMT' });
    expect(again).toEqual({ result: 'not_modified' });
    const sent = server.requests.at(-1)!;
    expect(sent.status).toBe(304);
    expect(sent.headers['if-none-match']).toBe('"v1"');
    expect(sent.headers['if-modified-since']).toBe('Wed, 05 Aug 2026 10:00:00 GMT');
    expect(sent.headers['user-agent']).toMatch(/^portcullis/);
  });

  it('uses If-Modified-Since alone when the server sends no ETag', async () => {
    server.routes.set('/lm.txt', { body: '198.51.100.1\n', lastModified: 'Thu, 06 Aug 2026 10:00:00 GMT' });
    const first = await fetchFeed(server.url('/lm.txt'), opts);
    expect(first.result).toBe('ok');
    expect(await fetchFeed(server.url('/lm.txt'), { ...opts, lastModified: 'Thu, 06 Aug 2026 10:00:00 GMT' })).toEqual({ result: 'not_modified' });
  });

  it('refuses a body over maxBytes, from Content-Length or while streaming', async () => {
    server.routes.set('/big', { body: '203.0.113.9\n'.repeat(200) });
    expect(await fetchFeed(server.url('/big'), opts)).toMatchObject({ result: 'too_large', message: expect.stringContaining('Content-Length 2400') });
    server.routes.set('/big-chunked', { body: '203.0.113.9\n'.repeat(20_000), chunked: true });
    expect(await fetchFeed(server.url('/big-chunked'), opts)).toMatchObject({ result: 'too_large', message: 'body exceeds maxBytes 1024' });
  });

  it('times out when the server never answers, or stalls mid-body', async () => {
    server.routes.set('/hang', { hang: true });
    const started = Date.now();
    expect(await fetchFeed(server.url('/hang'), { ...opts, timeoutMs: 200 })).toMatchObject({ result: 'timeout' });
    expect(Date.now() - started).toBeLessThan(1500);
    server.routes.set('/stall', { body: '192.0.2.1\n'.repeat(10), stallBody: true });
    expect(await fetchFeed(server.url('/stall'), { ...opts, timeoutMs: 200 })).toMatchObject({ result: 'timeout' });
  });

  it('reports HTTP errors and connection failures as errors, never throws', async () => {
    server.routes.set('/down', { status: 503, body: '<html>maintenance</html>' });
    expect(await fetchFeed(server.url('/down'), opts)).toEqual({ result: 'error', message: 'HTTP 503' });
    const closed = await FeedServer.start();
    const url = closed.url('/feed');
    await closed.close();
    expect(await fetchFeed(url, opts)).toMatchObject({ result: 'error', message: expect.stringMatching(/ECONNREFUSED/) });
  });

  it('stops at once when the manager aborts', async () => {
    server.routes.set('/hang2', { hang: true });
    const stop = new AbortController();
    const pending = fetchFeed(server.url('/hang2'), { ...opts, timeoutMs: 10_000, signal: stop.signal });
    setTimeout(() => stop.abort(), 50);
    expect(await pending).toEqual({ result: 'error', message: 'stopped' });
  });
});
