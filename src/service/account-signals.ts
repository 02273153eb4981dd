import { AccountSources } from '../detect/accounts.ts';
import { SprayPasswords } from '../detect/spray-passwords.ts';

/**
 * The per-account and per-password detectors the Check and outcome paths share. Local to each process: in
 * Redis mode every replica learns them from the outcomes it ingests (docs/redis.md says what that costs).
 */
export interface AccountSignals {
  readonly accounts: AccountSources;
  readonly spray: SprayPasswords;
}

export function accountSignals(): AccountSignals {
  return { accounts: new AccountSources(), spray: new SprayPasswords() };
}
