import { describe, expect, it } from 'vitest';
import { prng } from '../../bench/net-fixtures.ts';
import { addressFromV4, parseAddress, parseRange, type Address } from '../../src/net/address.ts';
import { DEFAULT_CHAIN_OPTIONS, forwardedToXff, resolveClientAddress, resolveClientChain, type ChainResult } from '../../src/net/chain.ts';
import { RangeIndex } from '../../src/net/range-index.ts';

function trustedBy(...entries: string[]): (a: Address) => boolean {
  const idx = RangeIndex.build(
    entries.map((e) => {
      const range = parseRange(e);
      if ('error' in range) throw new Error(range.error);
      return { range, value: e };
    }),
  );
  return (a) => idx.lookup(a).length > 0;
}

const ip = (text: string): Address => parseAddress(text)!;

function resolve(peer: string, xff: string | undefined, trusted: (a: Address) => boolean, maxHops = 10): ChainResult {
  return resolveClientChain(ip(peer), xff, trusted, { maxHops });
}

const summary = (r: ChainResult) => [r.client.text, r.reason];

describe('resolveClientChain: Envoy x-forwarded-for examples', () => {
  const xff = '203.0.113.128, 203.0.113.10, 203.0.113.1';

  it('edge proxy, nothing trusted: the peer is the client and XFF is ignored', () => {
    expect(summary(resolve('192.0.2.5', xff, trustedBy()))).toEqual(['192.0.2.5', 'peer-untrusted']);
  });

  it.each([
    [['192.0.2.5'], '203.0.113.1', 'first-untrusted'],
    [['192.0.2.0/24', '203.0.113.1'], '203.0.113.10', 'first-untrusted'], // two trusted hops, as xff_num_trusted_hops=2
    [['192.0.2.0/24', '203.0.113.0/24'], '203.0.113.128', 'all-trusted-leftmost'],
    [['192.0.2.5', '203.0.113.10'], '203.0.113.1', 'first-untrusted'], // trust is per hop, not a count
  ])('trusted peer 192.0.2.5 with trusted %j -> %s', (trusted, client, reason) => {
    expect(summary(resolve('192.0.2.5', xff, trustedBy(...trusted)))).toEqual([client, reason]);
  });

  it('internal proxy behind the edge Envoy: XFF already carries the edge peer', () => {
    const r = resolve('10.11.12.13', `${xff}, 192.0.2.5`, trustedBy('10.0.0.0/8'));
    expect(summary(r)).toEqual(['192.0.2.5', 'first-untrusted']);
    expect(r.chain).toEqual(['203.0.113.128', '203.0.113.10', '203.0.113.1', '192.0.2.5', '10.11.12.13']);
  });

  it('use_remote_address appends the peer to XFF before ext_authz: the duplicate is harmless', () => {
    expect(summary(resolve('192.0.2.5', `${xff}, 192.0.2.5`, trustedBy('192.0.2.5')))).toEqual(['203.0.113.1', 'first-untrusted']);
  });
});

describe('resolveClientChain: nginx realip examples (real_ip_recursive on)', () => {
  const trusted = trustedBy('192.168.1.0/24', '192.168.2.1', '2001:0db8::/32');

  it.each([
    ['192.168.1.10', '198.51.100.7, 192.168.2.1, 2001:db8::1', '198.51.100.7', 'first-untrusted'],
    ['2001:db8::5', '203.0.113.1, 198.51.100.7, 192.168.1.20', '198.51.100.7', 'first-untrusted'],
    ['192.168.1.10', '192.168.1.1, 192.168.2.1', '192.168.1.1', 'all-trusted-leftmost'],
    ['192.168.1.10', '192.168.2.2', '192.168.2.2', 'first-untrusted'], // 192.168.2.1 only, not its /24
    ['192.168.3.1', '198.51.100.7', '192.168.3.1', 'peer-untrusted'],
  ])('peer %s, XFF %j -> %s', (peer, xff, client, reason) => {
    expect(summary(resolve(peer, xff, trusted))).toEqual([client, reason]);
  });
});

