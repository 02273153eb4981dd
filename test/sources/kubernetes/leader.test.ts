import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/telemetry/logger.ts';
import type { KubeApi } from '../../../src/sources/kubernetes/client.ts';
import { condition, ipzone, NS, policy, startCluster, until, zoneNames, type Cluster, type Replica } from './harness.ts';

let cluster: Cluster | undefined;
afterEach(async () => { await cluster?.close(); cluster = undefined; });

/** The real client, counting status writes and able to cut this replica off from the API server (a partition). */
function instrumented(api: KubeApi) {
  const state = { statusWrites: 0, events: 0, partitioned: false };
  const cut = <T>(f: () => Promise<T>) => (state.partitioned ? Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) : f());
  const wrapped: KubeApi = {
    list: (...a) => cut(() => api.list(...a)),
    watch: (...a) => api.watch(...a),
    replaceStatus: (...a) => cut(() => { state.statusWrites++; return api.replaceStatus(...a); }),
    createEvent: (...a) => cut(() => { state.events++; return api.createEvent(...a); }),
    readLease: (...a) => cut(() => api.readLease(...a)),
    createLease: (...a) => cut(() => api.createLease(...a)),
    replaceLease: (...a) => cut(() => api.replaceLease(...a)),
  };
  return { api: wrapped, state };
}

function twoReplicas(c: Cluster) {
  const a = instrumented(c.api);
  const b = instrumented(c.api);
  const ra = c.replica('replica-a', { api: a.api });
  const rb = c.replica('replica-b', { api: b.api });
  return { ra, rb, a: a.state, b: b.state };
}

const leaders = (...rs: Replica[]) => rs.filter((r) => r.source.isLeader);
const events = (c: Cluster, name: string) => c.server.list('Event', NS).filter((e) => (e.involvedObject as { name: string }).name === name);

