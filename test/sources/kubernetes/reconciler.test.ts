import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/config/compile.ts';
import type { KubeObject } from '../../../src/sources/kubernetes/client.ts';
import { Reconciler } from '../../../src/sources/kubernetes/reconciler.ts';
import { desiredStatus } from '../../../src/sources/kubernetes/status.ts';
import type { FeedStatus } from '../../../src/feeds/manager.ts';
import type { Kind } from '../../../src/api/schema.ts';

let rv = 1;
function obj(kind: Kind, name: string, spec: unknown, generation = 1, ns = 'a', uid = `${ns}/${kind}/${name}`, created = '2026-01-01T00:00:00Z'): [Kind, KubeObject] {
  return [kind, { apiVersion: 'portcullis.dev/v1alpha1', kind, metadata: { name, namespace: ns, uid, resourceVersion: String(rv++), generation, creationTimestamp: created }, spec }];
}

const served = (objects: ReturnType<Reconciler['build']>) => objects.map((o) => `${o.kind}/${o.name}`).sort();

describe('reconciler: each object stands alone', () => {
  it('an invalid new generation is left out and the last good one keeps serving', () => {
    const r = new Reconciler();
    r.upsert(...obj('IPZone', 'block', { usage: 'Blocklist', gateways: ['192.0.2.0/24'] }, 1));
    r.upsert(...obj('IPZone', 'other', { usage: 'Blocklist', gateways: ['198.51.100.1'] }, 1));
    expect(served(r.build(0))).toEqual(['IPZone/block', 'IPZone/other']);

    r.upsert(...obj('IPZone', 'block', { usage: 'Blocklist', gateways: ['192.0.2.0/24', '10.0.0.300'] }, 2));
    const out = r.build(0);
    const zone = out.find((o) => o.name === 'block');
    expect(zone?.spec).toEqual({ usage: 'Blocklist', gateways: ['192.0.2.0/24'] });
    const v = r.get('a/IPZone/block')!.verdict!;
    expect(v).toMatchObject({ accepted: false, serving: 'previous', servingGeneration: 1 });
    expect(v.issues[0]).toMatchObject({ field: 'spec.gateways[1]' });
    expect(r.get('a/IPZone/other')!.verdict).toMatchObject({ accepted: true, serving: 'current' });
    expect(compile(out, 1, 0).issues).toEqual([]);
  });

  it('a schema-invalid generation keeps the previous one; a never-valid object serves nothing', () => {
    const r = new Reconciler();
    r.upsert(...obj('IPZone', 'z', { usage: 'Policy', gateways: ['203.0.113.0/24'] }, 1));
    r.build(0);
    r.upsert(...obj('IPZone', 'z', { usage: 'Sometimes' }, 2));
    r.upsert(...obj('IPZone', 'new', { usage: 'Blocklist', proxies: ['10.0.0.1'] }, 1));
    r.build(0);
    expect(r.get('a/IPZone/z')!.verdict).toMatchObject({ accepted: false, serving: 'previous' });
    expect(r.get('a/IPZone/z')!.verdict!.issues[0]).toMatchObject({ field: 'spec.usage' });
    expect(r.get('a/IPZone/new')!.verdict).toMatchObject({ accepted: false, serving: 'none' });
    // Fixed: accepted again.
    r.upsert(...obj('IPZone', 'z', { usage: 'Policy', gateways: ['203.0.113.0/25'] }, 3));
    r.build(0);
    expect(r.get('a/IPZone/z')!.verdict).toMatchObject({ accepted: true, serving: 'current', servingGeneration: 3 });
  });

  it('a status-only update is not a spec change', () => {
    const r = new Reconciler();
    const [kind, o] = obj('IPZone', 'z', { usage: 'Policy' }, 4);
    expect(r.upsert(kind, o)).toBe('spec');
    expect(r.upsert(kind, o)).toBe('none');
    expect(r.upsert(kind, { ...o, metadata: { ...o.metadata, resourceVersion: 'x' }, status: { observedGeneration: 4 } })).toBe('status');
    expect(r.upsert(kind, { ...o, metadata: { ...o.metadata, resourceVersion: 'y', generation: 5 }, spec: { usage: 'Blocklist' } })).toBe('spec');
  });

  it('one ThreatPolicy is in force (the first valid by name); the rest stand by and are not handed to compile', () => {
    const r = new Reconciler();
    r.upsert(...obj('IPZone', 'office', { usage: 'Policy', gateways: ['203.0.113.0/24'] }));
    r.upsert(...obj('ThreatPolicy', 'a-broken', { exemptZones: ['nowhere'] }));
    r.upsert(...obj('ThreatPolicy', 'b-main', { action: 'Block', exemptZones: ['office'] }));
    r.upsert(...obj('ThreatPolicy', 'c-spare', { action: 'None' }));
    const out = r.build(0);
    expect(served(out)).toEqual(['IPZone/office', 'ThreatPolicy/b-main']);
    expect(r.get('a/ThreatPolicy/a-broken')!.verdict).toMatchObject({ accepted: false, serving: 'none', inForce: false });
    expect(r.get('a/ThreatPolicy/a-broken')!.verdict!.issues[0]!.message).toContain('named "nowhere"');
    expect(r.get('a/ThreatPolicy/c-spare')!.verdict).toMatchObject({ accepted: true, inForce: false });
    expect(compile(out, 1, 0).snapshot.policy.name).toBe('b-main');
  });

  it('feeds and dynamic zones are checked alone; a policy may exempt a Policy DynamicZone', () => {
    const r = new Reconciler();
    r.upsert(...obj('ThreatFeed', 'bad-feed', { source: { inline: [{ address: 'not-an-ip' }] } }));
    r.upsert(...obj('ThreatFeed', 'good-feed', { source: { inline: [{ address: '192.0.2.7' }] }, level: 'HIGH' }));
    r.upsert(...obj('DynamicZone', 'vpn-users', { usage: 'Policy', proxyType: 'NotTorAnonymizer' }));
    r.upsert(...obj('ThreatPolicy', 'default', { exemptZones: ['vpn-users'] }));
    const out = r.build(0);
    expect(served(out)).toEqual(['DynamicZone/vpn-users', 'ThreatFeed/good-feed', 'ThreatPolicy/default']);
    expect(r.get('a/ThreatFeed/bad-feed')!.verdict).toMatchObject({ accepted: false, serving: 'none' });
    expect(r.get('a/ThreatPolicy/default')!.verdict).toMatchObject({ accepted: true, inForce: true });
    expect(compile(out, 1, 0).issues).toEqual([]);
  });

  it('objects from config files always serve, win name clashes, and may be named by Kubernetes policies', () => {
    const r = new Reconciler();
    const file = { kind: 'IPZone' as const, name: 'lb', spec: { usage: 'Policy' as const, proxies: ['10.0.0.0/16'] }, origin: { source: 'proxies.yaml' } };
    r.setStatic([file]);
    r.upsert(...obj('IPZone', 'lb', { usage: 'Policy', proxies: ['0.0.0.0/0'] }));
    r.upsert(...obj('ThreatPolicy', 'default', { exemptZones: ['lb'] }));
    const out = r.build(0);
    expect(out.find((o) => o.name === 'lb')).toBe(file);
    expect(r.get('a/IPZone/lb')!.verdict!.issues[0]).toMatchObject({ field: 'metadata.name' });
    expect(r.get('a/ThreatPolicy/default')!.verdict).toMatchObject({ accepted: true, inForce: true });
    expect(compile(out, 1, 0).issues).toEqual([]);
  });

  it('a name used in two namespaces: the older object is used, the other is refused', () => {
    const r = new Reconciler();
    r.upsert(...obj('IPZone', 'lb', { usage: 'Policy', proxies: ['10.0.0.0/8'] }, 1, 'b', undefined, '2026-02-01T00:00:00Z'));
    r.upsert(...obj('IPZone', 'lb', { usage: 'Policy', proxies: ['10.1.0.0/16'] }, 1, 'a', undefined, '2026-01-01T00:00:00Z'));
    const out = r.build(0);
    expect(out).toHaveLength(1);
    expect(out[0]!.namespace).toBe('a');
    expect(r.get('b/IPZone/lb')!.verdict!.issues[0]).toMatchObject({ field: 'metadata.name' });
  });

  it('a full list removes what is gone, only in its own scope', () => {
    const r = new Reconciler();
    r.upsert(...obj('IPZone', 'x', { usage: 'Policy' }, 1, 'a'));
    r.upsert(...obj('IPZone', 'y', { usage: 'Policy' }, 1, 'b'));
    expect(r.replace('IPZone', 'a', []).spec).toBe(true);
    expect(served(r.build(0))).toEqual(['IPZone/y']);
  });

  it('whatever mix of valid and invalid generations, the batch always compiles cleanly', () => {
    const r = new Reconciler();
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const entries = ['192.0.2.1', '198.51.100.0/24', '10.0.0.0/8', 'bogus', '1.2.3.4/40', '203.0.113.9-203.0.113.1'];
    for (let step = 0; step < 300; step++) {
      const i = Math.floor(rand() * 8);
      const gen = step + 1;
      if (rand() < 0.7) {
        const usage = rand() < 0.5 ? 'Policy' : rand() < 0.9 ? 'Blocklist' : 'Nope';
        const pick = () => entries[Math.floor(rand() * entries.length)]!;
        r.upsert(...obj('IPZone', `z${i}`, { usage, gateways: [pick()], ...(rand() < 0.3 ? { proxies: [pick()] } : {}) }, gen));
      } else if (rand() < 0.8) {
        r.upsert(...obj('ThreatPolicy', `p${i % 3}`, { action: rand() < 0.5 ? 'Block' : 'Audit', exemptZones: [`z${Math.floor(rand() * 8)}`] }, gen));
      } else {
        r.remove(`a/IPZone/z${i}`);
      }
      const out = r.build(0);
      expect(compile(out, 1, 0).issues, `step ${step}`).toEqual([]);
    }
  });

  it('exempt zones: a policy is accepted exactly when compile() accepts it against the zones that serve (IPZones and DynamicZones)', () => {
    const r = new Reconciler();
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const names = ['n0', 'n1', 'n2', 'n3', 'n4'];
    const usages = ['Policy', 'Policy', 'Blocklist'];
    // Valid and invalid versions of each kind: bad entries, proxies on a Blocklist zone, no criteria, a foreign region.
    const ipSpecs = (usage: string) => [{ usage, gateways: ['203.0.113.0/24'] }, { usage, gateways: ['bogus'] }, { usage, proxies: ['10.0.0.0/16'] }];
    const dzSpecs = (usage: string) => [{ usage, proxyType: 'NotTorAnonymizer' }, { usage, locations: [{ country: 'GB', region: 'US-CA' }] }, { usage }, { usage, asns: [64500] }];
    const accepts = { yes: 0, no: 0 };
    for (let step = 0; step < 400; step++) {
      const roll = rand();
      if (roll < 0.35) r.upsert(...obj('IPZone', pick(names), pick(ipSpecs(pick(usages))), step + 1));
      else if (roll < 0.7) r.upsert(...obj('DynamicZone', pick(names), pick(dzSpecs(pick(usages))), step + 1));
      else if (roll < 0.93) r.upsert(...obj('ThreatPolicy', pick(['p0', 'p1', 'p2']), { exemptZones: [pick([...names, 'nowhere']), ...(rand() < 0.4 ? [pick(names)] : [])] }, step + 1));
      else r.remove(`a/${pick(['IPZone', 'DynamicZone'])}/${pick(names)}`);
      const out = r.build(0);
      expect(compile(out, 1, 0).issues, `step ${step}`).toEqual([]);
      const zones = out.filter((o) => o.kind !== 'ThreatPolicy');
      for (const t of r.values()) {
        if (t.kind !== 'ThreatPolicy' || !t.current) continue;
        const byCompile = compile([...zones, t.current], 1, 0).issues.length === 0;
        expect(t.verdict!.accepted, `step ${step}: ${t.raw.metadata.name} exempting ${JSON.stringify((t.raw.spec as { exemptZones: string[] }).exemptZones)}`).toBe(byCompile);
        accepts[byCompile ? 'yes' : 'no']++;
      }
    }
    // Both outcomes were exercised, including policies that exempt only DynamicZones.
    expect(accepts.yes).toBeGreaterThan(50);
    expect(accepts.no).toBeGreaterThan(50);
  });

  it('a policy exempting a Blocklist DynamicZone is refused with a reference problem; a Policy one of the same name as an IPZone exempts both', () => {
    const r = new Reconciler();
    r.upsert(...obj('DynamicZone', 'tor', { usage: 'Blocklist', proxyType: 'Tor' }));
    r.upsert(...obj('DynamicZone', 'uk', { usage: 'Policy', locations: [{ country: 'GB' }] }));
    r.upsert(...obj('IPZone', 'uk', { usage: 'Policy', gateways: ['203.0.113.0/24'] }));
    r.upsert(...obj('ThreatPolicy', 'a', { exemptZones: ['tor'] }));
    r.upsert(...obj('ThreatPolicy', 'b', { exemptZones: ['uk'] }));
    const out = r.build(0);
    expect(r.get('a/ThreatPolicy/a')!.verdict).toMatchObject({ accepted: false, serving: 'none' });
    expect(r.get('a/ThreatPolicy/a')!.verdict!.issues[0]).toMatchObject({ field: 'spec.exemptZones[0]', message: expect.stringContaining('DynamicZone "tor" is a Blocklist zone') });
    expect(desiredStatus(r.get('a/ThreatPolicy/a')!, new Date(0), undefined)!.status.conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', reason: 'InvalidReference' }));
    expect(r.get('a/ThreatPolicy/b')!.verdict).toMatchObject({ accepted: true, inForce: true });
    const compiled = compile(out, 1, 0);
    expect(compiled.snapshot.policy.exemptZones).toEqual(['uk']);
    expect(compiled.feeds.dynamicZones.find((z) => z.name === 'uk')).toMatchObject({ exempt: true });
  });
});

describe('status', () => {
  it('a generation with thousands of bad entries gets a bounded condition and Event: the first 20, then the count (issue 11 item 14)', () => {
    const r = new Reconciler();
    r.upsert(...obj('IPZone', 'z', { usage: 'Blocklist', gateways: ['192.0.2.1'] }, 1));
    r.build(0);
    r.upsert(...obj('IPZone', 'z', { usage: 'Blocklist', gateways: ['192.0.2.1', ...Array.from({ length: 5000 }, (_, i) => `bad-${i}-${'x'.repeat(80)}`)] }, 2));
    r.build(0);
    const d = desiredStatus(r.get('a/IPZone/z')!, new Date(0), undefined)!;
    const accepted = (d.status.conditions as Array<{ type: string; message: string }>).find((c) => c.type === 'Accepted')!;
    expect(accepted.message.length).toBeLessThanOrEqual(4100);
    expect(accepted.message).toContain('spec.gateways[1]');
    expect(accepted.message).toContain('… and 4980 more');
    expect(accepted.message).not.toContain('spec.gateways[21]');
    expect(d.event!.message.length).toBeLessThanOrEqual(1000);
  });

  it('conditions name the bad field; a repeat is a no-op; an Event only on the transition', () => {
    const r = new Reconciler();
    r.upsert(...obj('IPZone', 'z', { usage: 'Blocklist', gateways: ['192.0.2.1'] }, 1));
    r.build(0);
    r.upsert(...obj('IPZone', 'z', { usage: 'Blocklist', gateways: ['192.0.2.1', 'oops'] }, 2));
    r.build(0);
    const t = r.get('a/IPZone/z')!;
    const d = desiredStatus(t, new Date(0), undefined)!;
    const conds = d.status.conditions as Array<{ type: string; status: string; reason: string; message: string }>;
    expect(conds.find((c) => c.type === 'Accepted')).toMatchObject({ status: 'False', reason: 'InvalidEntry' });
    expect(conds.find((c) => c.type === 'Accepted')!.message).toContain('spec.gateways[1]');
    expect(conds.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'ServingPreviousGeneration' });
    expect(d.status).toMatchObject({ observedGeneration: 2, entries: 1, gateways: 1 });
    expect(d.event).toMatchObject({ type: 'Warning', reason: 'InvalidEntry' });
    t.raw = { ...t.raw, status: d.status };
    expect(desiredStatus(t, new Date(5000), undefined)).toBeUndefined();
    // Conditions of other types (a feed's, say) are kept.
    t.raw = { ...t.raw, status: { ...d.status, conditions: [...conds, { type: 'Refreshed', status: 'True', reason: 'Fetched', message: '', lastTransitionTime: 'x' }] } };
    expect(desiredStatus(t, new Date(5000), undefined)).toBeUndefined();
  });

  it('a feed: Ready follows the last read, the overlap warning comes and goes, a repeat is a no-op', () => {
    const r = new Reconciler();
    r.upsert(...obj('ThreatFeed', 'f', { source: { http: { url: 'https://feeds.example/list' } } }));
    r.build(0);
    const t = r.get('a/ThreatFeed/f')!;
    const base: FeedStatus = {
      name: 'f', source: 'http', format: 'plain', semantics: 'ThreatLevel', level: 'HIGH', ready: true, serving: true, entries: 3, badLines: 1,
      badLineSamples: [], lastResult: 'ok', lastRefreshTime: '2026-08-05T10:00:00.123Z', lastSuccessTime: '2026-08-05T10:00:00.123Z', consecutiveFailures: 0,
      sensitiveOverlaps: { counts: { private: 1, bogon: 0, protected: 0 }, examples: [{ entry: '10.0.0.0/8', overlaps: '10.0.0.0/8', kind: 'private' }] },
    };
    const cond = (s: Record<string, unknown>, type: string) => (s.conditions as Array<{ type: string; status: string; reason: string; message: string }>).find((c) => c.type === type);
    let d = desiredStatus(t, new Date(0), undefined, { feed: base })!;
    expect(d.status).toMatchObject({ entries: 3, badLines: 1, lastRefreshTime: '2026-08-05T10:00:00Z' });
    expect(cond(d.status, 'Ready')).toMatchObject({ status: 'True', reason: 'Serving' });
    expect(cond(d.status, 'SensitiveOverlap')).toMatchObject({ status: 'True', reason: 'OverlapsReservedRanges' });
    t.raw = { ...t.raw, status: d.status };
    expect(desiredStatus(t, new Date(5000), undefined, { feed: { ...base, consecutiveFailures: 0, lastRefreshTime: '2026-08-05T10:00:00.456Z' } })).toBeUndefined();

    const failed: FeedStatus = { ...base, ready: false, lastResult: 'timeout', lastError: 'no complete answer within 30000 ms', consecutiveFailures: 1, sensitiveOverlaps: { counts: { private: 0, bogon: 0, protected: 0 }, examples: [] } };
    d = desiredStatus(t, new Date(5000), undefined, { feed: failed })!;
    expect(cond(d.status, 'Ready')).toMatchObject({ status: 'False', reason: 'RefreshFailed' });
    expect(cond(d.status, 'Ready')!.message).toBe('last read failed (timeout): no complete answer within 30000 ms; the contents read at 2026-08-05T10:00:00Z keep serving');
    expect(cond(d.status, 'SensitiveOverlap')).toBeUndefined();
    expect(cond(d.status, 'Accepted')).toMatchObject({ status: 'True' });
    t.raw = { ...t.raw, status: d.status };
    // The same failure again (one more consecutive failure) changes nothing a user sees.
    expect(desiredStatus(t, new Date(9000), undefined, { feed: { ...failed, consecutiveFailures: 2 } })).toBeUndefined();
  });
});
