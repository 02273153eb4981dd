import type { Address } from '../net/address.ts';
import type { RangeIndex } from '../net/range-index.ts';
import type { RouteMatcher } from './sign-in-routes.ts';
import type { UsernameSource } from './username.ts';
import type { OutcomeRules } from './outcome.ts';
import type { ConfigObject } from '../api/objects.ts';
import type { DetectionSettings } from '../detect/detection.ts';

/** What one address range means: the zone it came from, and in which list. */
export interface ZoneMembership {
  readonly zone: string;
  readonly role: 'gateway' | 'proxy';
  readonly usage: 'Policy' | 'Blocklist';
  /** The zone is named in the policy's exemptZones (only meaningful for gateways). */
  readonly exempt: boolean;
}

export interface ZoneSummary {
  readonly name: string;
  readonly usage: 'Policy' | 'Blocklist';
  readonly gateways: number;
  readonly proxies: number;
}

export type PolicyAction = 'None' | 'Audit' | 'Block';

export interface CompiledPolicy {
  readonly name: string;
  readonly action: PolicyAction;
  readonly exemptZones: readonly string[];
  readonly signIn: RouteMatcher;
  readonly enforceBlocksOnAllRoutes: boolean;
  readonly username: UsernameSource;
  readonly outcomes: OutcomeRules;
  readonly orgUnderAttack: boolean;
  /** Password fields to fingerprint (spec.passwordSignals); undefined: passwords are not read at all. */
  readonly passwordFields: readonly string[] | undefined;
  /** Familiar sources and account-under-attack (spec.accountProtection). */
  readonly accountProtection: boolean;
  /** Every detector setting (spec.detection, defaults filled in). */
  readonly detection: DetectionSettings;
}

/**
 * Everything the request path reads, compiled once per reload and never mutated: a request takes the current
 * snapshot once and uses it to the end, so a reload can never land half-way through a decision.
 */
export interface Snapshot {
  readonly version: number;
  readonly compiledAtMs: number;
  /**
   * The objects it was compiled from. When the zone index was built off the event loop (file reloads), IPZone
   * objects come without their `gateways`/`proxies` lists: the entries are in `index`, their counts in `zones`.
   */
  readonly objects: readonly ConfigObject[];
  readonly zones: readonly ZoneSummary[];
  readonly entryCount: number;
  readonly index: RangeIndex<ZoneMembership>;
  readonly policy: CompiledPolicy;
  /** Bound once per snapshot so the chain walk does not allocate a closure per request. */
  readonly isTrustedProxy: (a: Address) => boolean;
}