describe('resolveClientChain: spoofing and invalid entries', () => {
  const trusted = trustedBy('10.0.0.0/8');

  it('an untrusted peer cannot choose the client with a forged XFF', () => {
    const r = resolve('198.51.100.9', '10.0.0.1, 1.2.3.4', trusted);
    expect(summary(r)).toEqual(['198.51.100.9', 'peer-untrusted']);
    expect(r.chain).toEqual(['10.0.0.1', '1.2.3.4', '198.51.100.9']); // shown, never used
  });

  it('trusted-looking addresses injected on the left are never reached', () => {
    expect(summary(resolve('10.0.0.2', '10.0.0.7, 10.0.0.8, 198.51.100.9', trusted))).toEqual(['198.51.100.9', 'first-untrusted']);
  });

  it.each(['unknown', 'garbage', '_hidden', '[::1', '1.2.3.4.5', '<script>', '"', '010.0.0.1'])(
    'junk %j sent by the attacker is left of its real address and ignored',
    (junk) => {
      expect(summary(resolve('10.0.0.2', `${junk}, 198.51.100.9`, trusted))).toEqual(['198.51.100.9', 'first-untrusted']);
    },
  );

  it('an invalid entry written by a trusted proxy makes that proxy the client', () => {
    expect(summary(resolve('10.0.0.2', '198.51.100.9, unknown', trusted))).toEqual(['10.0.0.2', 'invalid-entry']);
    expect(summary(resolve('10.0.0.2', '198.51.100.9, unknown, 10.0.0.3', trusted))).toEqual(['10.0.0.3', 'invalid-entry']);
  });

  it('never shows raw invalid text in the chain', () => {
    const r = resolve('10.0.0.2', '<script>alert(1)</script>, 198.51.100.9:4711, unknown', trusted);
    expect(r.chain).toEqual(['invalid', '198.51.100.9', 'invalid', '10.0.0.2']);
  });

  it('property: a client behind trusted proxies is found whatever it puts in front', () => {
    const rand = prng(3);
    const junk = ['unknown', '10.0.0.1', '10.9.9.9', '', ' ', '_x', '"', '[', '::1', '10.0.0.1:80', 'a,b', '"10.0.0.3"'];
    for (let n = 0; n < 2000; n++) {
      const prefix = Array.from({ length: rand() % 6 }, () => junk[rand() % junk.length]!);
      const client = addressFromV4(0xc6336400 + (rand() % 256)); // 198.51.100.0/24, untrusted
      const proxies = Array.from({ length: rand() % 4 }, () => addressFromV4(0x0a000000 + (rand() % 0xffffff)).text);
      const header = [...prefix, client.text, ...proxies].join(rand() % 2 ? ', ' : ',');
      const r = resolve('10.0.0.2', header, trusted);
      expect(summary(r), header).toEqual([client.text, 'first-untrusted']);
    }
  });
});

describe('resolveClientAddress', () => {
  it('is the client resolveClientChain gives, for every peer, header and hop cap', () => {
    const trusted = trustedBy('10.0.0.0/8', '2001:db8::/32');
    const rand = prng(11);
    const parts = ['unknown', '10.0.0.1', '10.9.9.9', '198.51.100.7', '2001:db8::5', '[2001:db8::6]:80', '203.0.113.9:443', '', ' ', '"', '::ffff:198.51.100.8', '"10.0.0.3"'];
    const peers = ['10.0.0.2', '198.51.100.1', '2001:db8::1'];
    for (let n = 0; n < 3000; n++) {
      const header = Array.from({ length: rand() % 8 }, () => parts[rand() % parts.length]!).join(rand() % 2 ? ', ' : ',');
      const peer = ip(peers[rand() % peers.length]!);
      const maxHops = 1 + (rand() % 6);
      const chained = resolveClientChain(peer, header || undefined, trusted, { maxHops }).client;
      expect(resolveClientAddress(peer, header || undefined, trusted, { maxHops }), `${peer.text} ${header} ${maxHops}`).toEqual(chained);
    }
  });
});

