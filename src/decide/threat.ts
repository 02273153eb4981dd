import type { Address } from '../net/address.ts';
import type { CompiledPolicy } from '../config/snapshot.ts';
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
}

/** Implemented by the detection engine; decide() stays free of detector internals. */
export interface ThreatAssessor {
  assess(client: Address, signIn: boolean, policy: CompiledPolicy, facts: RequestFacts): ThreatAssessment | undefined;
}
