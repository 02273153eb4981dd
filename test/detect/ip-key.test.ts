import { describe, expect, it } from 'vitest';
import { formatIpKey, ipKey, isIpv6Key } from '../../src/detect/ip-key.ts';
import { rng } from './helpers.ts';

describe('ipKey', () => {
  it('keys IPv4 as the address value, exactly and reversibly', () => {
    const k = ipKey(4, 0xcb007107, 0, 0, 0, 64);
    expect(k).toBe(0xcb007107);
    expect(isIpv6Key(k)).toBe(false);
    expect(formatIpKey(k)).toBe('203.0.113.7');
    expect(ipKey(4, 0xffffffff, 0, 0, 0, 64)).toBe(4294967295);
  });

  it('collapses every address of an IPv6 /64 into one key', () => {
    const r = rng(1);
    const base = ipKey(6, 0x20010db8, 0x00010002, 0, 1, 64);
    for (let i = 0; i < 1000; i++) {
      const k = ipKey(6, 0x20010db8, 0x00010002, (r() * 2 ** 32) >>> 0, (r() * 2 ** 32) >>> 0, 64);
      expect(k).toBe(base);
    }
    expect(isIpv6Key(base)).toBe(true);
    expect(Number.isSafeInteger(base)).toBe(true);
    expect(formatIpKey(base)).toMatch(/^v6\/[0-9a-f]{13}$/);
  });

  it('keeps neighbouring /64s apart and honours a configured prefix', () => {
    const a = ipKey(6, 0x20010db8, 0x00010002, 0, 1, 64);
    const b = ipKey(6, 0x20010db8, 0x00010003, 0, 1, 64);
    expect(a).not.toBe(b);
    // Same /48: one key at /48, two at /64; and /48 keys differ from /64 keys.
    expect(ipKey(6, 0x20010db8, 0x00010002, 0, 1, 48)).toBe(ipKey(6, 0x20010db8, 0x0001ffff, 5, 1, 48));
    expect(ipKey(6, 0x20010db8, 0x00010002, 0, 1, 48)).not.toBe(a);
    // /128 distinguishes hosts.
    expect(ipKey(6, 0x20010db8, 0, 0, 1, 128)).not.toBe(ipKey(6, 0x20010db8, 0, 0, 2, 128));
  });

  it('keys IPv4-mapped IPv6 as IPv4, and keeps other IPv6 out of the IPv4 range', () => {
    expect(ipKey(6, 0, 0, 0xffff, 0xcb007107, 64)).toBe(0xcb007107);
    const r = rng(2);
    const seen = new Set<number>();
    for (let i = 0; i < 20000; i++) {
      const k = ipKey(6, (r() * 2 ** 32) >>> 0, (r() * 2 ** 32) >>> 0, 0, 0, 64);
      expect(k).toBeGreaterThanOrEqual(2 ** 52);
      expect(k).toBeLessThan(2 ** 53);
      seen.add(k);
    }
    expect(seen.size).toBe(20000);
  });
});
