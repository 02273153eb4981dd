import type { Clock } from '../clock.ts';
import type { DetectorFacts, DetectorView } from '../decide/threat.ts';
import type { ThreatLevel } from '../detect/levels.ts';
import type { Verdict } from '../detect/verdict.ts';
import { NONE_VERDICT } from '../detect/engine.ts';
import type { Address } from '../net/address.ts';
import type { DetectorStore } from '../store/store.ts';
import type { AccountSignals } from './account-signals.ts';

/**
 * decide()'s read-only window onto the store's local view (never I/O). One scratch object is reused: decide()
 * reads the facts at once and keeps nothing, and the event loop runs one Check at a time.
 */
export function detectorView(store: DetectorStore, clock: Clock, signals?: AccountSignals, asnOf?: (clientText: string) => number | undefined): DetectorView {
  const scratch = {
    verdict: NONE_VERDICT as Verdict, account: 'NONE' as ThreatLevel, network: 'NONE' as ThreatLevel,
    asn: 'NONE' as ThreatLevel, familiar: false, accountUnderAttack: false, accountGuessed: false, sprayPassword: false, sprayingSource: false, orgUnderAttack: false, proven: false, nowMs: 0,
  };
  return {
    facts(client: Address, usernameHash: number | undefined, fingerprint: number | undefined): DetectorFacts {
      const engine = store.engine;
      const now = clock.nowMs();
      const key = engine.keyOfAddress(client);
      const net = engine.networkKeyOf(client);
      scratch.nowMs = now;
      scratch.verdict = engine.evaluate(key, now);
      scratch.account = usernameHash === undefined ? 'NONE' : engine.accountLevel(key, usernameHash);
      scratch.network = engine.networkLevel(net, key, now);
      const known = signals !== undefined && usernameHash !== undefined;
      scratch.familiar = known && signals.accounts.familiar(usernameHash, net, now);
      scratch.accountUnderAttack = known && signals.accounts.underAttack(usernameHash, now);
      scratch.accountGuessed = known && signals.accounts.guessed(usernameHash, now);
      scratch.sprayPassword = signals !== undefined && fingerprint !== undefined && signals.spray.isSpray(fingerprint, now);
      scratch.sprayingSource = signals !== undefined && signals.spray.sourceSpraying(key, now);
      // The ASN lookup costs a database read: only while some ASN is at MEDIUM or above, and only for unproven IPs.
      let asn: number | undefined;
      scratch.asn = 'NONE';
      if (asnOf !== undefined && signals !== undefined && signals.asn.hot(now) && !engine.proven(key) && (asn = asnOf(client.text)) !== undefined) scratch.asn = signals.asn.level(asn, now);
      scratch.orgUnderAttack = store.org.underAttack;
      scratch.proven = scratch.orgUnderAttack && engine.proven(key);
      return scratch;
    },
  };
}
