import ipaddr from 'ipaddr.js';
import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/net-fixtures.ts';
import { compareAddress, parseAddress, parseHostPort, parseRange, type Address } from '../../src/net/address.ts';

const words = (a: Address | undefined) => (a ? [a.family, a.w0, a.w1, a.w2, a.w3] : undefined);

describe('parseAddress IPv4', () => {
  it.each([
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['192.0.2.1', 0xc0000201],
    ['10.0.0.1', 0x0a000001],
    [' \t198.51.100.7\r\n', 0xc6336407],
  ])('%j -> %d', (text, value) => {
    const a = parseAddress(text)!;
    expect(words(a)).toEqual([4, value, 0, 0, 0]);
    expect(a.text).toBe(text.trim());
  });

  it.each([
    '010.1.1.1', '1.2.3.04', '00.1.1.1', '256.0.0.1', '1.2.3.300', '1.2.3', '1.2.3.4.', '1.2.3.4.5', '1..2.3', '.1.2.3',
    '1.2.3.4x', '1.2.3.4 x', '0x1.2.3.4', '1e2.1.1.1', '+1.2.3.4', '-1.2.3.4', '1.2.3.-4', '', '   ', '１.2.3.4',
    '1.2.3.4/32', '1.2.3.4:80', '1234.1.1.1', '4294967295', '127.1',
  ])('rejects %j', (text) => {
    expect(parseAddress(text)).toBeUndefined();
  });
});

