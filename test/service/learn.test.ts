import { describe, expect, it } from 'vitest';
import { compile } from '../../src/config/compile.ts';
import { SnapshotHolder } from '../../src/config/snapshot-holder.ts';
import type { ConfigObject } from '../../src/api/objects.ts';
import type { RequestFacts } from '../../src/decide/decision.ts';
import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import type { IpKey } from '../../src/detect/ip-key.ts';
import { OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { parseAddress } from '../../src/net/address.ts';
import type { OutcomeReport } from '../../src/decide/outcome.ts';
import type { FeedMatcher } from '../../src/decide/threat.ts';
import { NO_MATCH } from '../../src/feeds/feed-index.ts';
import { Gate } from '../../src/service/check.ts';
import { AttemptCorrelator } from '../../src/service/correlator.ts';
import { detectorView } from '../../src/service/detector-view.ts';
import { Learner } from '../../src/service/learn.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { MemoryEventSink } from '../../src/telemetry/events.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';

const origin = { source: 'test' };
/** The Check service and the outcome service wired as main.ts wires them, on the memory store. */
function setup(action: 'Block' | 'Audit' = 'Block', enforceEverywhere = true, feeds?: FeedMatcher) {
  const objects: ConfigObject[] = [
    { kind: 'IPZone', name: 'lb', origin, spec: { usage: 'Policy', proxies: ['10.0.0.0/8'] } },
    { kind: 'IPZone', name: 'office', origin, spec: { usage: 'Policy', gateways: ['203.0.113.0/24'] } },
    { kind: 'ThreatPolicy', name: 'p', origin, spec: { action, exemptZones: ['office'], signIn: { routes: [{ path: { exact: '/login' } }], enforceBlocksOnAllRoutes: enforceEverywhere } } },
  ];
  const { snapshot } = compile(objects, 1, 0);
  const holder = new SnapshotHolder();
  holder.swap(snapshot);
  const clock = new ManualClock(1_800_000_000_000);
  const engine = new DetectionEngine({ clock });
  const org = new OrgAttackDetector({ clock });
  const store = new MemoryStore(engine, org);
  const correlator = new AttemptCorrelator<IpKey>();
  const seen: string[] = [];
  const threats = new Learner({
    store, correlator, clock, snapshot: () => holder.current, maxChainHops: 10, ...(feeds ? { feeds } : {}),
    observer: { outcome: (r) => seen.push(r), blockStarted: () => seen.push('block'), attack: () => undefined, clientMismatch: () => seen.push('mismatch') },
  });
  threats.applyPolicy(snapshot.policy);
  let id = 0;
  const gate = new Gate({
    holder, metrics: new Metrics(holder), events: new MemoryEventSink(), logger: createLogger('silent'), clock,
    options: { clientIp: { mode: 'xff', maxHops: 10 }, failureMode: 'allow', newId: () => String(++id), detectors: detectorView(store, clock), usernameKey: Buffer.alloc(32), ...(feeds ? { feeds } : {}) },
    attempts: { store, correlator, keyOf: (a) => engine.keyOfAddress(a) },
  });
  const check = (client: string, path = '/login', requestId?: string, username?: string) => {
    const facts: RequestFacts = {
      peer: parseAddress('10.0.0.5'), xForwardedFor: client, forwarded: undefined, envoyExternalAddress: undefined, method: 'POST', path, host: 'h', requestId, userAgent: undefined,
      ...(username ? { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=${username}&password=x` } : {}),
    };
    return gate.check(facts, 'grpc');
  };
  const keyOf = (text: string) => engine.keyOfAddress(parseAddress(text)!);
  const outcome = (o: Partial<OutcomeReport>): OutcomeReport => ({ requestId: undefined, method: 'POST', path: '/login', host: 'h', status: 401, resultHeader: undefined, clientIp: '10.0.0.5', ...o });
  return { snapshot, clock, engine, threats, seen, check, outcome, keyOf, correlator };
}

describe('the outcome path (service/learn) with the Check path (service/check)', () => {
  it('counts uncorrelated outcomes against the client behind trusted proxies', () => {
    const t = setup();
    for (let i = 0; i < 11; i++) t.threats.report(t.outcome({ forwardedFor: '198.18.0.1' }));
    expect(t.seen.filter((s) => s === 'failure')).toHaveLength(11);
    expect(t.check('198.18.0.1')).toMatchObject({ verdict: 'deny', reason: 'threat_block' });
    expect(t.check('198.18.0.2')).toMatchObject({ verdict: 'allow', reason: 'allowed' });
  });

  it('never counts the outcome of a request it denied, even without the UAEX flag', () => {
    const t = setup();
    for (let i = 0; i < 11; i++) t.threats.report(t.outcome({ forwardedFor: '198.18.0.1' }));
    const d = t.check('198.18.0.1', '/login', 'req-denied');
    expect(d.verdict).toBe('deny');
    const before = t.engine.inspect(t.keyOf('198.18.0.1'))!.counters.failuresMedium;
    t.threats.report(t.outcome({ requestId: 'req-denied', status: 403 }));
    expect(t.seen.at(-1)).toBe('ignored');
    expect(t.engine.inspect(t.keyOf('198.18.0.1'))!.counters.failuresMedium).toBe(before);
  });

  it('ignores outcomes of exempt clients, trusted proxies and non-sign-in routes', () => {
    const t = setup();
    t.threats.report(t.outcome({ forwardedFor: '203.0.113.9' }));
    t.threats.report(t.outcome({ clientIp: '10.1.1.1' }));
    t.threats.report(t.outcome({ forwardedFor: '198.18.0.3', path: '/api/orders' }));
    expect(t.seen).toEqual(['ignored', 'ignored', 'ignored']);
    expect(t.engine.trackedCount).toBe(0);
  });

  it('enforces an active block on other routes only when the policy says so', () => {
    for (const everywhere of [true, false]) {
      const t = setup('Block', everywhere);
      for (let i = 0; i < 11; i++) t.threats.report(t.outcome({ forwardedFor: '198.18.0.1' }));
      expect(t.check('198.18.0.1', '/home').verdict).toBe(everywhere ? 'deny' : 'allow');
    }
  });

  it('Audit never creates blocks but still reports the level', () => {
    const t = setup('Audit');
    for (let i = 0; i < 11; i++) t.threats.report(t.outcome({ forwardedFor: '198.18.0.1' }));
    const d = t.check('198.18.0.1');
    expect(d).toMatchObject({ verdict: 'allow', reason: 'threat_detected' });
    expect(d.threat?.level).toBe('HIGH');
    expect(t.engine.activeBlockCount).toBe(0);
  });

  it('behind a busy NAT, one account hammered from the office is refused without locking out the office', () => {
    const t = setup();
    const office = '198.51.100.50';
    let n = 0;
    // Lots of colleagues sign in fine through the same NAT...
    for (let i = 0; i < 40; i++) {
      t.check(office, '/login', `ok-${++n}`, `user${i}`);
      t.threats.report(t.outcome({ requestId: `ok-${n}`, status: 200, forwardedFor: office }));
      t.clock.advance(5_000);
    }
    // ...while one of them (or someone at their desk) keeps failing on one account.
    let refused = 0;
    for (let i = 0; i < 14; i++) {
      const d = t.check(office, '/login', `bad-${++n}`, 'mallory');
      if (d.verdict !== 'allow') {
        refused++;
        expect(d).toMatchObject({ reason: 'threat_block', httpStatus: 403 });
        expect(d.threat?.detections.account_targeted).toBe('HIGH');
      } else t.threats.report(t.outcome({ requestId: `bad-${n}`, status: 401, forwardedFor: office }));
      // Colleagues keep working throughout.
      const other = t.check(office, '/login', `ok-${++n}`, `user${i}`);
      expect(other.verdict).toBe('allow');
      t.threats.report(t.outcome({ requestId: `ok-${n}`, status: 200, forwardedFor: office }));
      t.clock.advance(5_000);
    }
    expect(refused).toBeGreaterThan(0);
    expect(t.engine.activeBlockCount).toBe(0);
  });

  it('from an IP that is not a busy NAT, hammering one account limits the whole IP', () => {
    const t = setup();
    let n = 0;
    for (let i = 0; i < 14; i++) {
      const d = t.check('198.18.5.5', '/login', `r-${++n}`, 'victim');
      if (d.verdict !== 'allow') {
        // The IP itself is limited: another account from it is refused too.
        expect(t.check('198.18.5.5', '/login', `r-${++n}`, 'someone-else').verdict).not.toBe('allow');
        expect(t.engine.activeBlockCount).toBe(1);
        return;
      }
      t.threats.report(t.outcome({ requestId: `r-${n}`, status: 401, forwardedFor: '198.18.5.5' }));
      t.clock.advance(30_000);
    }
    throw new Error('never limited');
  });

  it('ignores uncorrelated outcomes of clients in an exempt dynamic zone', () => {
    // A stand-in for the feed index answering as a Policy DynamicZone named in exemptZones would.
    const exemptDynamic: FeedMatcher = { match: (a) => (a.text === '198.18.7.7' ? { ...NO_MATCH, exemptZone: 'corp-asn' } : NO_MATCH) };
    const t = setup('Block', true, exemptDynamic);
    t.threats.report(t.outcome({ forwardedFor: '198.18.7.7' }));
    t.threats.report(t.outcome({ forwardedFor: '198.18.7.8' }));
    expect(t.seen).toEqual(['ignored', 'failure']);
  });

  describe('request ids an attacker reuses (issue 11 item 2)', () => {
    const attacker = '198.18.9.9';
    /** Four correlated failures, the attacker's next sign-in (id `shared`) allowed, then a fifth failure: MEDIUM. */
    function upToRateLimit(t: ReturnType<typeof setup>) {
      for (let i = 1; i <= 4; i++) {
        expect(t.check(attacker, '/login', `f${i}`).verdict).toBe('allow');
        t.threats.report(t.outcome({ requestId: `f${i}`, forwardedFor: attacker }));
      }
      expect(t.check(attacker, '/login', 'shared').verdict).toBe('allow');
      expect(t.check(attacker, '/login', 'f5').verdict).toBe('allow');
      t.threats.report(t.outcome({ requestId: 'f5', forwardedFor: attacker }));
    }
    const failures = (t: ReturnType<typeof setup>) => t.engine.inspect(t.keyOf(attacker))!.counters.failuresShort;

    it('a refused request reusing the id of a failed sign-in does not hide the failure', () => {
      const t = setup();
      upToRateLimit(t);
      // The refused request carries the id of the sign-in still waiting for its outcome.
      expect(t.check(attacker, '/login', 'shared')).toMatchObject({ verdict: 'rate_limit' });
      expect(t.correlator.dropped.duplicate_id).toBe(1);
      t.threats.report(t.outcome({ requestId: 'shared', forwardedFor: attacker }));
      expect(t.seen.at(-1)).toBe('failure');
      expect(failures(t)).toBe(6);
    });

    it('an allowed sign-in reusing the id of a refused request still counts its failure', () => {
      const t = setup();
      upToRateLimit(t);
      t.threats.report(t.outcome({ requestId: 'shared', forwardedFor: attacker }));
      expect(t.check(attacker, '/login', 'again').verdict).toBe('rate_limit'); // pending, denied
      t.clock.advance(61_000);
      expect(t.check(attacker, '/login', 'again').verdict).toBe('allow'); // same id, after the rate limit
      const before = t.engine.inspect(t.keyOf(attacker))!.counters.failuresMedium;
      const seenFailures = t.seen.filter((x) => x === 'failure').length;
      t.threats.report(t.outcome({ requestId: 'again', forwardedFor: attacker }));
      // (its 7th failure without a success also starts a block: bruteForceLongUnproven)
      expect(t.seen.filter((x) => x === 'failure').length).toBe(seenFailures + 1);
      expect(t.engine.inspect(t.keyOf(attacker))!.counters.failuresMedium).toBe(before + 1);
    });

    it('an outcome whose id names another client\'s Check counts for its own client, and leaves the Check pending', () => {
      const t = setup();
      const victim = '198.51.100.77';
      expect(t.check(victim, '/login', 'victim-id').verdict).toBe('allow');
      // An outcome carrying the victim's id but resolving to the attacker (a forged or colliding id).
      t.threats.report(t.outcome({ requestId: 'victim-id', forwardedFor: attacker, path: '/not-a-sign-in-route' }));
      expect(t.seen).toEqual(['mismatch', 'failure']);
      expect(failures(t)).toBe(1);
      expect(t.engine.inspect(t.keyOf(victim))?.counters.failuresShort ?? 0).toBe(0);
      // The victim's own outcome still finds its Check.
      t.threats.report(t.outcome({ requestId: 'victim-id', forwardedFor: victim, status: 200 }));
      expect(t.seen.at(-1)).toBe('success');
      expect(t.correlator.size).toBe(0);
      expect(t.engine.inspect(t.keyOf(victim))!.counters.successesMedium).toBe(1);
    });

    it('a mismatched outcome of an exempt or trusted client is ignored, as an uncorrelated one would be', () => {
      const t = setup();
      t.check('198.51.100.78', '/login', 'id-1');
      t.threats.report(t.outcome({ requestId: 'id-1', forwardedFor: '203.0.113.4' })); // office: exempt
      expect(t.seen).toEqual(['mismatch', 'ignored']);
    });

    it('trusts the correlation when the outcome names no client (webhook with only a request id)', () => {
      const t = setup();
      t.check(attacker, '/login', 'only-id');
      t.threats.report(t.outcome({ requestId: 'only-id', clientIp: undefined }));
      expect(t.seen).toEqual(['failure']);
      expect(failures(t)).toBe(1);
    });
  });
});
