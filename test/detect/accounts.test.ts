import { describe, expect, it } from 'vitest';
import { AccountSources } from '../../src/detect/accounts.ts';

const MIN = 60_000;
const T0 = 1_800_000_000_000;

describe('AccountSources', () => {
  it('a success makes its network familiar for familiarMs, for that account only', () => {
    const a = new AccountSources({ familiarMs: 60 * MIN });
    a.recordSuccess(1, 100, T0);
    expect(a.familiar(1, 100, T0 + MIN)).toBe(true);
    expect(a.familiar(1, 101, T0 + MIN)).toBe(false);
    expect(a.familiar(2, 100, T0 + MIN)).toBe(false);
    expect(a.familiar(1, 100, T0 + 61 * MIN)).toBe(false);
  });

  it('keeps familiarPerAccount networks, replacing the least recent success', () => {
    const a = new AccountSources({ familiarPerAccount: 2 });
    a.recordSuccess(1, 10, T0);
    a.recordSuccess(1, 11, T0 + 1000);
    a.recordSuccess(1, 10, T0 + 2000); // 10 is now the most recent
    a.recordSuccess(1, 12, T0 + 3000); // replaces 11
    expect([10, 11, 12].map((n) => a.familiar(1, n, T0 + 4000))).toEqual([true, false, true]);
  });

  it('declares an account under attack at attackSources distinct unfamiliar networks within the window', () => {
    const a = new AccountSources({ attackSources: 3, attackWindowMs: 10 * MIN, attackHoldMs: 30 * MIN });
    a.recordSuccess(1, 500, T0);
    // The owner failing at home, however often, is not an attack.
    for (let i = 0; i < 20; i++) a.recordFailure(1, 500, T0 + i);
    expect(a.underAttack(1, T0 + MIN)).toBe(false);
    // The same stranger twice counts once.
    a.recordFailure(1, 7, T0 + MIN);
    a.recordFailure(1, 7, T0 + MIN);
    a.recordFailure(1, 8, T0 + 2 * MIN);
    expect(a.underAttack(1, T0 + 2 * MIN)).toBe(false);
    a.recordFailure(1, 9, T0 + 3 * MIN);
    expect(a.underAttack(1, T0 + 3 * MIN)).toBe(true);
    expect(a.underAttack(2, T0 + 3 * MIN)).toBe(false);
    expect(a.underAttack(1, T0 + 34 * MIN)).toBe(false);
  });

  it('strangers spread wider than the window do not add up', () => {
    const a = new AccountSources({ attackSources: 3, attackWindowMs: 10 * MIN });
    for (let i = 0; i < 10; i++) a.recordFailure(1, 100 + i, T0 + i * 6 * MIN);
    expect(a.underAttack(1, T0 + 60 * MIN)).toBe(false);
  });

  it('is bounded: the least recently touched account goes first', () => {
    const a = new AccountSources({ maxAccounts: 3 });
    for (let i = 1; i <= 3; i++) a.recordSuccess(i, 100, T0);
    a.recordSuccess(1, 101, T0 + 1); // touch account 1
    a.recordSuccess(4, 100, T0 + 2); // evicts account 2
    expect(a.size).toBe(3);
    expect(a.evictions).toBe(1);
    expect([1, 2, 3, 4].map((n) => a.familiar(n, 100, T0 + 3))).toEqual([true, false, true, true]);
  });
});

describe('AccountSources, aggressive (Org Under Attack declared)', () => {
  it('puts an account under attack at aggressiveAttackSources strangers; familiar networks still count for nothing', () => {
    const a = new AccountSources({ attackSources: 5, aggressiveAttackSources: 2 });
    a.recordSuccess(1, 500, T0);
    for (let i = 0; i < 10; i++) a.recordFailure(1, 500, T0 + i, true);
    expect(a.underAttack(1, T0 + 10)).toBe(false);
    a.recordFailure(1, 7, T0 + 20, true);
    expect(a.underAttack(1, T0 + 21)).toBe(false);
    a.recordFailure(1, 8, T0 + 30, true);
    expect(a.underAttack(1, T0 + 31)).toBe(true);
  });
});