describe('resolveClientChain: entry syntax', () => {
  const trusted = trustedBy('10.0.0.0/8', '2001:db8::/32');

  it.each([
    [undefined, '10.0.0.2', 'no-forwarded-header'],
    ['', '10.0.0.2', 'no-forwarded-header'],
    [' ,  , ', '10.0.0.2', 'no-forwarded-header'],
    [' 198.51.100.9 ,, ,\t10.0.0.3 ,', '198.51.100.9', 'first-untrusted'],
    ['198.51.100.9:4711', '198.51.100.9', 'first-untrusted'],
    ['[2001:db8:cafe::17]:4711', '2001:db8:cafe::17', 'all-trusted-leftmost'],
    ['2001:db9::1, [2001:db8::2]:443', '2001:db9::1', 'first-untrusted'],
    ['"[2001:db9::1]:80"', '2001:db9::1', 'first-untrusted'],
    ['::ffff:198.51.100.9, ::ffff:10.0.0.3', '198.51.100.9', 'first-untrusted'], // mapped: matched as IPv4
  ])('XFF %j -> %s (%s)', (xff, client, reason) => {
    expect(summary(resolve('10.0.0.2', xff, trusted))).toEqual([client, reason]);
  });

  it('returns IPv4 for a mapped client', () => {
    expect(resolve('10.0.0.2', '::ffff:198.51.100.9', trusted).client.family).toBe(4);
  });
});

describe('resolveClientChain: hop cap', () => {
  const trusted = trustedBy('10.0.0.0/8');
  const xff = '1.1.1.1, 10.0.0.5, 10.0.0.4, 10.0.0.3';

  it.each([
    [3, '10.0.0.4', 'hop-limit'], // peer, .3, .4 examined; .5 would be the 4th
    [4, '10.0.0.5', 'hop-limit'],
    [5, '1.1.1.1', 'first-untrusted'],
    [1, '10.0.0.2', 'hop-limit'],
    [0, '10.0.0.2', 'hop-limit'], // below 1 counts as 1
    [Number.NaN, '10.0.0.2', 'hop-limit'],
  ])('maxHops %d -> %s (%s)', (maxHops, client, reason) => {
    expect(summary(resolve('10.0.0.2', xff, trusted, maxHops))).toEqual([client, reason]);
  });

  it('an all-trusted chain that ends exactly at the cap is not a hop-limit', () => {
    expect(summary(resolve('10.0.0.2', '10.0.0.4, 10.0.0.3', trusted, 3))).toEqual(['10.0.0.4', 'all-trusted-leftmost']);
  });

  it('empty entries do not count as hops', () => {
    expect(summary(resolve('10.0.0.2', '1.1.1.1, , ,10.0.0.3', trusted, 3))).toEqual(['1.1.1.1', 'first-untrusted']);
  });

  it('defaults to 10 and lists at most maxHops hops in the chain', () => {
    expect(DEFAULT_CHAIN_OPTIONS.maxHops).toBe(10);
    const long = Array.from({ length: 50 }, (_, i) => `10.0.1.${i}`).join(', ');
    const r = resolveClientChain(ip('10.0.0.2'), long, trusted, DEFAULT_CHAIN_OPTIONS);
    expect(summary(r)).toEqual(['10.0.1.41', 'hop-limit']);
    expect(r.chain).toHaveLength(10);
    expect(r.chain.at(-1)).toBe('10.0.0.2');
    expect(r.chain[0]).toBe('10.0.1.41');
  });

  it('does not read further than needed into a huge header', () => {
    const header = `${'x,'.repeat(500_000)}198.51.100.9`;
    const calls: string[] = [];
    const r = resolveClientChain(ip('10.0.0.2'), header, (a) => (calls.push(a.text), trusted(a)), DEFAULT_CHAIN_OPTIONS);
    expect(summary(r)).toEqual(['198.51.100.9', 'first-untrusted']);
    expect(calls).toEqual(['10.0.0.2', '198.51.100.9']);
  });
});

