import { describe, expect, it } from 'vitest';
import { bearerCredential, countingRefusals } from '../../../src/adapters/grpc/credential.ts';

describe('bearerCredential (the one check both gRPC services and the admin listener use)', () => {
  const c = bearerCredential('0123456789abcdef-token');
  it('accepts exactly "Bearer <token>"', () => {
    expect(c.required).toBe(true);
    expect(c.checkBearer('Bearer 0123456789abcdef-token')).toBe(true);
  });
  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['the bare token', '0123456789abcdef-token'],
    ['another scheme', 'Basic 0123456789abcdef-token'],
    ['lower-case scheme', 'bearer 0123456789abcdef-token'],
    ['a prefix of the token', 'Bearer 0123456789abcdef'],
    ['the token and more', 'Bearer 0123456789abcdef-token2'],
    ['trailing space', 'Bearer 0123456789abcdef-token '],
    ['a huge header', `Bearer ${'x'.repeat(100_000)}`],
  ])('refuses %s', (_name, header) => {
    expect(c.checkBearer(header)).toBe(false);
  });
  it('no token configured: open', () => {
    const open = bearerCredential('');
    expect(open.required).toBe(false);
    expect(open.checkBearer(undefined)).toBe(true);
  });
  it('countingRefusals counts refusals only', () => {
    let n = 0;
    const counted = countingRefusals(c, () => n++);
    counted.checkBearer('Bearer 0123456789abcdef-token');
    counted.checkBearer('Bearer nope');
    counted.checkBearer(undefined);
    expect(n).toBe(2);
  });
});
