import type { Address } from '../net/address.ts';
import type { ChainResult } from '../net/chain.ts';
import type { ThreatAssessment } from './threat.ts';

export const VERDICTS = ['allow', 'deny', 'rate_limit'] as const;
/** What the transport answers. (The detectors' own Verdict, in detect/verdict.ts, is their view of one client.) */
export type Answer = (typeof VERDICTS)[number];

/** Why a check was answered as it was. A closed set: it is a metric label and a documented event field. */
export const DECISION_REASONS = [
  'allowed', // nothing matched
  'trusted_proxy', // the resolved client is itself a trusted proxy: never blocked
  'exempt_zone', // client in an exempt Policy zone
  'blocklist_zone', // client in a Blocklist zone (IPZone or DynamicZone)
  'blocklist_feed', // client listed by a ThreatFeed with Blocklist semantics
  'threat_detected', // a threat was detected but the policy does not enforce (None / Audit)
  'threat_block', // blocked by a HIGH threat level or an active block
  'threat_rate_limit', // rate-limited by a MEDIUM threat level
  'malformed_request', // the request lacks what is needed to decide (answered by the failure mode)
  'internal_error', // an unexpected failure (answered by the failure mode)
  'not_ready', // no config loaded yet (answered by the failure mode)
] as const;
export type DecisionReason = (typeof DECISION_REASONS)[number];

/** What the request path knows about one request, independent of the transport that carried it. */
export interface RequestFacts {
  /** Direct L4 peer (Envoy's source.address); undefined when missing or not an IP. */
  readonly peer: Address | undefined;
  readonly xForwardedFor: string | undefined;
  readonly forwarded: string | undefined;
  readonly envoyExternalAddress: string | undefined;
  readonly method: string;
  /** :path including the query string. */
  readonly path: string;
  readonly host: string;
  readonly requestId: string | undefined;
  readonly userAgent: string | undefined;
  /**
   * Request headers, lower-case keys. decide() reads content-type and the policy's username header from it; a
   * transport may give only HEADERS_READ and that header (the gRPC decoder does), or all of them.
   */
  readonly headers?: Readonly<Record<string, string>>;
  /** Request body as Envoy sent it with with_request_body (sign-in routes only, usually). */
  readonly body?: string;
}

export interface Decision {
  /** Event / decision id, given to the client in denials and to the upstream in allows. */
  readonly id: string;
  readonly verdict: Answer;
  readonly reason: DecisionReason;
  /** 200 for allows; 403 or 429 for denials. */
  readonly httpStatus: number;
  /** Seconds, for 429 answers. */
  readonly retryAfterSeconds?: number;
  readonly client: Address | undefined;
  readonly chain: ChainResult | undefined;
  /** The zone that decided (exempt or blocklist), if any. */
  readonly zone?: string;
  /** The Blocklist ThreatFeed that decided (reason blocklist_feed). */
  readonly feed?: string;
  readonly signIn: boolean;
  readonly policy: string;
  readonly threat?: ThreatAssessment;
  /** Keyed hash of the sign-in's username, when threat evaluation ran and found one (for the attempt record). */
  readonly usernameHash?: number;
  /** 20-bit keyed password fingerprint (decide/password.ts), when the policy reads passwords; never the password. */
  readonly passwordFingerprint?: number;
}

/** Every header the facts above and decide() read, besides the policy's own username header. */
export const HEADERS_READ: readonly string[] = Object.freeze([
  'x-forwarded-for', 'forwarded', 'x-envoy-external-address', ':method', ':path', ':authority', 'host', 'x-request-id',
  'user-agent', 'content-type',
]);

/** Facts of a request that could not be read: decide() answers it as malformed_request (the failure mode). */
export const MALFORMED_FACTS: RequestFacts = Object.freeze({
  peer: undefined, xForwardedFor: undefined, forwarded: undefined, envoyExternalAddress: undefined,
  method: '', path: '', host: '', requestId: undefined, userAgent: undefined,
});
