import type { Snapshot } from './snapshot.ts';
import { resolveClient, type ClientIpOptions } from './client-ip.ts';
import type { Decision, DecisionReason, RequestFacts } from './decision.ts';
import { withFeedThreat, type FeedMatcher, type ThreatAssessment, type ThreatAssessor } from './threat.ts';

/** How to answer when Portcullis cannot decide: let the request through (default) or refuse it. */
export const FAILURE_MODES = ['allow', 'deny'] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

export interface DecideOptions {
  readonly clientIp: ClientIpOptions;
  readonly failureMode: FailureMode;
  readonly newId: () => string;
  /** Threat detection; absent means zones only. */
  readonly threats?: ThreatAssessor;
  /** Threat feeds and dynamic zones; absent means none. */
  readonly feeds?: FeedMatcher;
}

/** The answer when no decision could be made. Never an exception: the transport encodes it like any other. */
export function failureDecision(reason: DecisionReason, options: Pick<DecideOptions, 'failureMode' | 'newId'>, policy = ''): Decision {
  const allow = options.failureMode === 'allow';
  return {
    id: options.newId(),
    verdict: allow ? 'allow' : 'deny',
    reason,
    httpStatus: allow ? 200 : 403,
    client: undefined,
    chain: undefined,
    signIn: false,
    policy,
  };
}

/**
 * The decision, as a function of the request, the snapshot and detector state. Order matters and mirrors
 * ThreatInsight: trusted proxies are never blocked (not even by a feed listing them); exempt zones (IP or
 * dynamic) bypass everything; blocklist zones, then Blocklist feeds, deny; then threat evaluation (sign-in
 * routes, and active blocks everywhere if the policy says so), where ThreatLevel feeds count as a detection.
 */
export function decide(facts: RequestFacts, snapshot: Snapshot, options: DecideOptions): Decision {
  const policy = snapshot.policy;
  if (!facts.peer) return failureDecision('malformed_request', options, policy.name);

  const chain = resolveClient(facts, snapshot, options.clientIp);
  const client = chain.client;
  const signIn = policy.signIn.matches(facts.method, facts.path, facts.host);
  const base = { id: options.newId(), client, chain, signIn, policy: policy.name };

  const memberships = snapshot.index.lookup(client);
  let blockZone: string | undefined;
  for (let i = 0; i < memberships.length; i++) {
    const m = memberships[i]!;
    if (m.role === 'proxy') return { ...base, verdict: 'allow', reason: 'trusted_proxy', httpStatus: 200 };
    if (m.exempt) return { ...base, verdict: 'allow', reason: 'exempt_zone', httpStatus: 200, zone: m.zone };
    if (m.usage === 'Blocklist') blockZone ??= m.zone;
  }
  const feed = options.feeds?.match(client);
  if (feed?.exemptZone !== undefined) return { ...base, verdict: 'allow', reason: 'exempt_zone', httpStatus: 200, zone: feed.exemptZone };
  blockZone ??= feed?.blockZone;
  if (blockZone !== undefined) return { ...base, verdict: 'deny', reason: 'blocklist_zone', httpStatus: 403, zone: blockZone };
  if (feed?.blockFeed !== undefined) return { ...base, verdict: 'deny', reason: 'blocklist_feed', httpStatus: 403, feed: feed.blockFeed };

  let threat: ThreatAssessment | undefined = options.threats?.assess(client, signIn, policy, facts);
  if (signIn && feed !== undefined && feed.threatLevel !== 'NONE') threat = withFeedThreat(threat, feed, policy);
  if (threat) {
    if (threat.enforce === 'block') return { ...base, verdict: 'deny', reason: 'threat_block', httpStatus: 403, threat };
    if (threat.enforce === 'rate_limit') {
      return { ...base, verdict: 'rate_limit', reason: 'threat_rate_limit', httpStatus: 429, retryAfterSeconds: threat.retryAfterSeconds, threat };
    }
    if (threat.level !== 'NONE') return { ...base, verdict: 'allow', reason: 'threat_detected', httpStatus: 200, threat };
  }
  return { ...base, verdict: 'allow', reason: 'allowed', httpStatus: 200 };
}