describe('parseAddress IPv6', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // leftmost of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group is not compressed
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'], // the longest run wins
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['fe80::1', 'fe80::1'],
    ['::1.2.3.4', '::102:304'], // IPv4-compatible, not mapped: stays IPv6
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ['::ffff:1:2:3', '::ffff:1:2:3'], // 0:0:0:0:ffff:1:2:3 is not in ::ffff:0:0/96
    [' 2001:db8::1 ', '2001:db8::1'],
  ])('%j -> %j', (text, canonical) => {
    const a = parseAddress(text)!;
    expect(a.family).toBe(6);
    expect(a.text).toBe(canonical);
  });

  it.each([
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:102:304', '1.2.3.4'],
    ['0:0:0:0:0:ffff:c000:0201', '192.0.2.1'],
    ['::ffff:0:0', '0.0.0.0'],
    ['::ffff:255.255.255.255', '255.255.255.255'],
  ])('normalises mapped %j to IPv4 %s', (text, v4) => {
    const a = parseAddress(text)!;
    expect(words(a)).toEqual(words(parseAddress(v4)));
    expect(a.text).toBe(v4);
  });

  it.each([
    'fe80::1%eth0', 'fe80::1%', '1::2::3', ':::', ':1::', '1::2:', ':', '12345::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7',
    'g::1', '::ffff:01.2.3.4', '::ffff:1.2.3', '::1.2.3.4:5', '1:2:3:4:5:6:7:1.2.3.4', '[::1]', '::1 x', '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8', '::0x1', '1.2.3.4::',
  ])('rejects %j', (text) => {
    expect(parseAddress(text)).toBeUndefined();
  });

  it('agrees with ipaddr.js on words and RFC 5952 text for random addresses in many spellings', () => {
    const rand = prng(7);
    for (let n = 0; n < 3000; n++) {
      // Groups are zero half the time so that "::" placement is exercised.
      const groups = Array.from({ length: 8 }, () => (rand() % 2 === 0 ? 0 : rand() % 3 === 0 ? rand() & 0xf : rand() & 0xffff));
      const reference = new ipaddr.IPv6(groups);
      const spellings = [
        reference.toRFC5952String(),
        reference.toNormalizedString(),
        groups.map((g) => g.toString(16).padStart(4, '0')).join(':'),
        `${groups.slice(0, 6).map((g) => g.toString(16)).join(':')}:${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`,
        reference.toRFC5952String().toUpperCase(),
      ];
      for (const text of spellings) {
        const ours = parseAddress(text)!;
        expect(ours, text).toBeDefined();
        if (reference.isIPv4MappedAddress()) {
          expect(ours.text).toBe(reference.toIPv4Address().toString());
          continue;
        }
        const parts = [ours.w0 >>> 16, ours.w0 & 0xffff, ours.w1 >>> 16, ours.w1 & 0xffff, ours.w2 >>> 16, ours.w2 & 0xffff, ours.w3 >>> 16, ours.w3 & 0xffff];
        expect(parts, text).toEqual(groups);
        expect(ours.text, text).toBe(reference.toRFC5952String());
      }
    }
  });

  it('agrees with ipaddr.js on mutated addresses, except where we are deliberately stricter', () => {
    const rand = prng(11);
    const seeds = ['2001:db8::1', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8', '::', 'fe80::a:b', '192.0.2.1', '10.0.0.255', '::1.2.3.4'];
    const alphabet = '0123456789abcdefABCDEFxg:.%[] ';
    const strictV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
    let accepted = 0;
    for (let n = 0; n < 50_000; n++) {
      let text = seeds[rand() % seeds.length]!;
      for (let m = 1 + (rand() % 2); m > 0; m--) {
        const at = rand() % (text.length + 1);
        const op = rand() % 3;
        const c = alphabet[rand() % alphabet.length]!;
        text = op === 0 ? text.slice(0, at) + c + text.slice(at) : op === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + c + text.slice(at + 1);
      }
      const ours = parseAddress(text);
      const trimmed = text.trim();
      const embedded = /[.]/.test(trimmed) ? trimmed.slice(trimmed.lastIndexOf(':') + 1) : '';
      // Where we reject on purpose: zone ids, non-strict dotted quads (octal, short forms), whitespace inside.
      const strictSyntax = !trimmed.includes('%') && (embedded === '' || strictV4.test(embedded)) && !/\s/.test(trimmed);
      const theirsValid = trimmed.includes(':')
        ? ipaddr.IPv6.isValid(trimmed) && strictSyntax
        : ipaddr.IPv4.isValid(trimmed) && strictV4.test(trimmed); // not "4", "1.2", "0x1.2.3.4", "010.0.0.1"
      expect(ours !== undefined, text).toBe(theirsValid);
      if (!ours) continue;
      accepted++;
      if (/^::\d+\.\d+\.\d+\.\d+$/.test(trimmed)) continue; // ipaddr.js wrongly reads IPv4-compatible as mapped
      const theirs = ipaddr.process(trimmed);
      expect(ours.text, text).toBe(theirs.kind() === 'ipv4' ? theirs.toString() : (theirs as ipaddr.IPv6).toRFC5952String());
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['192.0.2.60', '192.0.2.60'],
    ['192.0.2.60:4711', '192.0.2.60'],
    ['  192.0.2.60:0  ', '192.0.2.60'],
    ['[2001:db8:cafe::17]:4711', '2001:db8:cafe::17'],
    ['[2001:db8:cafe::17]', '2001:db8:cafe::17'],
    ['2001:db8:cafe::17', '2001:db8:cafe::17'],
    ['"[::1]:80"', '::1'],
    ['"192.0.2.43"', '192.0.2.43'],
    ['[::ffff:192.0.2.1]:443', '192.0.2.1'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['2001:db8::1:80', '2001:db8::1:80'], // unbracketed: all of it is the address
  ])('%j -> %s', (text, ip) => {
    expect(parseHostPort(text)?.text).toBe(ip);
  });

  it.each([
    'unknown', '_hidden', '_gazonk', '', '  ', '""', '"', '"1.2.3.4', '1.2.3.4"', '[1.2.3.4]', '[1.2.3.4]:80', '[::1', '[::1]x',
    '[::1]:', '[::1]:65536', '[::1]:-1', '1.2.3.4:', '1.2.3.4:99999', '1.2.3.4:8a', '1.2.3.4:80:80', 'host:80', '[fe80::1%eth0]:80',
    '010.1.1.1:80', 'localhost',
  ])('rejects %j', (text) => {
    expect(parseHostPort(text)).toBeUndefined();
  });
});

describe('parseRange', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7', '192.0.2.7'],
    ['10.0.0.0/8', '10.0.0.0', '10.255.255.255'],
    ['0.0.0.0/0', '0.0.0.0', '255.255.255.255'],
    ['192.0.2.7/32', '192.0.2.7', '192.0.2.7'],
    ['2001:0db8::/32', '2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['::/0', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['2001:db8::1/128', '2001:db8::1', '2001:db8::1'],
    ['2001:db8::/63', '2001:db8::', '2001:db8:0:1:ffff:ffff:ffff:ffff'],
    ['10.0.0.5-10.0.1.7', '10.0.0.5', '10.0.1.7'],
    [' 10.0.0.5 - 10.0.0.5 ', '10.0.0.5', '10.0.0.5'],
    ['2001:db8::1-2001:db8::ff', '2001:db8::1', '2001:db8::ff'],
    ['::ffff:10.0.0.0/104', '10.0.0.0', '10.255.255.255'],
  ])('%j -> %s..%s', (entry, start, end) => {
    const r = parseRange(entry);
    if ('error' in r) throw new Error(r.error);
    expect([r.start.text, r.end.text]).toEqual([start, end]);
    expect(r.family).toBe(r.start.family);
    expect(r.source).toBe(entry.trim());
  });

  it.each([
    ['10.0.0.0/33', /prefix length 33 is out of range for IPv4 \(0-32\)/],
    ['2001:db8::/129', /prefix length 129 is out of range for IPv6 \(0-128\)/],
    ['10.0.0.0/+1', /"\+1" is not a valid prefix length/],
    ['10.0.0.0/-1', /not both/],
    ['10.0.0.0/abc', /"abc" is not a valid prefix length/],
    ['10.0.0.0/', /"" is not a valid prefix length/],
    ['10.0.0.0/08', /not a valid prefix length/],
    ['10.0.0.1/8', /host bits are set \(the network is 10\.0\.0\.0\/8\)/],
    ['2001:db8::1/32', /host bits are set \(the network is 2001:db8::\/32\)/],
    ['10.0.0.9-10.0.0.1', /range start 10\.0\.0\.9 is after its end 10\.0\.0\.1/],
    ['10.0.0.1-::1', /mixes IPv4 and IPv6/],
    ['nonsense', /not an IP address, CIDR or range/],
    ['', /empty entry/],
    ['10.0.0.0/8/9', /more than one "\/"/],
    ['1.2.3.4-5.6.7.8-9.9.9.9', /more than one "-"/],
    ['10.0.0.0/8-10.0.0.1', /not both/],
    ['fe80::%eth0/64', /is not an IP address/],
    ['10.0.0.256-10.0.1.0', /range start "10\.0\.0\.256" is not an IP address/],
    ['::ffff:10.0.0.0/90', /IPv4-mapped prefix needs a length of 96-128/],
  ])('%j fails: %s', (entry, message) => {
    const r = parseRange(entry);
    expect('error' in r && r.error).toMatch(message);
  });
});

describe('compareAddress', () => {
  it('orders IPv4 before IPv6, then numerically (unsigned)', () => {
    const texts = ['::1', '255.255.255.255', '2001:db8::', '0.0.0.0', '128.0.0.1', 'ffff::', '1.2.3.4', '::'];
    const sorted = texts.map((t) => parseAddress(t)!).sort(compareAddress).map((a) => a.text);
    expect(sorted).toEqual(['0.0.0.0', '1.2.3.4', '128.0.0.1', '255.255.255.255', '::', '::1', '2001:db8::', 'ffff::']);
    expect(compareAddress(parseAddress('10.0.0.1')!, parseAddress('::ffff:10.0.0.1')!)).toBe(0);
  });
});
