import { afterEach, describe, expect, it } from 'vitest';
import { FAST, ipzone, NS, startCluster, until, zoneNames, type Cluster } from './harness.ts';

let cluster: Cluster | undefined;
afterEach(async () => { await cluster?.close(); cluster = undefined; });

const lists = (c: Cluster, plural = 'ipzones') => c.server.requests.filter((r) => r.path.endsWith(`/${plural}`) && r.query.get('watch') !== 'true').length;
const watches = (c: Cluster, plural = 'ipzones') => c.server.requests.filter((r) => r.path.endsWith(`/${plural}`) && r.query.get('watch') === 'true');
const metric = async (c: { registry: { getSingleMetricAsString(n: string): Promise<string> } }, name: string, labels: string) => {
  const line = (await c.registry.getSingleMetricAsString(name)).split('\n').find((l) => l.includes(labels));
  return Number(line?.split(' ').pop() ?? 0);
};

describe('watching the API server', () => {
  it('objects appear and disappear in the snapshot within a second', async () => {
    cluster = await startCluster();
    const r = cluster.replica('a', { writeStatus: false });
    await r.started;
    expect(zoneNames(r)).toEqual([]);
    const t0 = performance.now();
    cluster.server.apply(ipzone('blocked', { usage: 'Blocklist', gateways: ['192.0.2.0/24'] }));
    await until(() => zoneNames(r).includes('blocked'), 1000);
    const appear = performance.now() - t0;
    const t1 = performance.now();
    cluster.server.remove('IPZone', NS, 'blocked');
    await until(() => !zoneNames(r).includes('blocked'), 1000);
    const vanish = performance.now() - t1;
    console.log(`apply→serving ${appear.toFixed(1)} ms, delete→gone ${vanish.toFixed(1)} ms`);
    expect(appear).toBeLessThan(1000);
  });

  it('readiness waits for the first full list of every kind, through errors, with backoff', async () => {
    cluster = await startCluster();
    cluster.server.apply(ipzone('z', { usage: 'Policy', gateways: ['203.0.113.0/24'] }));
    cluster.server.fail(/\/threatfeeds(\?|$)/, 500, 4, 'GET');
    const r = cluster.replica('a', { writeStatus: false });
    await new Promise((res) => setTimeout(res, 60));
    expect(r.source.ready).toBe(false);
    expect(r.holder.ready).toBe(false);
    await r.started;
    expect(r.holder.ready).toBe(true);
    expect(zoneNames(r)).toEqual(['z']);
    const at = cluster.server.requests.filter((q) => q.path.endsWith('/threatfeeds') && q.query.get('watch') !== 'true').length;
    expect(at).toBe(5);
    expect(await metric(r, 'portcullis_kube_api_errors_total', 'operation="list"')).toBe(4);
  });

  it('a dropped watch resumes from the last resourceVersion and loses no update', async () => {
    cluster = await startCluster();
    cluster.server.apply(ipzone('a', { usage: 'Blocklist', gateways: ['192.0.2.1'] }));
    const r = cluster.replica('r', { writeStatus: false });
    await r.started;
    const listsBefore = lists(cluster);
    const rvAtDrop = String(cluster.server.resourceVersion);
    const watchesBefore = watches(cluster).length;
    // Cut the stream, and keep the next reconnects failing while changes happen.
    cluster.server.fail(/\/ipzones\?.*watch=true/, 503, 3, 'GET');
    cluster.server.dropWatches();
    cluster.server.apply(ipzone('b', { usage: 'Blocklist', gateways: ['192.0.2.2'] }));
    cluster.server.apply(ipzone('a', { usage: 'Blocklist', gateways: ['192.0.2.3'] }));
    cluster.server.remove('IPZone', NS, 'b');
    cluster.server.apply(ipzone('c', { usage: 'Blocklist', gateways: ['192.0.2.4'] }));
    await until(() => zoneNames(r).join() === 'a,c' && r.holder.current!.objects.some((o) => o.name === 'a' && JSON.stringify(o.spec).includes('192.0.2.3')), 5000);
    expect(lists(cluster)).toBe(listsBefore); // resumed by watch, no relist
    const resumed = watches(cluster).slice(watchesBefore);
    expect(resumed.length).toBe(4); // three refused, then the one that streamed the changes
    for (const q of resumed) expect(q.query.get('resourceVersion')).toBe(rvAtDrop);
    expect(resumed[0]!.query.get('allowWatchBookmarks')).toBe('true');
  });

  for (const goneAs of ['event', 'http'] as const) {
    it(`410 Gone (${goneAs === 'event' ? 'ERROR event in a 200 stream' : 'HTTP 410'}) triggers a relist that catches up, deletions included`, async () => {
      cluster = await startCluster({ bookmarkMs: 0, goneAs });
      cluster.server.apply(ipzone('old', { usage: 'Blocklist', gateways: ['192.0.2.1'] }));
      const r = cluster.replica('r', { writeStatus: false });
      await r.started;
      const listsBefore = lists(cluster);
      cluster.server.fail(/\/ipzones\?.*watch=true/, 500, 1, 'GET');
      cluster.server.dropWatches();
      cluster.server.remove('IPZone', NS, 'old');
      cluster.server.apply(ipzone('new', { usage: 'Blocklist', gateways: ['192.0.2.9'] }));
      cluster.server.compact();
      await until(() => zoneNames(r).join() === 'new', 5000);
      expect(lists(cluster)).toBeGreaterThan(listsBefore);
      expect(await metric(r, 'portcullis_kube_relists_total', 'reason="expired"')).toBeGreaterThanOrEqual(1);
    });
  }

  it('server errors everywhere: backs off with jitter and recovers', async () => {
    cluster = await startCluster();
    const r = cluster.replica('r', { writeStatus: false });
    await r.started;
    cluster.server.fail(/ipzones/, 500, 6, 'GET');
    cluster.server.dropWatches();
    cluster.server.apply(ipzone('late', { usage: 'Policy', gateways: ['203.0.113.7'] }));
    await until(() => zoneNames(r).includes('late'), 8000);
    // Six failed attempts and the good one, further and further apart.
    const at = watches(cluster).slice(-7).map((q) => q.at);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps[gaps.length - 1]!).toBeGreaterThan(gaps[0]! * 2);
    expect(await metric(r, 'portcullis_kube_api_errors_total', 'operation="watch"')).toBe(6);
  });

  it('bookmarks advance the resourceVersion of a quiet watch; server-side timeouts resume without relisting', async () => {
    cluster = await startCluster({ bookmarkMs: 50 });
    const r = cluster.replica('r', { writeStatus: false, reflector: { ...FAST.reflector, watchTimeoutSeconds: [1, 1] } });
    await r.started;
    const listsBefore = lists(cluster, 'threatfeeds');
    cluster.server.apply(ipzone('noise', { usage: 'Policy' })); // moves the global resourceVersion
    await until(() => watches(cluster!, 'threatfeeds').some((q) => Number(q.query.get('resourceVersion')) >= cluster!.server.resourceVersion), 4000, 'rewatch from a bookmark');
    expect(lists(cluster, 'threatfeeds')).toBe(listsBefore);
    expect(await metric(r, 'portcullis_kube_watch_ends_total', 'kind="ThreatFeed",reason="closed"')).toBeGreaterThanOrEqual(1);
  });

  it('lists in pages and relists periodically (resync)', async () => {
    cluster = await startCluster();
    for (let i = 0; i < 23; i++) cluster.server.apply(ipzone(`z${String(i).padStart(2, '0')}`, { usage: 'Blocklist', gateways: [`198.51.100.${i}`] }));
    const r = cluster.replica('r', { writeStatus: false, reflector: { ...FAST.reflector, pageSize: 10, resyncMs: 300 } });
    await r.started;
    expect(zoneNames(r)).toHaveLength(23);
    expect(cluster.server.requests.filter((q) => q.path.endsWith('/ipzones') && q.query.get('continue')).length).toBe(2);
    await until(async () => (await metric(r, 'portcullis_kube_relists_total', 'kind="IPZone",reason="resync"')) >= 1 || undefined, 3000);
    expect(zoneNames(r)).toHaveLength(23);
  });
});
