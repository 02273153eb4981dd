import { describe, expect, it } from 'vitest';
import { SprayPasswords } from '../../src/detect/spray-passwords.ts';

const MIN = 60_000;
const T0 = 1_800_000_000_000;
const FP = 0x100000 | 1234;

describe('SprayPasswords', () => {
  it('a fingerprint failing on `accounts` distinct accounts within the window is a spray password', () => {
    const s = new SprayPasswords({ accounts: 3, windowMs: 10 * MIN, holdMs: 60 * MIN });
    expect(s.recordFailure(FP, 1, 11, T0)).toBe(false);
    expect(s.recordFailure(FP, 1, 12, T0 + 1)).toBe(false); // same account again
    expect(s.recordFailure(FP, 2, 13, T0 + 2)).toBe(false);
    expect(s.isSpray(FP, T0 + 3)).toBe(false);
    expect(s.recordFailure(FP, 3, 14, T0 + 3)).toBe(true);
    expect(s.isSpray(FP, T0 + 4)).toBe(true);
    expect(s.isSpray(FP + 1, T0 + 4)).toBe(false);
    expect(s.isSpray(FP, T0 + 61 * MIN)).toBe(false);
  });

  it('marks every source that fails with a spray password, from then on only', () => {
    const s = new SprayPasswords({ accounts: 2 });
    s.recordFailure(FP, 1, 11, T0);
    s.recordFailure(FP, 2, 12, T0 + 1);
    expect(s.sourceSpraying(11, T0 + 2)).toBe(false); // before the password was known
    expect(s.sourceSpraying(12, T0 + 2)).toBe(true);
    s.recordFailure(FP, 9, 99, T0 + 3);
    expect(s.sourceSpraying(99, T0 + 4)).toBe(true);
  });

  it('accounts spread wider than the window do not add up', () => {
    const s = new SprayPasswords({ accounts: 3, windowMs: 10 * MIN });
    for (let i = 0; i < 10; i++) s.recordFailure(FP, i, i, T0 + i * 11 * MIN);
    expect(s.isSpray(FP, T0 + 100 * MIN)).toBe(false);
  });

  it('is bounded in fingerprints and marked sources', () => {
    const s = new SprayPasswords({ accounts: 1, maxFingerprints: 4, maxSources: 5 });
    for (let i = 0; i < 100; i++) s.recordFailure(FP + i, i, i, T0);
    expect(s.fingerprints).toBe(4);
    expect(s.markedSources).toBe(5);
    expect(s.isSpray(FP + 99, T0)).toBe(true);
    expect(s.isSpray(FP, T0)).toBe(false);
  });
});

describe('SprayPasswords, aggressive (Org Under Attack declared)', () => {
  it('needs aggressiveAccounts distinct accounts instead of accounts', () => {
    const s = new SprayPasswords({ accounts: 5, aggressiveAccounts: 2 });
    expect(s.recordFailure(FP, 1, 11, T0, true)).toBe(false);
    expect(s.recordFailure(FP, 2, 12, T0 + 1, true)).toBe(true);
    const calm = new SprayPasswords({ accounts: 5, aggressiveAccounts: 2 });
    calm.recordFailure(FP, 1, 11, T0);
    expect(calm.recordFailure(FP, 2, 12, T0 + 1)).toBe(false);
  });
});
