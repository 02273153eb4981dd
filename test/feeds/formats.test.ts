import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FEED_FORMATS, MAX_BAD_STORED, isFeedFormat, parseFeed, type FeedFormat } from '../../src/feeds/formats/index.ts';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/feeds/${name}`, import.meta.url), 'utf8');

/** Data lines counted independently of the parsers: not blank, not a comment. */
function dataLines(text: string, comment: RegExp): number {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '' && !comment.test(l)).length;
}

describe('real samples', () => {
  const cases: [string, FeedFormat, number, RegExp][] = [
    ['firehol_level1.netset.sample', 'firehol', 23, /^#/],
    ['spamhaus_drop.netset.sample', 'firehol', 12, /^#/],
    ['tor_exits.ipset.sample', 'firehol', 8, /^#/],
    ['feodo.ipset.sample', 'firehol', 6, /^#/],
    ['spamhaus_drop.txt.sample', 'spamhaus-drop', 9, /^;/],
    ['spamhaus_drop_v4.json.sample', 'spamhaus-drop-json', 12, /"type":"metadata"/],
    ['torbulkexitlist.sample', 'tor-bulk', 16, /^#/],
    ['tor_exit-addresses.sample', 'tor-exit-addresses', 3, /^(?!ExitAddress )/],
    ['abuseipdb-s100-1d.ipv4.sample', 'abuseipdb', 12, /^#/],
  ];
  it.each(cases)('%s as %s: %d entries, no bad lines', (file, format, count, comment) => {
    const text = fixture(file);
    const r = parseFeed(format, text);
    expect(r.entries).toHaveLength(count);
    expect(dataLines(text, comment)).toBe(count);
    expect(r.badCount).toBe(0);
    expect(r.bad).toEqual([]);
  });

  it('firehol level1: bare IPs, CIDRs, /31s and bogons kept as found; header in meta', () => {
    const r = parseFeed('firehol', fixture('firehol_level1.netset.sample'));
    expect(r.entries.slice(0, 4)).toEqual(['0.0.0.0/8', '1.4.0.0/17', '1.10.16.0/20', '1.93.0.224']);
    expect(r.entries).toContain('10.0.0.0/8');
    expect(r.entries).toContain('61.155.222.210/31');
    expect(r.meta).toMatchObject({ name: 'firehol_level1', maintainer: 'FireHOL', category: 'attacks', version: '704' });
    expect(r.meta?.entries).toBe('6273 subnets, 680864624 unique IPs');
  });

  it('spamhaus text: SBL ids dropped, credit line and dates kept for the terms', () => {
    const r = parseFeed('spamhaus-drop', fixture('spamhaus_drop.txt.sample'));
    expect(r.entries[0]).toBe('1.4.0.0/17');
    expect(r.entries.at(-1)).toBe('5.134.128.0/19');
    expect(r.meta).toEqual({
      title: 'Spamhaus DROP List 2016/03/23 - (c) 2016 The Spamhaus Project',
      lastModified: 'Tue, 22 Mar 2016 18:59:56 GMT',
      expires: 'Wed, 23 Mar 2016 20:02:02 GMT',
    });
  });

  it('spamhaus JSON lines: metadata line is meta, not an entry', () => {
    const r = parseFeed('spamhaus-drop-json', fixture('spamhaus_drop_v4.json.sample'));
    expect(r.entries[0]).toBe('1.10.16.0/20');
    expect(r.meta).toMatchObject({ records: 12, timestamp: 1790072042, copyright: '(c) 2026 The Spamhaus Project SLU' });
  });

  it('exit-addresses: every ExitAddress of a node, node count in meta', () => {
    const r = parseFeed('tor-exit-addresses', fixture('tor_exit-addresses.sample'));
    expect(r.entries).toEqual(['185.241.208.231', '185.241.208.232', '194.26.192.64']);
    expect(r.meta).toMatchObject({ nodes: 2, type: 'tordnsel 1.0', downloaded: '2024-01-30 13:02:00' });
  });

  it('the same text parses the same in a tolerant format (tor bulk as plain)', () => {
    const text = fixture('torbulkexitlist.sample');
    expect(parseFeed('plain', text).entries).toEqual(parseFeed('tor-bulk', text).entries);
  });
});

describe('malformed input: counted, reported, never fatal', () => {
  it('plain: BOM, CRLF, comments, canonical text, each bad line named', () => {
    const r = parseFeed('plain', fixture('plain-malformed.txt'));
    expect(r.entries).toEqual([
      '192.0.2.1',
      '198.51.100.0/24',
      '203.0.113.7',
      '2001:db8::1',
      '2001:db8:1::/48',
      '192.0.2.10',
      '192.0.2.55',
      '198.51.100.0/24',
    ]);
    expect(r.badCount).toBe(6);
    expect(r.bad.map((b) => b.line)).toEqual([10, 11, 12, 13, 14, 15]);
    const reasons = r.bad.map((b) => b.reason);
    expect(reasons[0]).toMatch(/octet out of range.*999\.1\.1\.1/);
    expect(reasons[1]).toMatch(/prefix length \/33 too long/);
    expect(reasons[2]).toMatch(/unexpected text after address/);
    expect(reasons[3]).toMatch(/not an IP address or CIDR: "not-an-ip"/);
    expect(reasons[4]).toMatch(/leading zero/);
    expect(reasons[5]).toMatch(/ranges are not supported/);
    expect(r.meta).toEqual({ portsStripped: 1, hostBitsMasked: 1 });
  });

  it('spamhaus JSON: escaped slash, bad JSON, no cidr, truncated (no metadata)', () => {
    const r = parseFeed('spamhaus-drop-json', fixture('spamhaus_drop_v6-truncated.json.sample'));
    expect(r.entries).toEqual(['2a06:e480::/29', '2001:db8::/32', '2c0f:f6e8::/32']);
    expect(r.bad.map((b) => b.line)).toEqual([3, 4, 5, 6, 9]);
    expect(r.bad[0]?.reason).toMatch(/invalid IPv6/);
    expect(r.bad[1]?.reason).toMatch(/no "cidr"/);
    expect(r.bad[2]?.reason).toMatch(/not valid JSON/);
    expect(r.bad[3]?.reason).toMatch(/expected a JSON object/);
    expect(r.bad[4]?.reason).toMatch(/missing .*metadata.*truncated/);
  });

  it('spamhaus JSON: record count disagreeing with the metadata is reported', () => {
    const text = fixture('spamhaus_drop_v4.json.sample').replace('"records":12', '"records":13');
    const r = parseFeed('spamhaus-drop-json', text);
    expect(r.entries).toHaveLength(12);
    expect(r.bad).toEqual([{ line: 13, reason: 'metadata says 13 records but 12 data lines were found' }]);
  });

  it('exit-addresses: broken lines reported, good addresses kept', () => {
    const r = parseFeed('tor-exit-addresses', fixture('tor_exit-addresses-malformed.sample'));
    expect(r.entries).toEqual(['192.0.2.44', '2001:db8::44']);
    expect(r.bad.map((b) => b.line)).toEqual([7, 8, 9, 10, 13]);
    expect(r.bad[4]?.reason).toMatch(/expected a single IP address, got CIDR/);
  });

  it.each(['tor-bulk', 'abuseipdb'] as const)('%s: CIDRs are not single IPs', (format) => {
    const r = parseFeed(format, '192.0.2.1\n192.0.2.0/24\n');
    expect(r.entries).toEqual(['192.0.2.1']);
    expect(r.bad).toEqual([{ line: 2, reason: 'expected a single IP address, got CIDR "192.0.2.0/24"' }]);
  });

  it('an HTML error page yields no entries and only bad lines', () => {
    for (const format of FEED_FORMATS) {
      const r = parseFeed(format, fixture('html-error-page.txt'));
      expect(r.entries, format).toEqual([]);
      expect(r.badCount, format).toBeGreaterThan(0);
    }
  });

  it('stores at most 100 bad lines but counts them all', () => {
    const text = Array.from({ length: 250 }, (_, i) => (i % 2 ? `bad-${i}` : `192.0.2.${i % 256}`)).join('\n');
    const r = parseFeed('plain', text);
    expect(r.entries).toHaveLength(125);
    expect(r.badCount).toBe(125);
    expect(r.bad).toHaveLength(MAX_BAD_STORED);
  });

  it('bare CR line endings, empty input and whitespace-only input', () => {
    expect(parseFeed('plain', '192.0.2.1\r192.0.2.2\r').entries).toEqual(['192.0.2.1', '192.0.2.2']);
    expect(parseFeed('plain', '')).toEqual({ entries: [], bad: [], badCount: 0 });
    expect(parseFeed('firehol', '\ufeff \n\t\n')).toEqual({ entries: [], bad: [], badCount: 0 });
  });

  it('reasons quote at most 64 characters of a huge line', () => {
    const r = parseFeed('plain', 'x'.repeat(5_000_000));
    expect(r.badCount).toBe(1);
    expect(r.bad[0]?.reason.length).toBeLessThan(120);
  });

  it('never throws on random bytes, in any format', () => {
    let seed = 42;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let round = 0; round < 50; round++) {
      const text = Array.from({ length: 400 }, () => String.fromCharCode(Math.floor(rand() * 0x3000))).join('');
      const withStructure = text.replace(/[\u0100-\u02ff]/g, () => ['\n', '/', ':', '.', '#', ';', '{', '"', ' ', '1'][Math.floor(rand() * 10)] as string);
      for (const format of FEED_FORMATS) expect(() => parseFeed(format, withStructure)).not.toThrow();
    }
  });

  it('unknown format is a bad result, not a throw', () => {
    expect(isFeedFormat('csv')).toBe(false);
    const r = parseFeed('csv' as FeedFormat, '192.0.2.1');
    expect(r.entries).toEqual([]);
    expect(r.badCount).toBe(1);
  });
});

describe('large inputs', () => {
  it('parses 500k lines (linear, no per-line quadratic work)', () => {
    const lines: string[] = [];
    for (let i = 0; i < 500_000; i++) lines.push(`${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}.${(i * 7) & 255}${i % 3 ? '' : '/32'}`);
    const started = performance.now();
    const r = parseFeed('plain', lines.join('\r\n'));
    const ms = performance.now() - started;
    expect(r.entries).toHaveLength(500_000);
    expect(r.badCount).toBe(0);
    expect(ms).toBeLessThan(10_000);
  });
});
