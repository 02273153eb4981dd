import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { FeedServer } from '../helpers/feed-server.ts';
import { AuthzClient, headerValue } from '../helpers/grpc-client.ts';
import { eventually, scrapeMetric, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';

const fixture = (p: string): string => fileURLToPath(new URL(`../fixtures/${p}`, import.meta.url));

// Attackers known to a (local) threat-intel service, and a FireHOL-level1-like blocklist that also lists
// 10.0.0.0/8, where this deployment's load balancer lives.
const ATTACKERS = '# attackers\n45.155.205.1\n45.155.205.2\n';
const LEVEL1 = '# firehol_level1\n10.0.0.0/8\n193.142.146.0/24\n2.125.160.216\n';

const config = (action: string, urls: { attackers: string; level1: string }) => `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: lb }
spec: { usage: Policy, proxies: [10.0.0.0/16] }
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatPolicy
metadata: { name: default }
spec:
  action: ${action}
  exemptZones: [uk-office]
  signIn: { routes: [{ path: { exact: /login }, methods: [POST] }] }
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatFeed
metadata: { name: attackers }
spec:
  source: { http: { url: "${urls.attackers}", interval: 1h, timeout: 2s } }
  format: plain
  level: HIGH
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatFeed
metadata: { name: level1 }
spec:
  source: { http: { url: "${urls.level1}" } }
  format: firehol
  semantics: Blocklist
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatFeed
metadata: { name: tor-exits }
spec:
  source: { path: ${fixture('feeds/torbulkexitlist.sample')} }
  format: tor-bulk
  level: LOW
---
apiVersion: portcullis.dev/v1alpha1
kind: DynamicZone
metadata: { name: tor }
spec: { usage: Blocklist, proxyType: Tor }
---
apiVersion: portcullis.dev/v1alpha1
kind: DynamicZone
metadata: { name: uk-office }
spec: { usage: Policy, locations: [{ country: GB, region: ENG }] }
`;

let server: FeedServer;
let inst: TestInstance;
let authz: AuthzClient;
let urls: { attackers: string; level1: string };

beforeAll(async () => {
  server = await FeedServer.start();
  server.routes.set('/attackers.txt', { body: ATTACKERS, etag: '"a1"' });
  server.routes.set('/level1.netset', { body: LEVEL1, etag: '"l1"' });
  urls = { attackers: server.url('/attackers.txt'), level1: server.url('/level1.netset') };
  inst = await startTestInstance({ 'portcullis.yaml': config('Audit', urls) }, {
    'geoip-country': fixture('mmdb/GeoIP2-City-Test.mmdb'),
    'geoip-anonymous': fixture('mmdb/GeoIP2-Anonymous-IP-Test.mmdb'),
  });
  authz = new AuthzClient(inst.grpcTarget);
  await eventually(async () => (await fetch(`${inst.httpBase}/readyz`)).status === 200);
  await eventually(() => inst.running.feeds.feedStatus().every((f) => f.ready));
});
afterAll(async () => {
  authz?.close();
  await inst?.stop();
  await server?.close();
});

const check = (xff: string | undefined, init: { path?: string; method?: string } = {}) =>
  authz.check(envoyCheckRequest({ peer: '10.0.1.5', ...init, headers: xff ? { 'x-forwarded-for': xff } : {} }));

describe('threat feeds and dynamic zones through the real gRPC Check', () => {
  it('Audit: a feed entry raises the threat level (upstream headers + event naming the feed)', async () => {
    const res = await check('45.155.205.1');
    expect(res.status?.code).toBe(0);
    expect(headerValue(res, 'x-portcullis-threat-level')).toBe('HIGH');
    expect(headerValue(res, 'x-portcullis-threat-suspected')).toBe('true');
    const id = headerValue(res, 'x-portcullis-decision-id');
    const event = inst.events.events.find((e) => e.uuid === id);
    expect(event).toMatchObject({
      eventType: 'security.threat.detected',
      outcome: { result: 'ALLOW', reason: 'threat_detected' },
      debugContext: { debugData: { threatLevel: 'HIGH', threatDetections: '{"threat_feed":"HIGH"}', threatFeeds: 'attackers' } },
    });
    expect(await scrapeMetric(inst.httpBase, 'portcullis_detections_total{reason="threat_feed",level="HIGH"}')).toBe(1);
  });

  it('a Blocklist feed denies on every route; the event names the feed', async () => {
    const res = await check('193.142.146.7', { path: '/assets/app.js', method: 'GET' });
    expect(res.deniedResponse?.status?.code).toBe('Forbidden');
    const body = JSON.parse(res.deniedResponse!.body!);
    expect(body.reason).toBe('blocklist_feed');
    expect(inst.events.events.find((e) => e.uuid === body.eventId)).toMatchObject({
      eventType: 'security.request.blocked', outcome: { result: 'DENY', reason: 'blocklist_feed' }, debugContext: { debugData: { feed: 'level1' } },
    });
    expect(await scrapeMetric(inst.httpBase, 'portcullis_checks_total{verdict="deny",reason="blocklist_feed"}')).toBe(1);
  });

  it('a feed overlapping the trusted load balancer warns loudly and never blocks it', async () => {
    const lb = await check(undefined); // the load balancer's own request (health check, say)
    expect(lb.status?.code).toBe(0);
    const warning = inst.events.events.find((e) => e.eventType === 'system.feed.sensitive_overlap');
    expect(warning).toMatchObject({ severity: 'WARN', debugContext: { debugData: { feed: 'level1', protected: '1', private: '1' } } });
    expect(warning!.debugContext.debugData.examples).toContain('10.0.0.0/8 overlaps 10.0.0.0/16 (proxies of IPZone lb)');
    expect(await scrapeMetric(inst.httpBase, 'portcullis_feed_sensitive_overlaps{feed="level1",kind="protected"}')).toBe(1);
    expect(inst.running.feeds.feedStatus().find((f) => f.name === 'level1')!.sensitiveOverlaps.counts.protected).toBe(1);
  });

  it('a Tor exit is blocked by a proxyType: Tor Blocklist DynamicZone (exit feed or anonymous-IP database)', async () => {
    for (const tor of ['185.220.101.18', '65.7.1.1']) {
      const res = await check(tor);
      expect(res.deniedResponse?.status?.code, tor).toBe('Forbidden');
      const body = JSON.parse(res.deniedResponse!.body!);
      expect(body.reason).toBe('blocklist_zone');
      expect(inst.events.events.find((e) => e.uuid === body.eventId)?.client?.zone).toBe('tor');
    }
    expect(await scrapeMetric(inst.httpBase, 'portcullis_dynamic_zone_ready{zone="tor"}')).toBe(1);
  });

  it('a Policy DynamicZone is an exempt zone: its clients pass even when a Blocklist feed lists them', async () => {
    const res = await check('2.125.160.216'); // GB-ENG in the City test database, and listed by level1
    expect(res.status?.code).toBe(0);
    const id = headerValue(res, 'x-portcullis-decision-id');
    expect(await scrapeMetric(inst.httpBase, 'portcullis_checks_total{verdict="allow",reason="exempt_zone"}')).toBeGreaterThanOrEqual(1);
    expect(inst.events.events.find((e) => e.uuid === id)).toBeUndefined();
  });

  it('Block: after a reload the same feed entry is refused with 403 on sign-in', async () => {
    inst.write('portcullis.yaml', config('Block', urls));
    await eventually(async () => (await check('45.155.205.2')).status?.code === 7);
    const res = await check('45.155.205.2');
    expect(res.deniedResponse?.status?.code).toBe('Forbidden');
    expect(JSON.parse(res.deniedResponse!.body!).reason).toBe('threat_block');
    // Other routes are unaffected by a ThreatLevel feed.
    expect((await check('45.155.205.2', { path: '/home', method: 'GET' })).status?.code).toBe(0);
    // The unchanged HTTP feeds were kept across the reload, not fetched again.
    expect(server.requests.filter((r) => r.path === '/attackers.txt')).toHaveLength(1);
  });

  it('counts feed refreshes by result and exposes per-feed status', async () => {
    expect(await scrapeMetric(inst.httpBase, 'portcullis_feed_refreshes_total{feed="attackers",result="ok"}')).toBe(1);
    expect(await scrapeMetric(inst.httpBase, 'portcullis_feed_refreshes_total{feed="attackers",result="timeout"}')).toBe(0);
    expect(await scrapeMetric(inst.httpBase, 'portcullis_feed_entries{feed="tor-exits"}')).toBe(16);
    expect(await scrapeMetric(inst.httpBase, 'portcullis_geoip_database_ready{db="country"}')).toBe(1);
    server.routes.set('/attackers.txt', { body: '<html><body>502 Bad Gateway</body></html>\n', etag: '"oops"' });
    expect(await inst.running.feeds.refresh('attackers')).toBe('error');
    expect(await scrapeMetric(inst.httpBase, 'portcullis_feed_refreshes_total{feed="attackers",result="error"}')).toBe(1);
    expect(await scrapeMetric(inst.httpBase, 'portcullis_feed_ready{feed="attackers"}')).toBe(0);
    expect((await check('45.155.205.2')).status?.code).toBe(7); // the last good contents still serve
  });
});
