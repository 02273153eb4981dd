import { describe, expect, it } from 'vitest';
import { DEFAULT_USERNAME_SOURCE, extractUsername, usernameHash } from '../../src/decide/username.ts';

describe('username extraction', () => {
  it('reads JSON bodies, including dotted paths', () => {
    expect(extractUsername(DEFAULT_USERNAME_SOURCE, { 'content-type': 'application/json' }, '{"username":"alice","password":"x"}')).toBe('alice');
    expect(extractUsername({ fields: ['credentials.email'] }, { 'content-type': 'application/json; charset=utf-8' }, '{"credentials":{"email":"a@b.c"}}')).toBe('a@b.c');
    expect(extractUsername(DEFAULT_USERNAME_SOURCE, { 'content-type': 'application/json' }, '{"email":"bob@x"}')).toBe('bob@x');
  });
  it('reads form bodies (OAuth2 password grant shape)', () => {
    expect(extractUsername(DEFAULT_USERNAME_SOURCE, { 'content-type': 'application/x-www-form-urlencoded' }, 'grant_type=password&username=carol%40x.io&password=p')).toBe('carol@x.io');
  });
  it('prefers the configured header', () => {
    expect(extractUsername({ fields: ['username'], header: 'x-login' }, { 'x-login': 'dave', 'content-type': 'application/json' }, '{"username":"eve"}')).toBe('dave');
  });
  it('gives up on junk, other types and oversized bodies', () => {
    expect(extractUsername(DEFAULT_USERNAME_SOURCE, { 'content-type': 'application/json' }, '{not json')).toBeUndefined();
    expect(extractUsername(DEFAULT_USERNAME_SOURCE, { 'content-type': 'multipart/form-data; boundary=x' }, 'username=a')).toBeUndefined();
    expect(extractUsername(DEFAULT_USERNAME_SOURCE, { 'content-type': 'application/json' }, `{"username":"${'a'.repeat(70_000)}"}`)).toBeUndefined();
    expect(extractUsername(DEFAULT_USERNAME_SOURCE, { 'content-type': 'application/json' }, '{"username":42}')).toBeUndefined();
  });
  it('hashes with the key, normalised, so equal accounts collide and keys differ', () => {
    const k1 = Buffer.alloc(32, 1);
    const k2 = Buffer.alloc(32, 2);
    expect(usernameHash(k1, ' Alice@Example.com')).toBe(usernameHash(k1, 'alice@example.com'));
    expect(usernameHash(k1, 'alice')).not.toBe(usernameHash(k2, 'alice'));
    expect(usernameHash(k1, 'alice')).not.toBe(usernameHash(k1, 'bob'));
    expect(Number.isInteger(usernameHash(k1, 'alice'))).toBe(true);
  });
  it('is keyed SipHash-2-4 of the normalised UTF-8, with a key derived from the install key', () => {
    // Expected values from an independent SipHash-2-4 (Python, over integers) with the same key derivation:
    // key = SHA-256("portcullis username siphash-2-4\0" || install key)[0..16], output's low 32 bits.
    const k1 = Buffer.alloc(32, 1);
    expect(usernameHash(k1, 'Alice@Example.com ')).toBe(3433957788);
    expect(usernameHash(k1, 'JOSÉ@exämple.com')).toBe(2875286957);
    const long = 'x'.repeat(5000); // longer than the scratch buffer
    expect(usernameHash(k1, long)).toBe(usernameHash(k1, ` ${long.toUpperCase()}`));
    expect(usernameHash(k1, 'alice')).toBeGreaterThanOrEqual(0);
  });
});
