import type { Address } from '../net/address.ts';
import type { CompiledPolicy } from './snapshot.ts';
import type { RequestFacts } from './decision.ts';

export type ThreatLevelName = 'NONE' | 'LOW' | 'MEDIUM' | 'HIGH';

/** The detector's view of one client at decision time. */
export interface ThreatAssessment {
  readonly level: ThreatLevelName;
  /** Okta's threatDetections: reason -> level. */
  readonly detections: Readonly<Record<string, ThreatLevelName>>;
  /** What the policy makes of it: only 'block' / 'rate_limit' when the policy action is Block. */
  readonly enforce: 'none' | 'block' | 'rate_limit';
  readonly retryAfterSeconds?: number;
  /** ThreatFeeds listing the client, when `threat_feed` is among the detections. */
  readonly feeds?: readonly string[];
}

/** Implemented by the detection engine; decide() stays free of detector internals. */
export interface ThreatAssessor {
  assess(client: Address, signIn: boolean, policy: CompiledPolicy, facts: RequestFacts): ThreatAssessment | undefined;
}

/** What threat feeds and dynamic zones say about one client (built by src/feeds/, read once per Check). */
export interface FeedMatch {
  /** A Policy DynamicZone named in the policy's exemptZones. */
  readonly exemptZone: string | undefined;
  /** A Blocklist DynamicZone. */
  readonly blockZone: string | undefined;
  /** A ThreatFeed with Blocklist semantics. */
  readonly blockFeed: string | undefined;
  /** Highest level among the ThreatLevel feeds listing the client; NONE when none does. */
  readonly threatLevel: ThreatLevelName;
  readonly threatFeeds: readonly string[];
}

export interface FeedMatcher {
  /** Synchronous and allocation-free on a miss: it runs on every Check. */
  match(client: Address): FeedMatch;
}

const RANK: Readonly<Record<ThreatLevelName, number>> = { NONE: 0, LOW: 1, MEDIUM: 2, HIGH: 3 };

/**
 * Feed membership as one more detection (reason `threat_feed`): it raises the level, and under a Block
 * policy a HIGH feed blocks (403) like a HIGH detector verdict. LOW and MEDIUM only inform (headers, event).
 */
export function withFeedThreat(threat: ThreatAssessment | undefined, feed: FeedMatch, policy: CompiledPolicy): ThreatAssessment {
  const level = threat && RANK[threat.level] >= RANK[feed.threatLevel] ? threat.level : feed.threatLevel;
  const blocks = policy.action === 'Block' && feed.threatLevel === 'HIGH';
  const enforce = blocks ? 'block' : threat?.enforce ?? 'none';
  return {
    level,
    detections: { ...threat?.detections, threat_feed: feed.threatLevel },
    enforce,
    retryAfterSeconds: enforce === threat?.enforce ? threat.retryAfterSeconds : undefined,
    feeds: feed.threatFeeds,
  };
}