describe('status, Events and leader election', () => {
  it('an object with 5000 bad entries: its log line, condition and Event list the first 20 and count the rest (issue 11 item 14)', async () => {
    cluster = await startCluster();
    const bad = Array.from({ length: 5000 }, (_, i) => `not-an-ip-${i}`);
    cluster.server.apply(ipzone('huge', { usage: 'Blocklist', gateways: bad }));
    const lines: string[] = [];
    const logger = createLogger('info', new Writable({ write(c: Buffer, _e, done) { lines.push(...c.toString('utf8').split('\n').filter(Boolean)); done(); } }));
    const r = cluster.replica('solo', { logger });
    await r.started;
    const accepted = await until(() => {
      const c = condition(cluster!.server.get('IPZone', NS, 'huge'), 'Accepted');
      return c?.status === 'False' ? c : undefined;
    }, 5000, 'Accepted=False');
    expect(accepted.message).toContain('not-an-ip-0');
    expect(accepted.message).toMatch(/… and 4980 more$/);
    expect(accepted.message.length).toBeLessThan(4100);
    const line = await until(() => lines.find((l) => l.includes('kubernetes: object rejected')), 3000, 'log line');
    expect(line.length).toBeLessThan(20_000);
    expect(JSON.parse(line)).toMatchObject({ name: 'huge', issueCount: 5000 });
    expect(JSON.parse(line).issues).toHaveLength(21);
    const warning = await until(() => events(cluster!, 'huge')[0], 3000, 'Event');
    expect(String(warning.message).length).toBeLessThanOrEqual(1024);
  });

  it('an invalid object gets Accepted=False naming the field and a Warning Event; others and its last good version keep serving', async () => {
    cluster = await startCluster();
    cluster.server.apply(ipzone('attackers', { usage: 'Blocklist', gateways: ['192.0.2.0/24'] }));
    cluster.server.apply(ipzone('office', { usage: 'Policy', gateways: ['203.0.113.0/24'] }));
    cluster.server.apply(policy('default', { action: 'Block', exemptZones: ['office'] }));
    const r = cluster.replica('solo');
    await r.started;
    await until(() => condition(cluster!.server.get('IPZone', NS, 'attackers'), 'Ready')?.status === 'True'
      && condition(cluster!.server.get('ThreatPolicy', NS, 'default'), 'Ready')?.status === 'True', 3000, 'Ready=True');
    expect(cluster.server.get('IPZone', NS, 'attackers')!.status).toMatchObject({ observedGeneration: 1, entries: 1, gateways: 1, proxies: 0 });
    expect(cluster.server.get('ThreatPolicy', NS, 'default')!.status).toMatchObject({ inForce: true });

    // Generation 2 has a bad entry: left out, generation 1 keeps blocking.
    cluster.server.apply(ipzone('attackers', { usage: 'Blocklist', gateways: ['192.0.2.0/24', '198.51.100.0/33'] }));
    await until(() => condition(cluster!.server.get('IPZone', NS, 'attackers'), 'Accepted')?.status === 'False', 3000, 'Accepted=False');
    const z = cluster.server.get('IPZone', NS, 'attackers')!;
    expect(condition(z, 'Accepted')).toMatchObject({ reason: 'InvalidEntry', observedGeneration: 2 });
    expect(condition(z, 'Accepted')!.message).toContain('spec.gateways[1]');
    expect(condition(z, 'Ready')).toMatchObject({ status: 'False', reason: 'ServingPreviousGeneration' });
    expect(zoneNames(r)).toEqual(['attackers', 'office']);
    const served = r.holder.current!.objects.find((o) => o.name === 'attackers')!;
    expect(served.spec).toEqual({ usage: 'Blocklist', gateways: ['192.0.2.0/24'] });
    await until(() => events(cluster!, 'attackers').length === 1, 3000, 'event');
    expect(events(cluster, 'attackers')[0]).toMatchObject({ type: 'Warning', reason: 'InvalidEntry', involvedObject: { kind: 'IPZone', namespace: NS } });

    // A brand-new invalid object serves nothing and disturbs nothing.
    cluster.server.apply(ipzone('typo', { usage: 'Blocklist', proxies: ['10.0.0.1'] }));
    await until(() => condition(cluster!.server.get('IPZone', NS, 'typo'), 'Ready')?.reason === 'NotServing', 3000);
    expect(zoneNames(r)).toEqual(['attackers', 'office']);
    expect(r.holder.current!.policy).toMatchObject({ name: 'default', action: 'Block' });

    // Fixed: accepted, a Normal event, and no more writes once the status says so.
    cluster.server.apply(ipzone('attackers', { usage: 'Blocklist', gateways: ['192.0.2.0/24', '198.51.100.0/24'] }));
    await until(() => condition(cluster!.server.get('IPZone', NS, 'attackers'), 'Ready')?.status === 'True' && r.source.statusIdle, 3000);
    expect(events(cluster, 'attackers').map((e) => e.reason).sort()).toEqual(['InvalidEntry', 'Valid']);
    const writes = cluster.server.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('/status')).length;
    await new Promise((res) => setTimeout(res, 300));
    expect(cluster.server.requests.filter((q) => q.method === 'PUT' && q.path.endsWith('/status')).length).toBe(writes);
  });

  it('with two replicas only the leader writes status and Events; both serve the same snapshot', async () => {
    cluster = await startCluster();
    cluster.server.apply(ipzone('bad', { usage: 'Nope' }));
    const { ra, rb, a, b } = twoReplicas(cluster);
    await Promise.all([ra.started, rb.started]);
    await until(() => leaders(ra, rb).length === 1 && condition(cluster!.server.get('IPZone', NS, 'bad'), 'Accepted'), 3000);
    cluster.server.apply(ipzone('good', { usage: 'Blocklist', gateways: ['192.0.2.1'] }));
    await until(() => zoneNames(ra).includes('good') && zoneNames(rb).includes('good') && condition(cluster!.server.get('IPZone', NS, 'good'), 'Ready'), 3000);
    await until(() => events(cluster!, 'bad').length === 1, 3000);
    const [leader, follower] = ra.source.isLeader ? [a, b] : [b, a];
    expect(leader.statusWrites).toBeGreaterThanOrEqual(2);
    expect(follower.statusWrites).toBe(0);
    expect(follower.events).toBe(0);
    const lease = cluster.server.get('Lease', NS, 'portcullis')!;
    expect((lease.spec as { holderIdentity: string }).holderIdentity).toBe(ra.source.isLeader ? 'replica-a' : 'replica-b');
    // The API server only takes MicroTime with six fractional digits.
    expect((lease.spec as { renewTime: string }).renewTime).toMatch(/\.\d{6}Z$/);
    // Org Under Attack: the leader records it, a follower does not.
    const [lr, fr] = ra.source.isLeader ? [ra, rb] : [rb, ra];
    cluster.server.apply(policy('default', { action: 'Audit' }));
    await until(() => lr.source.reconciler.size === 3 && fr.source.reconciler.size === 3, 3000);
    expect(await fr.source.orgUnderAttack('default', 'start', 'test')).toBe(false);
    expect(await lr.source.orgUnderAttack('default', 'start', 'failures 40x baseline')).toBe(true);
    await until(() => (cluster!.server.get('ThreatPolicy', NS, 'default')!.status as { orgUnderAttack?: { state: string } } | undefined)?.orgUnderAttack?.state === 'UnderAttack', 3000);
    expect(events(cluster, 'default').map((e) => e.reason)).toContain('OrgUnderAttackStarted');
  });

  it('a leader renews its lease and keeps leading well past the renew deadline', async () => {
    cluster = await startCluster();
    const r = cluster.replica('solo');
    await r.started;
    await until(() => r.source.isLeader, 3000, 'leading');
    const first = cluster.server.get('Lease', NS, 'portcullis')!.spec as { acquireTime: string; renewTime: string };
    await new Promise((res) => setTimeout(res, 2000)); // 2.5× the test renew deadline (0.8 s)
    expect(r.source.isLeader).toBe(true);
    const later = cluster.server.get('Lease', NS, 'portcullis')!.spec as { acquireTime: string; renewTime: string; leaseTransitions: number };
    expect(later.renewTime > first.renewTime).toBe(true);
    expect(later).toMatchObject({ acquireTime: first.acquireTime, leaseTransitions: 0 });
  });

  it('a leader cut off from the API server steps down and the other replica takes over', async () => {
    cluster = await startCluster();
    cluster.server.apply(ipzone('z', { usage: 'Policy' }));
    const { ra, rb, a, b } = twoReplicas(cluster);
    await Promise.all([ra.started, rb.started]);
    await until(() => leaders(ra, rb).length === 1, 3000);
    const [oldLeader, oldState, next, nextState] = ra.source.isLeader ? [ra, a, rb, b] : [rb, b, ra, a];
    const t0 = performance.now();
    oldState.partitioned = true;
    await until(() => !oldLeader.source.isLeader, 3000, 'old leader steps down');
    await until(() => next.source.isLeader, 5000, 'new leader');
    const failover = performance.now() - t0;
    console.log(`failover after partition: ${failover.toFixed(0)} ms (lease 1.2 s, renew deadline 0.8 s)`);
    expect(leaders(ra, rb)).toEqual([next]);
    // The new leader writes status.
    const before = nextState.statusWrites;
    cluster.server.apply(ipzone('z', { usage: 'Policy', gateways: ['203.0.113.1'] }));
    await until(() => nextState.statusWrites > before && (cluster!.server.get('IPZone', NS, 'z')!.status as { observedGeneration?: number }).observedGeneration === 2, 3000);
    // The old one never wrote while cut off, and keeps serving checks from its snapshot.
    expect(oldLeader.holder.ready).toBe(true);
  });

  it('a leader that stops releases the lease so the other takes over at once', async () => {
    cluster = await startCluster();
    const { ra, rb } = twoReplicas(cluster);
    await Promise.all([ra.started, rb.started]);
    await until(() => leaders(ra, rb).length === 1, 3000);
    const [oldLeader, next] = ra.source.isLeader ? [ra, rb] : [rb, ra];
    const t0 = performance.now();
    await oldLeader.source.stopAndRelease();
    await until(() => next.source.isLeader, 3000);
    const takeover = performance.now() - t0;
    console.log(`takeover after release: ${takeover.toFixed(0)} ms`);
    expect(takeover).toBeLessThan(1000);
    const lease = cluster.server.get('Lease', NS, 'portcullis')!.spec as { leaseTransitions: number };
    expect(lease.leaseTransitions).toBeGreaterThanOrEqual(1);
  });
});
