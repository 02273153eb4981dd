import type { Address } from '../net/address.ts';
import type { ChainResult } from '../net/chain.ts';
import { resolveClient, type ClientIpOptions } from './client-ip.ts';
import type { Answer, Decision, DecisionReason, RequestFacts } from './decision.ts';
import { exemptionOf } from './exempt.ts';
import type { Snapshot } from './snapshot.ts';
import { assessThreat, withFeedThreat, type DetectorView, type FeedMatcher, type ThreatAssessment } from './threat.ts';
import { passwordFingerprint } from './password.ts';
import { readSignInFields, usernameHash } from './username.ts';

/** How to answer when Portcullis cannot decide: let the request through (default) or refuse it. */
export const FAILURE_MODES = ['allow', 'deny'] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

export interface DecideOptions {
  readonly clientIp: ClientIpOptions;
  readonly failureMode: FailureMode;
  readonly newId: () => string;
  /** Detector state, read-only; absent means zones and feeds only. */
  readonly detectors?: DetectorView;
  /** Threat feeds and dynamic zones; absent means none. */
  readonly feeds?: FeedMatcher;
  /** Key of the username hash (sign-in routes); absent means accounts are not told apart. */
  readonly usernameKey?: Buffer;
}

/** The answer when no decision could be made. Never an exception: the transport encodes it like any other. */
export function failureDecision(reason: DecisionReason, options: Pick<DecideOptions, 'failureMode' | 'newId'>, policy = ''): Decision {
  const allow = options.failureMode === 'allow';
  return answer(options.newId(), allow ? 'allow' : 'deny', reason, allow ? 200 : 403, undefined, undefined, undefined, false, policy);
}

/**
 * The decision: a pure function of the request, the snapshot, feed membership and detector facts. Order matters
 * and mirrors ThreatInsight: trusted proxies are never blocked (not even by a feed listing them); exempt zones
 * (IP or dynamic) bypass everything; blocklist zones, then Blocklist feeds, deny; then threat evaluation
 * (sign-in routes, and active blocks everywhere if the policy says so), where ThreatLevel feeds count as a
 * detection. The username hash is computed here, once, and carried in the Decision for the attempt record.
 */
export function decide(facts: RequestFacts, snapshot: Snapshot, options: DecideOptions): Decision {
  const policy = snapshot.policy;
  if (!facts.peer) return failureDecision('malformed_request', options, policy.name);

  const chain = resolveClient(facts, snapshot, options.clientIp);
  const client = chain.client;
  const signIn = policy.signIn.matches(facts.method, facts.path, facts.host);
  const id = options.newId();
  const name = policy.name;

  const feed = options.feeds?.match(client);
  const exemption = exemptionOf(client, snapshot, feed);
  if (exemption) return answer(id, 'allow', exemption.reason, 200, client, chain, undefined, signIn, name, exemption.zone);

  let blockZone: string | undefined;
  const memberships = snapshot.index.lookup(client);
  for (let i = 0; i < memberships.length; i++) if (memberships[i]!.usage === 'Blocklist') { blockZone = memberships[i]!.zone; break; }
  blockZone ??= feed?.blockZone;
  if (blockZone !== undefined) return answer(id, 'deny', 'blocklist_zone', 403, client, chain, undefined, signIn, name, blockZone);
  if (feed?.blockFeed !== undefined) return answer(id, 'deny', 'blocklist_feed', 403, client, chain, undefined, signIn, name, undefined, feed.blockFeed);

  let hash: number | undefined;
  let fingerprint: number | undefined;
  if (signIn && options.usernameKey) {
    const read = readSignInFields(policy.username, facts.headers ?? NO_HEADERS, facts.body, policy.passwordFields);
    if (read.username !== undefined) hash = usernameHash(options.usernameKey, read.username);
    if (read.password !== undefined) fingerprint = passwordFingerprint(options.usernameKey, read.password);
    read.password = undefined;
  }
  let threat: ThreatAssessment | undefined;
  if (options.detectors && (signIn || policy.enforceBlocksOnAllRoutes)) {
    const f = options.detectors.facts(client, hash, fingerprint);
    threat = assessThreat(f, signIn, policy, f.nowMs);
  }
  if (signIn && feed !== undefined && feed.threatLevel !== 'NONE') threat = withFeedThreat(threat, feed, policy);
  if (threat) {
    if (threat.enforce === 'block') return answer(id, 'deny', 'threat_block', 403, client, chain, threat, signIn, name, undefined, undefined, undefined, hash, fingerprint);
    if (threat.enforce === 'rate_limit') return answer(id, 'rate_limit', 'threat_rate_limit', 429, client, chain, threat, signIn, name, undefined, undefined, threat.retryAfterSeconds, hash, fingerprint);
    if (threat.level !== 'NONE') return answer(id, 'allow', 'threat_detected', 200, client, chain, threat, signIn, name, undefined, undefined, undefined, hash, fingerprint);
  }
  return answer(id, 'allow', 'allowed', 200, client, chain, threat, signIn, name, undefined, undefined, undefined, hash, fingerprint);
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Every Decision has the same shape (one hidden class): an explicit literal, no spread. */
function answer(
  id: string, verdict: Answer, reason: DecisionReason, httpStatus: number, client: Address | undefined, chain: ChainResult | undefined,
  threat: ThreatAssessment | undefined, signIn: boolean, policy: string, zone?: string, feed?: string, retryAfterSeconds?: number, usernameHash?: number,
  passwordFingerprint?: number,
): Decision {
  return { id, verdict, reason, httpStatus, retryAfterSeconds, client, chain, zone, feed, signIn, policy, threat, usernameHash, passwordFingerprint };
}
