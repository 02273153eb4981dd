import type { Clock } from '../clock.ts';
import type { DetectorFacts, DetectorView } from '../decide/threat.ts';
import type { ThreatLevel } from '../detect/levels.ts';
import type { Verdict } from '../detect/verdict.ts';
import { NONE_VERDICT } from '../detect/engine.ts';
import type { Address } from '../net/address.ts';
import type { DetectorStore } from '../store/store.ts';

/**
 * decide()'s read-only window onto the store's local view (never I/O). One scratch object is reused: decide()
 * reads the facts at once and keeps nothing, and the event loop runs one Check at a time.
 */
export function detectorView(store: DetectorStore, clock: Clock): DetectorView {
  const scratch: { verdict: Verdict; account: ThreatLevel; network: ThreatLevel; nowMs: number } = { verdict: NONE_VERDICT, account: 'NONE', network: 'NONE', nowMs: 0 };
  return {
    facts(client: Address, usernameHash: number | undefined): DetectorFacts {
      const engine = store.engine;
      const now = clock.nowMs();
      const key = engine.keyOfAddress(client);
      scratch.nowMs = now;
      scratch.verdict = engine.evaluate(key, now);
      scratch.account = usernameHash === undefined ? 'NONE' : engine.accountLevel(key, usernameHash);
      scratch.network = engine.networkLevel(engine.networkKeyOf(client), key, now);
      return scratch;
    },
  };
}
