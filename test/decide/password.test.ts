import { describe, expect, it } from 'vitest';
import { FINGERPRINT_BITS, passwordFingerprint } from '../../src/decide/password.ts';
import { usernameHash } from '../../src/decide/username.ts';

const KEY = Buffer.from('an install key of some length');

describe('passwordFingerprint', () => {
  it('is 20 bits plus a presence bit, stable for one key, different under another key', () => {
    const f = passwordFingerprint(KEY, 'Winter2026!');
    expect(f >>> FINGERPRINT_BITS).toBe(1);
    expect(passwordFingerprint(KEY, 'Winter2026!')).toBe(f);
    expect(passwordFingerprint(Buffer.from('another install key'), 'Winter2026!')).not.toBe(f);
  });

  it('is unrelated to the username hash of the same text', () => {
    expect(passwordFingerprint(KEY, 'alice') & 0xfffff).not.toBe(usernameHash(KEY, 'alice') & 0xfffff);
  });

  it('spreads over the 2^20 values (a birthday-bound collision count) and handles long input', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 20_000; i++) seen.add(passwordFingerprint(KEY, `password-${i}`));
    // 20,000 draws from 2^20 values: ~190 collisions expected.
    expect(20_000 - seen.size).toBeGreaterThan(100);
    expect(20_000 - seen.size).toBeLessThan(300);
    const long = 'x'.repeat(5000);
    expect(passwordFingerprint(KEY, long)).toBe(passwordFingerprint(KEY, long));
  });
});
