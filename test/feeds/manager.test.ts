import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { FeedManager } from '../../src/feeds/manager.ts';
import { NO_MATCH } from '../../src/feeds/feed-index.ts';
import { eventually } from '../helpers/portcullis.ts';
import { FeedServer } from '../helpers/feed-server.ts';
import { feed, feedsOf, fixture, ip, LB, policy, RecordingObserver, snapshotOf } from './helpers.ts';

const LEVEL1 = readFileSync(fixture('firehol_level1.netset.sample'), 'utf8');
const HTML = readFileSync(fixture('html-error-page.txt'), 'utf8');

let server: FeedServer;
let dir: string;
let m: FeedManager | undefined;
beforeAll(async () => {
  server = await FeedServer.start();
  dir = mkdtempSync(join(tmpdir(), 'portcullis-feeds-'));
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => m?.stop());

describe('HTTP feed: conditional refresh, and the last good contents survive every failure', () => {
  it('ok → 304 → garbage → timeout → too large, still serving the first body', async () => {
    server.routes.set('/level1.netset', { body: LEVEL1, etag: '"a"' });
    const obs = new RecordingObserver();
    const clock = new ManualClock(Date.UTC(2026, 7, 5));
    m = new FeedManager({ clock, observer: obs });
    m.apply(feedsOf([LB, feed('level1', { source: { http: { url: server.url('/level1.netset'), timeout: '300ms', maxBytes: 100_000 } }, format: 'firehol', level: 'HIGH' })]));
    expect(await m.refresh('level1')).toBe('ok');
    await eventually(() => m!.match(ip('1.10.16.7')) !== NO_MATCH);
    const first = m.feedStatus()[0]!;
    expect(first).toMatchObject({ name: 'level1', source: 'http', ready: true, serving: true, lastResult: 'ok', badLines: 0 });
    expect(first.entries).toBe(23);
    expect(m.match(ip('1.10.16.7'))).toMatchObject({ threatLevel: 'HIGH', threatFeeds: ['level1'], blockFeed: undefined });

    expect(await m.refresh('level1')).toBe('not_modified');
    expect(server.requests.at(-1)).toMatchObject({ status: 304, headers: { 'if-none-match': '"a"' } });

    // An operator's error page served with 200: no entries, only bad lines. Rejected, and its ETag not kept.
    server.routes.set('/level1.netset', { body: HTML, etag: '"broken"' });
    expect(await m.refresh('level1')).toBe('error');
    expect(m.feedStatus()[0]).toMatchObject({ ready: false, serving: true, entries: first.entries, lastError: expect.stringMatching(/^rejected: \d+ bad lines and 0 entries/) });
    expect(await m.refresh('level1')).toBe('error');
    expect(server.requests.at(-1)!.headers['if-none-match']).toBe('"a"');

    server.routes.set('/level1.netset', { hang: true });
    expect(await m.refresh('level1')).toBe('timeout');
    server.routes.set('/level1.netset', { body: LEVEL1.repeat(400), etag: '"huge"' });
    expect(await m.refresh('level1')).toBe('too_large');

    expect(m.match(ip('1.10.16.7')).threatLevel).toBe('HIGH');
    expect(m.feedStatus()[0]).toMatchObject({ serving: true, entries: first.entries, consecutiveFailures: 4, lastResult: 'too_large' });
    expect(obs.refreshes.map((r) => r.result)).toEqual(['ok', 'not_modified', 'error', 'error', 'timeout', 'too_large']);

    // Back to normal: the next good body replaces the contents.
    server.routes.set('/level1.netset', { body: '198.18.0.9\n', etag: '"c"' });
    expect(await m.refresh('level1')).toBe('ok');
    await eventually(() => m!.match(ip('1.10.16.7')) === NO_MATCH);
    expect(m.feedStatus()[0]).toMatchObject({ ready: true, entries: 1, consecutiveFailures: 0 });
  });

  it('refreshes on its interval from the shared timer, backing off after failures', async () => {
    server.routes.set('/tor.txt', { body: '185.220.101.1\n', etag: '"t1"' });
    const clock = new ManualClock(Date.UTC(2026, 7, 5));
    m = new FeedManager({ clock, tickMs: 60_000 });
    m.apply(feedsOf([feed('tor', { source: { http: { url: server.url('/tor.txt'), interval: '1h' } }, format: 'tor-bulk' })]));
    await m.refresh('tor');
    const before = server.requests.filter((r) => r.path === '/tor.txt').length;
    clock.advance(30 * 60_000);
    m.tick();
    expect(server.requests.filter((r) => r.path === '/tor.txt').length).toBe(before);
    clock.advance(36 * 60_000);
    m.tick();
    await eventually(() => server.requests.filter((r) => r.path === '/tor.txt').length === before + 1);
    await eventually(() => m!.feedStatus()[0]!.lastResult === 'not_modified');
  });

  it('a rejected URL never reaches the manager: credentials and sub-minute intervals are config issues', () => {
    expect(() => snapshotOf([feed('x', { source: { http: { url: 'https://user:pw@feeds.example/x' } } })])).toThrow(/credentials/);
    expect(() => snapshotOf([feed('x', { source: { http: { url: 'https://feeds.example/x', interval: '10s' } } })])).toThrow(/at least 1m/);
  });
});

describe('file feed', () => {
  it('is re-read when the file changes and keeps its contents when the file goes away', async () => {
    const path = join(dir, 'blocklist.txt');
    writeFileSync(path, '# ours\n192.0.2.10\n');
    const obs = new RecordingObserver();
    m = new FeedManager({ clock: new ManualClock(0), observer: obs, tickMs: 60_000 });
    m.apply(feedsOf([LB, feed('ours', { source: { path }, semantics: 'Blocklist' })]));
    await m.refresh('ours');
    await eventually(() => m!.match(ip('192.0.2.10')).blockFeed === 'ours');

    writeFileSync(path, '# ours\n192.0.2.10\n192.0.2.11\n');
    await eventually(() => {
      m!.tick();
      return m!.match(ip('192.0.2.11')).blockFeed === 'ours';
    });
    expect(m.feedStatus()[0]).toMatchObject({ entries: 2, source: 'file' });

    unlinkSync(path);
    await eventually(() => {
      m!.tick();
      return m!.feedStatus()[0]!.lastError === 'file not found';
    });
    expect(m.match(ip('192.0.2.11')).blockFeed).toBe('ours');
    expect(m.feedStatus()[0]).toMatchObject({ serving: true, ready: false, entries: 2 });
  });
});

describe('inline feed', () => {
  it('entries stop counting at their expiry (ManualClock), and the next tick rebuilds the index', () => {
    const t0 = Date.UTC(2026, 7, 5, 12);
    const clock = new ManualClock(t0);
    m = new FeedManager({ clock, tickMs: 60_000 });
    m.apply(feedsOf([feed('incident-42', {
      source: { inline: [{ address: '203.0.113.7', expires: '2026-08-05T12:01:00Z' }, { address: '2001:db8:bad::/48' }, { address: '198.51.100.1', expires: '2026-08-05T11:00:00Z' }] },
      level: 'MEDIUM',
    })]));
    // Loaded synchronously on apply: no Check sees a config without its inline entries.
    expect(m.match(ip('203.0.113.7'))).toMatchObject({ threatLevel: 'MEDIUM', threatFeeds: ['incident-42'] });
    expect(m.match(ip('2001:db8:bad::1')).threatLevel).toBe('MEDIUM');
    expect(m.match(ip('198.51.100.1'))).toBe(NO_MATCH); // already expired
    expect(m.feedStatus()[0]!.entries).toBe(2);
    expect(m.index.nextExpiryMs).toBe(Date.parse('2026-08-05T12:01:00Z'));

    clock.advance(60_000);
    expect(m.match(ip('203.0.113.7'))).toBe(NO_MATCH);
    expect(m.feedStatus()[0]!.entries).toBe(1);
    const before = m.index;
    m.tick();
    expect(m.index).not.toBe(before);
    expect(m.index.entryCount).toBe(1);
    expect(m.index.nextExpiryMs).toBe(Infinity);
  });

  it('a reload that changes only the level keeps the source and applies the new level at once', () => {
    m = new FeedManager({ clock: new ManualClock(0), tickMs: 60_000 });
    m.apply(feedsOf([feed('a', { source: { inline: [{ address: '192.0.2.1' }] }, level: 'LOW' })]));
    expect(m.match(ip('192.0.2.1')).threatLevel).toBe('LOW');
    m.apply(feedsOf([feed('a', { source: { inline: [{ address: '192.0.2.1' }] }, semantics: 'Blocklist' })], 2));
    expect(m.match(ip('192.0.2.1'))).toMatchObject({ blockFeed: 'a', threatLevel: 'NONE' });
    m.apply(feedsOf([], 3));
    expect(m.match(ip('192.0.2.1'))).toBe(NO_MATCH);
    expect(m.feedStatus()).toEqual([]);
  });
  it('a reload that edits inline entries serves the new entries', () => {
    m = new FeedManager({ clock: new ManualClock(0), tickMs: 60_000 });
    m.apply(feedsOf([feed('a', { source: { inline: [{ address: '192.0.2.1' }] } })]));
    m.apply(feedsOf([feed('a', { source: { inline: [{ address: '192.0.2.2' }] } })], 2));
    expect(m.match(ip('192.0.2.1'))).toBe(NO_MATCH);
    expect(m.match(ip('192.0.2.2')).threatLevel).toBe('HIGH');
    expect(m.feedStatus()[0]).toMatchObject({ entries: 1 });
  });
});

describe('guard rail', () => {
  it('reports private/bogon entries and entries covering trusted proxies or Policy gateways, once per change', () => {
    const obs = new RecordingObserver();
    m = new FeedManager({ clock: new ManualClock(0), observer: obs, tickMs: 60_000 });
    const objects = [
      LB,
      { kind: 'IPZone', name: 'office', origin: { source: 'test' }, spec: { usage: 'Policy', gateways: ['100.70.0.1-100.70.0.9'] } } as const,
      feed('level1', { source: { inline: [{ address: '10.0.0.0/8' }, { address: '100.64.0.0/10' }, { address: '192.0.2.0/24' }, { address: '185.220.101.1' }] }, semantics: 'Blocklist' }),
    ];
    m.apply(feedsOf(objects));
    expect(obs.overlaps).toHaveLength(1);
    const st = obs.overlaps[0]!;
    expect(st.sensitiveOverlaps.counts).toEqual({ protected: 2, private: 2, bogon: 1 });
    expect(st.sensitiveOverlaps.examples).toContainEqual({ entry: '10.0.0.0/8', overlaps: '10.0.0.0/16 (proxies of IPZone lb)', kind: 'protected' });
    expect(st.sensitiveOverlaps.examples).toContainEqual({ entry: '100.64.0.0/10', overlaps: '100.70.0.1-100.70.0.9 (gateways of IPZone office)', kind: 'protected' });
    expect(m.feedStatus()[0]!.sensitiveOverlaps).toEqual(st.sensitiveOverlaps);

    m.apply(feedsOf(objects, 2)); // recompiled, same ranges: no second warning
    expect(obs.overlaps).toHaveLength(1);
    m.apply(feedsOf([objects[0]!, objects[2]!], 3)); // the office zone is gone: one protected overlap fewer
    expect(obs.overlaps).toHaveLength(2);
    expect(obs.overlaps[1]!.sensitiveOverlaps.counts.protected).toBe(1);
  });
});

describe('status', () => {
  it('lists every feed with its source, and initial readiness waits for the first read only', async () => {
    server.routes.set('/slow', { hang: true });
    m = new FeedManager({ clock: new ManualClock(0), tickMs: 60_000 });
    expect(m.initialLoadDone).toBe(false);
    m.apply(feedsOf([
      feed('inline', { source: { inline: [{ address: '192.0.2.1' }] } }),
      feed('slow', { source: { http: { url: server.url('/slow'), timeout: '200ms' } } }),
      policy('Audit'),
    ]));
    expect(m.initialLoadDone).toBe(false);
    await m.refresh('slow');
    expect(m.initialLoadDone).toBe(true);
    expect(m.feedStatus().map((s) => [s.name, s.source, s.ready, s.lastResult])).toEqual([
      ['inline', 'inline', true, 'ok'],
      ['slow', 'http', false, 'timeout'],
    ]);
  });
});
