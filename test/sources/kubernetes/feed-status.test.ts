import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.ts';
import { FeedManager } from '../../../src/feeds/manager.ts';
import { FeedServer } from '../../helpers/feed-server.ts';
import { condition, ipzone, NS, object, policy, startCluster, until, type Cluster, type Replica } from './harness.ts';

let cluster: Cluster | undefined;
let feeds: FeedManager | undefined;
let feedServer: FeedServer | undefined;
afterEach(async () => {
  feeds?.stop();
  await feedServer?.close();
  await cluster?.close();
  cluster = feeds = feedServer = undefined;
});

/** A replica wired as main.ts wires it: the feed manager runs each snapshot and is the source's feed status. */
function replicaWithFeeds(c: Cluster): Replica {
  feeds = new FeedManager({ clock: systemClock });
  // The reloader hands each accepted config's feeds to the manager, before the first snapshot serves.
  return c.replica('solo', { feeds }, (f) => feeds!.apply(f));
}

const statusOf = (kind: string, name: string) => cluster!.server.get(kind, NS, name)?.status as Record<string, unknown> | undefined;
const statusPuts = () => cluster!.server.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('/status')).length;

describe('ThreatFeed and DynamicZone status from the feed manager (leader only)', () => {
  it('an inline feed shows its entries, last refresh and overlap warning; nothing is rewritten when nothing changed', async () => {
    cluster = await startCluster();
    cluster.server.apply(ipzone('lb', { usage: 'Policy', proxies: ['10.1.0.0/16'] }));
    cluster.server.apply(object('ThreatFeed', 'incident', { source: { inline: [{ address: '45.155.205.0/24' }, { address: '193.142.146.7' }] }, semantics: 'Blocklist' }));
    cluster.server.apply(object('ThreatFeed', 'sloppy', { source: { inline: [{ address: '10.0.0.0/8' }, { address: '193.142.146.9' }] } }));
    const r = replicaWithFeeds(cluster);
    await r.started;

    await until(() => statusOf('ThreatFeed', 'incident')?.entries === 2 && statusOf('ThreatFeed', 'sloppy')?.entries === 2, 3000, 'feed entries in status');
    const incident = cluster.server.get('ThreatFeed', NS, 'incident')!;
    expect(incident.status).toMatchObject({ entries: 2, badLines: 0, observedGeneration: 1 });
    expect(incident.status as Record<string, unknown>).toHaveProperty('lastRefreshTime', expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/));
    expect(condition(incident, 'Ready')).toMatchObject({ status: 'True', reason: 'Serving' });
    expect(condition(incident, 'SensitiveOverlap')).toBeUndefined();
    // 10.0.0.0/8 covers the load balancer's proxies (and is private space): the guard rail's warning is in status.
    const sloppy = condition(cluster.server.get('ThreatFeed', NS, 'sloppy'), 'SensitiveOverlap');
    expect(sloppy).toMatchObject({ status: 'True', reason: 'OverlapsProtectedRanges' });
    expect(sloppy!.message).toContain('10.0.0.0/8 overlaps 10.1.0.0/16 (proxies of IPZone lb)');

    // Change notifications that change nothing write nothing.
    await until(() => r.source.statusIdle, 3000, 'idle');
    const writes = statusPuts();
    feeds!.checkZones();
    await feeds!.refresh('incident');
    await new Promise((res) => setTimeout(res, 1100)); // lastRefreshTime has whole seconds: a re-read within one may be a no-op
    await until(() => r.source.statusIdle, 3000, 'idle');
    const afterReread = statusPuts();
    expect(afterReread - writes).toBeLessThanOrEqual(1);
    feeds!.checkZones();
    await new Promise((res) => setTimeout(res, 200));
    expect(statusPuts()).toBe(afterReread);

    // The load balancer moved: 10.0.0.0/8 is now only private space, and the warning says so.
    cluster.server.apply(ipzone('lb', { usage: 'Policy', proxies: ['172.16.0.0/16'] }));
    await until(() => condition(cluster!.server.get('ThreatFeed', NS, 'sloppy'), 'SensitiveOverlap')?.reason === 'OverlapsReservedRanges', 3000, 'overlap re-evaluated');
  });

  it('an HTTP feed that fails is Ready=False naming the error, and Ready once a read succeeds', async () => {
    cluster = await startCluster();
    feedServer = await FeedServer.start();
    feedServer.routes.set('/list.txt', { status: 503, body: 'maintenance' });
    cluster.server.apply(object('ThreatFeed', 'remote', { source: { http: { url: feedServer.url('/list.txt'), interval: '1h', timeout: '2s' } } }));
    const r = replicaWithFeeds(cluster);
    await r.started;

    await until(() => condition(cluster!.server.get('ThreatFeed', NS, 'remote'), 'Ready')?.reason === 'RefreshFailed', 3000, 'RefreshFailed');
    const failed = cluster.server.get('ThreatFeed', NS, 'remote')!;
    expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', observedGeneration: 1 });
    expect(condition(failed, 'Ready')!.message).toContain('HTTP 503');
    expect(condition(failed, 'Ready')!.message).toContain('no contents yet');
    expect(condition(failed, 'Accepted')).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(failed.status).toMatchObject({ entries: 0 });
    expect(failed.status as Record<string, unknown>).not.toHaveProperty('lastRefreshTime');

    // A failure that repeats the same error is not rewritten.
    await until(() => r.source.statusIdle, 3000, 'idle');
    const writes = statusPuts();
    expect(await feeds!.refresh('remote')).toBe('error');
    await new Promise((res) => setTimeout(res, 200));
    expect(statusPuts()).toBe(writes);

    feedServer.routes.set('/list.txt', { body: '192.0.2.1\n192.0.2.2\n# comment\n' });
    expect(await feeds!.refresh('remote')).toBe('ok');
    await until(() => condition(cluster!.server.get('ThreatFeed', NS, 'remote'), 'Ready')?.status === 'True', 3000, 'Ready=True');
    expect(statusOf('ThreatFeed', 'remote')).toMatchObject({ entries: 2, badLines: 0, lastRefreshTime: expect.any(String) });

    // Failing again: the last good contents keep serving, and status says so.
    feedServer.routes.set('/list.txt', { status: 500 });
    expect(await feeds!.refresh('remote')).toBe('error');
    await until(() => condition(cluster!.server.get('ThreatFeed', NS, 'remote'), 'Ready')?.status === 'False', 3000, 'Ready=False again');
    expect(condition(cluster.server.get('ThreatFeed', NS, 'remote'), 'Ready')!.message).toMatch(/HTTP 500; the contents read at .* keep serving/);
    expect(statusOf('ThreatFeed', 'remote')).toMatchObject({ entries: 2 });
  });

  it('a DynamicZone whose database is not configured is Ready=False with MissingDatabase; a Tor zone with a Tor feed is ready', async () => {
    cluster = await startCluster();
    cluster.server.apply(object('DynamicZone', 'vpn', { usage: 'Blocklist', proxyType: 'NotTorAnonymizer' }));
    cluster.server.apply(object('DynamicZone', 'uk', { usage: 'Policy', locations: [{ country: 'GB' }] }));
    cluster.server.apply(object('DynamicZone', 'tor', { usage: 'Blocklist', proxyType: 'Tor' }));
    cluster.server.apply(object('ThreatFeed', 'tor-exits', { source: { inline: [{ address: '192.0.2.66' }] }, format: 'tor-bulk', level: 'LOW' }));
    cluster.server.apply(policy('default', { exemptZones: ['uk'] }));
    const r = replicaWithFeeds(cluster);
    await r.started;

    await until(() => condition(cluster!.server.get('DynamicZone', NS, 'vpn'), 'Ready')?.reason === 'MissingDatabase'
      && condition(cluster!.server.get('DynamicZone', NS, 'uk'), 'Ready')?.reason === 'MissingDatabase', 3000, 'MissingDatabase');
    const vpn = condition(cluster.server.get('DynamicZone', NS, 'vpn'), 'Ready')!;
    expect(vpn.status).toBe('False');
    expect(vpn.message).toContain('--geoip-anonymous');
    expect(condition(cluster.server.get('DynamicZone', NS, 'uk'), 'Ready')!.message).toContain('--geoip-country');
    // Still valid config: the zone is in the snapshot, it just cannot match yet.
    expect(condition(cluster.server.get('DynamicZone', NS, 'vpn'), 'Accepted')).toMatchObject({ status: 'True' });
    await until(() => condition(cluster!.server.get('DynamicZone', NS, 'tor'), 'Ready')?.status === 'True', 3000, 'tor ready');
    expect(condition(cluster.server.get('ThreatPolicy', NS, 'default'), 'Ready')).toMatchObject({ status: 'True', reason: 'Serving' });
  });

  it('without a feed manager (or on a follower) feeds keep the config verdict only', async () => {
    cluster = await startCluster();
    cluster.server.apply(object('ThreatFeed', 'incident', { source: { inline: [{ address: '198.51.100.23' }] } }));
    const r = cluster.replica('plain');
    await r.started;
    await until(() => condition(cluster!.server.get('ThreatFeed', NS, 'incident'), 'Ready')?.status === 'True', 3000, 'Ready');
    expect(statusOf('ThreatFeed', 'incident')).not.toHaveProperty('entries');
  });
});
