import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { findSensitiveOverlaps } from '../../src/feeds/bogons.ts';
import { parseFeed } from '../../src/feeds/formats/index.ts';

const level1 = parseFeed('firehol', readFileSync(new URL('../fixtures/feeds/firehol_level1.netset.sample', import.meta.url), 'utf8'));

describe('findSensitiveOverlaps', () => {
  it("flags FireHOL level1's 10.0.0.0/8 against a protected 10.1.0.0/16, and its bogons", () => {
    const found = findSensitiveOverlaps(level1.entries, ['10.1.0.0/16']);
    expect(found).toEqual([
      { entry: '0.0.0.0/8', overlaps: '0.0.0.0/8', kind: 'bogon' },
      { entry: '10.0.0.0/8', overlaps: '10.1.0.0/16', kind: 'protected' },
      { entry: '10.0.0.0/8', overlaps: '10.0.0.0/8', kind: 'private' },
    ]);
  });

  it('overlap works both ways: an entry inside a protected range, and one covering it', () => {
    const found = findSensitiveOverlaps(['203.0.114.9', '203.0.114.0/23', '203.0.116.0/24'], ['203.0.114.0/24', '203.0.115.1']);
    expect(found).toEqual([
      { entry: '203.0.114.9', overlaps: '203.0.114.0/24', kind: 'protected' },
      { entry: '203.0.114.0/23', overlaps: '203.0.114.0/24', kind: 'protected' },
      { entry: '203.0.114.0/23', overlaps: '203.0.115.1', kind: 'protected' },
    ]);
  });

  it.each([
    ['172.20.1.1', '172.16.0.0/12', 'private'],
    ['192.168.0.0/16', '192.168.0.0/16', 'private'],
    ['100.100.0.1', '100.64.0.0/10', 'private'],
    ['127.0.0.1', '127.0.0.0/8', 'private'],
    ['169.254.169.254', '169.254.0.0/16', 'private'],
    ['fd12:3456::1', 'fc00::/7', 'private'],
    ['fe80::1', 'fe80::/10', 'private'],
    ['::1', '::1/128', 'private'],
    ['192.0.2.0/24', '192.0.2.0/24', 'bogon'],
    ['239.1.2.3', '224.0.0.0/4', 'bogon'],
    ['255.255.255.255', '240.0.0.0/4', 'bogon'],
    ['2001:db8::/48', '2001:db8::/32', 'bogon'],
  ] as const)('%s overlaps %s (%s)', (entry, range, kind) => {
    expect(findSensitiveOverlaps([entry], [])).toEqual([{ entry, overlaps: range, kind }]);
  });

  it('a default route overlaps every special range of its family', () => {
    const found = findSensitiveOverlaps(['0.0.0.0/0'], ['198.51.100.10']);
    expect(found[0]).toEqual({ entry: '0.0.0.0/0', overlaps: '198.51.100.10', kind: 'protected' });
    expect(found.filter((f) => f.kind === 'private').map((f) => f.overlaps)).toEqual([
      '10.0.0.0/8',
      '172.16.0.0/12',
      '192.168.0.0/16',
      '100.64.0.0/10',
      '127.0.0.0/8',
      '169.254.0.0/16',
    ]);
  });

  it('public entries, other families and unparseable entries are not flagged', () => {
    expect(findSensitiveOverlaps(['1.4.0.0/17', '2a06:e480::/29', 'garbage', '8.8.8.8'], ['10.0.0.0/8', 'fd00::/8'])).toEqual([]);
  });

  it('IPv4-mapped protected ranges match IPv4 entries', () => {
    expect(findSensitiveOverlaps(['198.51.100.7'], ['::ffff:198.51.100.0/120'])).toEqual([
      { entry: '198.51.100.7', overlaps: '::ffff:198.51.100.0/120', kind: 'protected' },
      { entry: '198.51.100.7', overlaps: '198.51.100.0/24', kind: 'bogon' },
    ]);
  });

  it('an invalid protected CIDR throws instead of silently disabling the guard', () => {
    expect(() => findSensitiveOverlaps(['10.0.0.0/8'], ['10.1.0.0/99'])).toThrow(RangeError);
  });
});
