import type { Address } from '../net/address.ts';
import type { Snapshot } from './snapshot.ts';
import type { FeedMatch } from './threat.ts';

/** Why a client bypasses Portcullis entirely. */
export interface Exemption {
  readonly reason: 'trusted_proxy' | 'exempt_zone';
  readonly zone: string | undefined;
}

const TRUSTED_PROXY: Exemption = Object.freeze({ reason: 'trusted_proxy', zone: undefined });
const exemptions = new Map<string, Exemption>();

/**
 * The one exemption rule, for the Check path and the outcome path alike: a resolved client that is itself a
 * trusted proxy is never evaluated (not even by a feed listing it); a client in an exempt zone (IP or dynamic)
 * bypasses everything. Interned answers: nothing is allocated per call.
 */
export function exemptionOf(client: Address, snapshot: Snapshot, feed: FeedMatch | undefined): Exemption | undefined {
  const memberships = snapshot.index.lookup(client);
  for (let i = 0; i < memberships.length; i++) {
    const m = memberships[i]!;
    if (m.role === 'proxy') return TRUSTED_PROXY;
    if (m.exempt) return exemption(m.zone);
  }
  return feed?.exemptZone !== undefined ? exemption(feed.exemptZone) : undefined;
}

function exemption(zone: string): Exemption {
  let e = exemptions.get(zone);
  if (e === undefined) {
    if (exemptions.size > 10_000) exemptions.clear(); // zone names come from config: bounded in practice
    e = Object.freeze({ reason: 'exempt_zone' as const, zone });
    exemptions.set(zone, e);
  }
  return e;
}
