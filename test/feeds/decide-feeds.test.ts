import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { decide, type DecideOptions } from '../../src/decide/decide.ts';
import type { RequestFacts } from '../../src/decide/decision.ts';
import type { DetectorFacts } from '../../src/decide/threat.ts';
import { FeedManager } from '../../src/feeds/manager.ts';
import type { ConfigObject } from '../../src/api/objects.ts';
import { feed, ip, LB, policy, snapshotOf, feedsOf } from './helpers.ts';

let m: FeedManager | undefined;
afterEach(() => m?.stop());

const feeds: ConfigObject[] = [
  LB,
  { kind: 'IPZone', name: 'office', origin: { source: 't' }, spec: { usage: 'Policy', gateways: ['198.51.100.0/24'] } },
  { kind: 'IPZone', name: 'bad', origin: { source: 't' }, spec: { usage: 'Blocklist', gateways: ['192.0.2.0/24'] } },
  // FireHOL level1 style: private space next to real entries. The load balancer (10.0.0.0/16) is in it.
  feed('level1', { source: { inline: [{ address: '10.0.0.0/8' }, { address: '185.220.101.0/24' }, { address: '198.51.100.0/24' }, { address: '192.0.2.0/24' }] }, semantics: 'Blocklist' }),
  feed('high', { source: { inline: [{ address: '45.155.205.1' }, { address: '45.155.205.2' }] }, level: 'HIGH' }),
  feed('medium', { source: { inline: [{ address: '45.155.205.2' }, { address: '45.155.205.3' }] }, level: 'MEDIUM' }),
];

let n = 0;
function setup(action: 'None' | 'Audit' | 'Block', detected?: DetectorFacts) {
  const objects = [...feeds, policy(action, ['office'])];
  const snapshot = snapshotOf(objects);
  m = new FeedManager({ clock: new ManualClock(0), tickMs: 60_000 });
  m.apply(feedsOf(objects));
  const options: DecideOptions = {
    clientIp: { mode: 'xff', maxHops: 10 }, failureMode: 'allow', newId: () => `id-${++n}`, feeds: m,
    ...(detected ? { detectors: { facts: () => detected } } : {}),
  };
  return (peer: string, xff?: string, path = '/login') => decide({
    peer: ip(peer), xForwardedFor: xff, forwarded: undefined, envoyExternalAddress: undefined, method: 'POST', path, host: 'h', requestId: undefined, userAgent: undefined,
  } satisfies RequestFacts, snapshot, options);
}

describe('decide() with threat feeds', () => {
  it('never blocks a trusted proxy, even when a Blocklist feed lists its range', () => {
    const check = setup('Block');
    // The load balancer itself (no XFF), and a chain made only of trusted hops.
    expect(check('10.0.0.5')).toMatchObject({ verdict: 'allow', reason: 'trusted_proxy' });
    expect(check('10.0.0.5', '10.0.3.3')).toMatchObject({ verdict: 'allow', reason: 'trusted_proxy' });
    // The walk through the proxy still finds the real client, which the feed does block.
    expect(check('10.0.0.5', '185.220.101.18')).toMatchObject({ verdict: 'deny', reason: 'blocklist_feed', httpStatus: 403, feed: 'level1' });
    // Other private clients in the listed range are not proxies: the feed applies (the guard rail warns about this).
    expect(check('10.0.0.5', '10.77.0.1')).toMatchObject({ verdict: 'deny', reason: 'blocklist_feed' });
  });

  it('exempt zones beat a Blocklist feed; a Blocklist zone is named before a Blocklist feed', () => {
    const check = setup('Block');
    expect(check('10.0.0.5', '198.51.100.7')).toMatchObject({ verdict: 'allow', reason: 'exempt_zone', zone: 'office' });
    expect(check('10.0.0.5', '192.0.2.7')).toMatchObject({ verdict: 'deny', reason: 'blocklist_zone', zone: 'bad' });
  });

  it('a Blocklist feed blocks on every route, whatever the policy action', () => {
    for (const action of ['None', 'Audit', 'Block'] as const) {
      expect(setup(action)('10.0.0.5', '185.220.101.9', '/static/app.js')).toMatchObject({ verdict: 'deny', reason: 'blocklist_feed' });
      m!.stop();
    }
  });

  it('Audit: a ThreatLevel feed raises the level on sign-in routes, naming the feed under threat_feed', () => {
    const check = setup('Audit');
    const d = check('10.0.0.5', '45.155.205.2');
    expect(d).toMatchObject({ verdict: 'allow', reason: 'threat_detected', httpStatus: 200 });
    expect(d.threat).toEqual({ level: 'HIGH', detections: { threat_feed: 'HIGH' }, enforce: 'none', retryAfterSeconds: undefined, feeds: ['high', 'medium'] });
    // Off sign-in routes feed levels are not evaluated (like detector verdicts).
    expect(check('10.0.0.5', '45.155.205.2', '/home')).toMatchObject({ reason: 'allowed' });
  });

  it('Block: a HIGH feed blocks sign-in with 403; MEDIUM and LOW only inform', () => {
    const check = setup('Block');
    expect(check('10.0.0.5', '45.155.205.1')).toMatchObject({ verdict: 'deny', reason: 'threat_block', httpStatus: 403 });
    const medium = check('10.0.0.5', '45.155.205.3');
    expect(medium).toMatchObject({ verdict: 'allow', reason: 'threat_detected' });
    expect(medium.threat).toMatchObject({ level: 'MEDIUM', detections: { threat_feed: 'MEDIUM' }, enforce: 'none', feeds: ['medium'] });
    expect(check('10.0.0.5', '45.155.205.1', '/home')).toMatchObject({ reason: 'allowed' });
  });

  it('merges with the detectors: their reasons stay, the strongest enforcement wins', () => {
    // The detectors hold the client under a 42 s MEDIUM rate limit.
    const limited: DetectorFacts = { verdict: { level: 'MEDIUM', detections: { brute_force: 'MEDIUM' }, blockedUntilMs: 1_000_042_000, blockLevel: 'MEDIUM' }, account: 'NONE', nowMs: 1_000_000_000 };
    const withMedium = setup('Block', limited)('10.0.0.5', '45.155.205.3');
    expect(withMedium).toMatchObject({ verdict: 'rate_limit', httpStatus: 429, retryAfterSeconds: 42 });
    expect(withMedium.threat?.detections).toEqual({ brute_force: 'MEDIUM', threat_feed: 'MEDIUM' });
    m!.stop();
    const withHigh = setup('Block', limited)('10.0.0.5', '45.155.205.1');
    expect(withHigh).toMatchObject({ verdict: 'deny', reason: 'threat_block', httpStatus: 403 });
    expect(withHigh.threat).toMatchObject({ level: 'HIGH', detections: { brute_force: 'MEDIUM', threat_feed: 'HIGH' }, retryAfterSeconds: undefined });
  });
});
