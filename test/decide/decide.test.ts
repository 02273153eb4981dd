import { describe, expect, it } from 'vitest';
import { compile } from '../../src/config/compile.ts';
import type { ConfigObject } from '../../src/api/objects.ts';
import { decide, type DecideOptions } from '../../src/decide/decide.ts';
import type { RequestFacts } from '../../src/decide/decision.ts';
import type { DetectorView } from '../../src/decide/threat.ts';
import { parseAddress } from '../../src/net/address.ts';

const origin = { source: 'test' };
const objects: ConfigObject[] = [
  { kind: 'IPZone', name: 'lb', origin, spec: { usage: 'Policy', proxies: ['10.0.0.0/8'] } },
  { kind: 'IPZone', name: 'office', origin, spec: { usage: 'Policy', gateways: ['203.0.113.0/24'] } },
  { kind: 'IPZone', name: 'partners', origin, spec: { usage: 'Policy', gateways: ['198.51.100.0/24'] } },
  { kind: 'IPZone', name: 'bad', origin, spec: { usage: 'Blocklist', gateways: ['192.0.2.0/24', '203.0.113.7', '198.51.100.7', '10.9.9.9'] } },
  { kind: 'ThreatPolicy', name: 'p', origin, spec: { action: 'Block', exemptZones: ['office'] } },
];
const { snapshot, issues } = compile(objects, 1, 0);
let n = 0;
const options: DecideOptions = { clientIp: { mode: 'xff', maxHops: 10 }, failureMode: 'allow', newId: () => `id-${++n}` };

function facts(peer: string, xff?: string, extra: Partial<RequestFacts> = {}): RequestFacts {
  return { peer: parseAddress(peer), xForwardedFor: xff, forwarded: undefined, envoyExternalAddress: undefined, method: 'POST', path: '/login', host: 'h', requestId: undefined, userAgent: undefined, ...extra };
}

describe('decide', () => {
  it('compiles the fixture cleanly', () => expect(issues).toEqual([]));

  it('allows an unknown client and reports the resolved chain', () => {
    const d = decide(facts('10.0.0.1', '198.18.0.1'), snapshot, options);
    expect(d).toMatchObject({ verdict: 'allow', reason: 'allowed', httpStatus: 200, signIn: true, policy: 'p' });
    expect(d.client?.text).toBe('198.18.0.1');
    expect(d.chain?.chain).toEqual(['198.18.0.1', '10.0.0.1']);
  });

  it('denies blocklisted clients with 403', () => {
    expect(decide(facts('10.0.0.1', '192.0.2.3'), snapshot, options)).toMatchObject({ verdict: 'deny', reason: 'blocklist_zone', httpStatus: 403, zone: 'bad' });
  });

  it('exempt zones bypass the blocklist; non-exempt Policy zones do not', () => {
    expect(decide(facts('203.0.113.7'), snapshot, options)).toMatchObject({ verdict: 'allow', reason: 'exempt_zone', zone: 'office' });
    expect(decide(facts('198.51.100.7'), snapshot, options)).toMatchObject({ verdict: 'deny', reason: 'blocklist_zone' });
  });

  it('never blocks a trusted proxy, even one listed in a blocklist', () => {
    // All hops trusted: the leftmost is the client, and it is a proxy.
    expect(decide(facts('10.0.0.1', '10.9.9.9'), snapshot, options)).toMatchObject({ verdict: 'allow', reason: 'trusted_proxy' });
  });

  it('a missing peer is malformed and answered by the failure mode', () => {
    expect(decide(facts('nope'), snapshot, options)).toMatchObject({ verdict: 'allow', reason: 'malformed_request' });
    expect(decide(facts('nope'), snapshot, { ...options, failureMode: 'deny' })).toMatchObject({ verdict: 'deny', reason: 'malformed_request', httpStatus: 403 });
  });

  it('threat assessments become 403, 429 with Retry-After, or an audited allow', () => {
    // Detector facts that the policy (Block) turns into each enforcement: a HIGH block, a MEDIUM block, no block.
    const now = 1_000_000_000;
    const threat = (enforce: 'none' | 'block' | 'rate_limit'): DetectorView => ({
      facts: () => ({
        verdict: {
          level: enforce === 'rate_limit' ? 'MEDIUM' : 'HIGH', detections: { brute_force: 'HIGH' },
          blockedUntilMs: enforce === 'none' ? 0 : now + 30_000, blockLevel: enforce === 'block' ? 'HIGH' : enforce === 'rate_limit' ? 'MEDIUM' : 'NONE',
        },
        account: 'NONE', nowMs: now,
      }),
    });
    expect(decide(facts('198.18.0.9'), snapshot, { ...options, detectors: threat('block') })).toMatchObject({ verdict: 'deny', reason: 'threat_block', httpStatus: 403 });
    expect(decide(facts('198.18.0.9'), snapshot, { ...options, detectors: threat('rate_limit') })).toMatchObject({ verdict: 'rate_limit', httpStatus: 429, retryAfterSeconds: 30 });
    expect(decide(facts('198.18.0.9'), snapshot, { ...options, detectors: threat('none') })).toMatchObject({ verdict: 'allow', reason: 'threat_detected' });
    // Exempt zones are never evaluated.
    expect(decide(facts('203.0.113.9'), snapshot, { ...options, detectors: threat('block') })).toMatchObject({ verdict: 'allow', reason: 'exempt_zone' });
  });

  it('is pure over the snapshot: same facts, same answer', () => {
    const f = facts('10.0.0.1', '192.0.2.3, 10.1.1.1');
    const a = decide(f, snapshot, options);
    const b = decide(f, snapshot, options);
    expect({ ...a, id: '' }).toEqual({ ...b, id: '' });
  });
});
