import { describe, expect, it } from 'vitest';
import { loadEnvoyProtos, serviceDefinition } from '../../../src/adapters/grpc/protos.ts';
import { toCheckResponse } from '../../../src/adapters/grpc/check-response.ts';
import { encodeCheckResponse } from '../../../src/adapters/grpc/wire/check-response-encoder.ts';
import { DECISION_REASONS, type Answer as Verdict, type Decision, type DecisionReason } from '../../../src/decide/decision.ts';
import type { ThreatAssessment, ThreatLevel as ThreatLevelName } from '../../../src/decide/threat.ts';
import { parseAddress } from '../../../src/net/address.ts';
import { seeded } from './wire-fuzz.ts';

const check = serviceDefinition(loadEnvoyProtos(), 'envoy.service.auth.v3.Authorization')['Check']!;

function decision(over: Partial<Decision> & { verdict: Verdict; reason: DecisionReason; httpStatus: number }): Decision {
  return { id: '6f2a0d3e-5b2c-4a6b-9f1d-000000000001', client: parseAddress('198.51.100.7'), chain: undefined, signIn: true, policy: 'p', ...over };
}

const threat = (level: ThreatLevelName, enforce: ThreatAssessment['enforce'] = 'none', retryAfterSeconds?: number): ThreatAssessment =>
  ({ level, detections: { velocity: level }, enforce, retryAfterSeconds, feeds: undefined });

/** Every kind of answer the decision can give. */
function everyKind(): Array<[string, Decision, string[]]> {
  const v6 = parseAddress('2001:db8::1');
  const kinds: Array<[string, Decision, string[]]> = [
    ['allow', decision({ verdict: 'allow', reason: 'allowed', httpStatus: 200 }), []],
    ['allow, forged headers removed', decision({ verdict: 'allow', reason: 'allowed', httpStatus: 200 }), ['x-portcullis-client-ip', 'X-Portcullis-Threat-Level', 'x-portcullis-é']],
    ['allow IPv6', decision({ verdict: 'allow', reason: 'allowed', httpStatus: 200, client: v6 }), []],
    ['allow, no client (failure mode)', decision({ verdict: 'allow', reason: 'malformed_request', httpStatus: 200, client: undefined }), []],
    ['trusted proxy', decision({ verdict: 'allow', reason: 'trusted_proxy', httpStatus: 200 }), []],
    ['exempt zone', decision({ verdict: 'allow', reason: 'exempt_zone', httpStatus: 200, zone: 'office' }), []],
    ['threat detected LOW', decision({ verdict: 'allow', reason: 'threat_detected', httpStatus: 200, threat: threat('LOW') }), ['x-portcullis-threat-suspected']],
    ['threat detected MEDIUM', decision({ verdict: 'allow', reason: 'threat_detected', httpStatus: 200, threat: threat('MEDIUM') }), []],
    ['threat NONE', decision({ verdict: 'allow', reason: 'allowed', httpStatus: 200, threat: threat('NONE') }), []],
    ['blocklist zone', decision({ verdict: 'deny', reason: 'blocklist_zone', httpStatus: 403, zone: 'bad' }), []],
    ['blocklist feed', decision({ verdict: 'deny', reason: 'blocklist_feed', httpStatus: 403, feed: 'drop' }), []],
    ['threat block', decision({ verdict: 'deny', reason: 'threat_block', httpStatus: 403, threat: threat('HIGH', 'block') }), []],
    ['rate limit with retry-after', decision({ verdict: 'rate_limit', reason: 'threat_rate_limit', httpStatus: 429, retryAfterSeconds: 12.2, threat: threat('MEDIUM', 'rate_limit', 12.2) }), []],
    ['rate limit, tiny retry-after', decision({ verdict: 'rate_limit', reason: 'threat_rate_limit', httpStatus: 429, retryAfterSeconds: 0.01 }), []],
    ['rate limit without retry-after', decision({ verdict: 'rate_limit', reason: 'threat_rate_limit', httpStatus: 429 }), []],
    ['failure mode deny: malformed', decision({ verdict: 'deny', reason: 'malformed_request', httpStatus: 403, client: undefined }), []],
    ['failure mode deny: not ready', decision({ verdict: 'deny', reason: 'not_ready', httpStatus: 403, client: undefined, policy: '' }), []],
    ['failure mode deny: internal', decision({ verdict: 'deny', reason: 'internal_error', httpStatus: 403, client: undefined }), []],
    ['odd id (unicode, quotes, long)', decision({ verdict: 'deny', reason: 'blocklist_zone', httpStatus: 403, id: `é"\\${'x'.repeat(300)}😀` }), []],
    ['odd id on allow', decision({ verdict: 'allow', reason: 'allowed', httpStatus: 200, id: `中${'y'.repeat(20000)}` }), ['x-portcullis-a'.repeat(20)]],
  ];
  for (const reason of DECISION_REASONS) {
    kinds.push([`deny ${reason}`, decision({ verdict: 'deny', reason, httpStatus: 403 }), []]);
    kinds.push([`allow ${reason}`, decision({ verdict: 'allow', reason, httpStatus: 200 }), []]);
  }
  return kinds;
}

describe('pre-encoded CheckResponse answers vs proto-loader', () => {
  it('writes the same bytes as proto-loader for every kind of decision, which decode to the same object', () => {
    for (const [name, d, forged] of everyKind()) {
      const theirs = check.responseSerialize(toCheckResponse(d, forged));
      const ours = encodeCheckResponse(d, forged);
      expect(ours.toString('hex'), name).toBe(theirs.toString('hex'));
      expect(check.responseDeserialize(ours), name).toEqual(check.responseDeserialize(theirs));
    }
  });

  it('agrees on random decisions too', () => {
    const rand = seeded(99);
    const levels: ThreatLevelName[] = ['NONE', 'LOW', 'MEDIUM', 'HIGH'];
    const text = (): string => Array.from({ length: Math.floor(rand() * 40) }, () => String.fromCodePoint(rand() < 0.8 ? 32 + Math.floor(rand() * 95) : 0xa0 + Math.floor(rand() * 0x2000))).join('');
    for (let i = 0; i < 2000; i++) {
      const verdict: Verdict = rand() < 0.5 ? 'allow' : rand() < 0.5 ? 'deny' : 'rate_limit';
      const d = decision({
        verdict,
        reason: DECISION_REASONS[Math.floor(rand() * DECISION_REASONS.length)]!,
        httpStatus: verdict === 'allow' ? 200 : verdict === 'deny' ? 403 : 429,
        id: text(),
        client: rand() < 0.2 ? undefined : parseAddress(`${Math.floor(rand() * 256)}.1.2.${Math.floor(rand() * 256)}`),
        ...(rand() < 0.5 ? { threat: threat(levels[Math.floor(rand() * 4)]!) } : {}),
        ...(rand() < 0.5 ? { retryAfterSeconds: rand() * 1e5 } : {}),
      });
      const forged = Array.from({ length: Math.floor(rand() * 4) }, () => `x-portcullis-${text()}`);
      const theirs = check.responseSerialize(toCheckResponse(d, forged));
      expect(encodeCheckResponse(d, forged).equals(theirs), `case ${i}`).toBe(true);
      // Framed for node:http2: flag 0, the big-endian length, then the same bytes.
      const framed = encodeCheckResponse(d, forged, true);
      expect(framed[0], `case ${i}`).toBe(0);
      expect(framed.readUInt32BE(1), `case ${i}`).toBe(theirs.length);
      expect(framed.subarray(5).equals(theirs), `case ${i}`).toBe(true);
    }
  });
});
