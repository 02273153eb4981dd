import { AccountSources } from '../detect/accounts.ts';
import { SprayPasswords } from '../detect/spray-passwords.ts';
import { AsnAggregates } from '../detect/asn.ts';

/**
 * The per-account and per-password detectors the Check and outcome paths share, in each process's memory. In
 * Redis mode every replica applies every replica's events (DetectorStore.shareSignal, docs/redis.md), so they
 * agree; the ASN aggregate stays per process.
 */
export interface AccountSignals {
  readonly accounts: AccountSources;
  readonly spray: SprayPasswords;
  /** Failures per ASN, fed only when an ASN database answers (LearnDeps.asnOf). */
  readonly asn: AsnAggregates;
}

export function accountSignals(): AccountSignals {
  return { accounts: new AccountSources(), spray: new SprayPasswords(), asn: new AsnAggregates() };
}