describe('ChainResult', () => {
  it('computes the chain once, frozen, and serialises it', () => {
    const r = resolve('10.0.0.2', '198.51.100.9', trustedBy('10.0.0.0/8'));
    expect(r.chain).toBe(r.chain);
    expect(Object.isFrozen(r.chain)).toBe(true);
    expect(JSON.parse(JSON.stringify(r))).toMatchObject({ client: { text: '198.51.100.9' }, chain: ['198.51.100.9', '10.0.0.2'], reason: 'first-untrusted' });
  });
});

describe('forwardedToXff', () => {
  it.each([
    ['for="_gazonk"', 'invalid'],
    ['For="[2001:db8:cafe::17]:4711"', '2001:db8:cafe::17'],
    ['for=192.0.2.60;proto=http;by=203.0.113.43', '192.0.2.60'],
    ['for=192.0.2.43, for=198.51.100.17', '192.0.2.43, 198.51.100.17'],
    ['for=192.0.2.43,for=198.51.100.17;by=203.0.113.60;proto=http;host=example.com', '192.0.2.43, 198.51.100.17'],
    ['for=unknown', 'invalid'],
    ['FOR=192.0.2.43', '192.0.2.43'],
    ['for="192.0.2.43:80"', '192.0.2.43'],
    ['for=[2001:db8::1]:80', '2001:db8::1'], // unquoted, though RFC 7239 wants quotes: accepted
    ['for="\\1\\92.0.2.43"', '192.0.2.43'], // quoted-pair escapes
    ['for="::ffff:192.0.2.43"', '192.0.2.43'],
    ['proto=https;by=203.0.113.43', 'invalid'], // an element without for=
    ['for=192.0.2.1;for=192.0.2.2', 'invalid'], // a parameter may occur once
    ['for = 192.0.2.43', 'invalid'],
    ['for=', 'invalid'],
    ['for=192.0.2.43;by="a,b;c\\"d", for=198.51.100.17', '192.0.2.43, 198.51.100.17'], // separators inside quotes
    [' , for=192.0.2.43 ,, ', '192.0.2.43'], // empty elements skipped
    ['', ''],
  ])('%j -> %j', (header, xff) => {
    expect(forwardedToXff(header)).toBe(xff);
  });

  it.each([
    ['for="x, for=6.6.6.6', 'invalid, 6.6.6.6'],
    ['for="x, for="[2001:db8::1]"', 'invalid, 2001:db8::1'],
    ['for=x\\", for=6.6.6.6', 'invalid, 6.6.6.6'],
    ['\\"\\"\\", for=6.6.6.6', 'invalid, 6.6.6.6'],
    ['for="a";"""""", for=6.6.6.6', 'invalid, 6.6.6.6'],
  ])('an unbalanced attacker prefix %j cannot swallow what proxies appended', (header, xff) => {
    expect(forwardedToXff(header)).toBe(xff);
  });

  it('feeds the same walk as XFF', () => {
    const trusted = trustedBy('203.0.113.0/24');
    const xff = forwardedToXff('for=192.0.2.43, for="[2001:db8:cafe::17]:4711";proto=https, for=203.0.113.60');
    expect(summary(resolveClientChain(ip('203.0.113.43'), xff, trusted, DEFAULT_CHAIN_OPTIONS))).toEqual(['2001:db8:cafe::17', 'first-untrusted']);
    const hidden = forwardedToXff('for=192.0.2.43, for=_hidden');
    expect(summary(resolveClientChain(ip('203.0.113.43'), hidden, trusted, DEFAULT_CHAIN_OPTIONS))).toEqual(['203.0.113.43', 'invalid-entry']);
  });

  it('stays linear on pathological quoting', () => {
    const header = `${'\\"'.repeat(100_000)}, for=6.6.6.6`;
    const t0 = performance.now();
    expect(forwardedToXff(header)).toBe('invalid, 6.6.6.6');
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
