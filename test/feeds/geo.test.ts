import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { GeoDatabases, type GeoDbStatus } from '../../src/feeds/geo.ts';

const mmdb = (name: string): string => fileURLToPath(new URL(`../fixtures/mmdb/${name}`, import.meta.url));
const ASN = mmdb('GeoLite2-ASN-Test.mmdb');
const COUNTRY = mmdb('GeoIP2-Country-Test.mmdb');
const CITY = mmdb('GeoIP2-City-Test.mmdb');
const ANON = mmdb('GeoIP2-Anonymous-IP-Test.mmdb');

describe('lookups against MaxMind test databases (values from their source JSON)', () => {
  let dbs: GeoDatabases;
  beforeAll(async () => {
    dbs = await GeoDatabases.open({ asn: ASN, country: CITY, anonymous: ANON, watch: false });
  });
  afterAll(() => dbs.close());

  it('reports every database loaded', () => {
    expect(dbs.status().map((s) => [s.db, s.ok, s.serving, s.databaseType])).toEqual([
      ['asn', true, true, 'GeoLite2-ASN'],
      ['country', true, true, 'GeoIP2-City'],
      ['anonymous', true, true, 'GeoIP2-Anonymous-IP'],
    ]);
    expect(dbs.has('asn') && dbs.has('country') && dbs.has('anonymous')).toBe(true);
  });

  it.each([
    ['1.128.0.1', 1221, 'Telstra Pty Ltd'],
    ['12.81.92.1', 7018, 'AT&T Services'],
    ['12.81.96.1', 7018, undefined],
    ['2600:6000::1', 237, 'Merit Network Inc.'],
    ['::ffff:1.128.0.1', 1221, 'Telstra Pty Ltd'],
    ['2002:180:1::', 1221, 'Telstra Pty Ltd'], // 6to4 of 1.128.0.1
  ])('ASN of %s', (ip, asn, org) => {
    const facts = dbs.lookup(ip);
    expect(facts.asn).toBe(asn);
    expect(facts.asOrg).toBe(org);
  });

  it.each([
    ['216.160.83.56', 'US', ['US-WA']],
    ['2.125.160.216', 'GB', ['GB-ENG', 'GB-WBK']],
    ['89.160.20.112', 'SE', ['SE-E']],
    ['214.78.120.1', 'US', ['US-CA']],
    ['2001:480:10::1', 'US', ['US-CA']],
    ['::ffff:81.2.69.160', 'GB', ['GB-ENG']],
    ['2001:218::1', 'JP', undefined],
  ])('country and ISO 3166-2 subdivisions of %s', (ip, country, subdivisions) => {
    const facts = dbs.lookup(ip);
    expect(facts.country).toBe(country);
    expect(facts.subdivisions).toEqual(subdivisions);
  });

  it('anonymous-IP flags', () => {
    const none = { any: false, vpn: false, hosting: false, publicProxy: false, tor: false, residentialProxy: false };
    expect(dbs.lookup('81.2.69.1').anonymous).toEqual({ any: true, vpn: true, hosting: true, publicProxy: true, tor: true, residentialProxy: true });
    expect(dbs.lookup('1.124.213.1').anonymous).toEqual({ ...none, any: true, vpn: true, tor: true });
    expect(dbs.lookup('65.7.255.255').anonymous).toEqual({ ...none, any: true, tor: true });
    expect(dbs.lookup('71.160.223.7').anonymous).toEqual({ ...none, any: true, hosting: true });
    expect(dbs.lookup('186.30.236.9').anonymous).toEqual({ ...none, any: true, publicProxy: true });
    expect(dbs.lookup('6.1.0.4').anonymous).toEqual({ ...none, any: true, residentialProxy: true });
    expect(dbs.lookup('abcd:1000::1').anonymous).toEqual({ ...none, any: true, publicProxy: true });
    expect(dbs.lookup('::ffff:1.2.0.1').anonymous).toEqual({ ...none, any: true, vpn: true });
    expect(dbs.lookup('2002:102:1::').anonymous).toEqual({ ...none, any: true, vpn: true }); // 6to4 of 1.2.0.1
    // A miss in a loaded database is "not anonymous", not "unknown".
    expect(dbs.lookup('1.124.213.2').anonymous).toEqual(none);
    expect(dbs.lookup('65.8.0.1').anonymous).toEqual(none);
  });

  it('every network in the anonymous-IP source JSON answers with its flags', () => {
    const source = JSON.parse(readFileSync(mmdb('GeoIP2-Anonymous-IP-Test.json'), 'utf8')) as Record<string, Record<string, boolean>>[];
    for (const item of source) {
      for (const [network, rec] of Object.entries(item)) {
        const first = network.split('/')[0] as string;
        const ip = first.startsWith('::') && first.includes('.') ? first.slice(2) : first;
        const a = dbs.lookup(ip).anonymous;
        expect(a, network).toEqual({
          any: rec.is_anonymous === true,
          vpn: rec.is_anonymous_vpn === true,
          hosting: rec.is_hosting_provider === true,
          publicProxy: rec.is_public_proxy === true,
          tor: rec.is_tor_exit_node === true,
          residentialProxy: rec.is_residential_proxy === true,
        });
      }
    }
  });

  it('misses and junk give empty facts, never a throw', () => {
    expect(dbs.lookup('8.8.8.8')).toEqual({ anonymous: expect.objectContaining({ any: false }) });
    for (const junk of ['', '   ', 'not-an-ip', '1.2.3', '999.1.1.1', 'fe80::1%eth0', '::ffff:']) {
      expect(() => dbs.lookup(junk)).not.toThrow();
      const facts = dbs.lookup(junk);
      expect(facts.asn).toBeUndefined();
      expect(facts.country).toBeUndefined();
    }
  });
});

describe('missing, wrong and changing files', () => {
  let dir: string;
  let dbs: GeoDatabases | undefined;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-geo-'));
  });
  afterEach(() => dbs?.close());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing database is reported, not thrown, and lookups skip it', async () => {
    dbs = await GeoDatabases.open({ asn: join(dir, 'nope.mmdb'), country: COUNTRY, watch: false });
    expect(dbs.status()[0]).toMatchObject({ db: 'asn', ok: false, serving: false, error: 'file not found', loads: 0 });
    expect(dbs.has('asn')).toBe(false);
    expect(dbs.has('anonymous')).toBe(false); // not configured
    expect(dbs.lookup('81.2.69.160')).toEqual({ country: 'GB' });
  });

  it('a database of the wrong type is refused', async () => {
    dbs = await GeoDatabases.open({ asn: COUNTRY, watch: false });
    expect(dbs.status()[0]).toMatchObject({ ok: false, serving: false, error: 'database type "GeoIP2-Country" is not an ASN database' });
  });

  it('reloads on change; a corrupt replacement keeps the old reader and reports', async () => {
    const path = join(dir, 'geo.mmdb');
    copyFileSync(COUNTRY, path);
    const seen: GeoDbStatus[] = [];
    dbs = await GeoDatabases.open({ country: path, pollIntervalMs: 20, onStatus: (s) => seen.push(s) });
    const gen0 = dbs.generation;
    expect(dbs.lookup('216.160.83.56')).toEqual({ country: 'US' });

    // Atomic replace, as a ConfigMap/volume update or geoipupdate does it.
    copyFileSync(CITY, `${path}.tmp`);
    renameSync(`${path}.tmp`, path);
    await vi.waitFor(() => expect(dbs?.status()[0]?.loads).toBe(2), { timeout: 5_000, interval: 20 });
    expect(dbs.lookup('216.160.83.56')).toEqual({ country: 'US', subdivisions: ['US-WA'] });
    expect(dbs.generation).toBeGreaterThan(gen0);

    writeFileSync(path, 'this is not an mmdb file, just garbage from a bad copy');
    await vi.waitFor(() => expect(dbs?.status()[0]?.ok).toBe(false), { timeout: 5_000, interval: 20 });
    const status = dbs.status()[0];
    expect(status).toMatchObject({ ok: false, serving: true, databaseType: 'GeoIP2-City', loads: 2 });
    expect(status?.error).toMatch(/keeping the previously loaded database/);
    expect(dbs.lookup('216.160.83.56')).toEqual({ country: 'US', subdivisions: ['US-WA'] });

    rmSync(path);
    await vi.waitFor(() => expect(dbs?.status()[0]?.error).toMatch(/^file not found/), { timeout: 5_000, interval: 20 });
    expect(dbs.lookup('216.160.83.56').country).toBe('US');

    copyFileSync(COUNTRY, `${path}.tmp`);
    renameSync(`${path}.tmp`, path);
    await vi.waitFor(() => expect(dbs?.status()[0]).toMatchObject({ ok: true, loads: 3 }), { timeout: 5_000, interval: 20 });
    expect(dbs.lookup('216.160.83.56')).toEqual({ country: 'US' });
    // In-place writes can be seen half-done (one more failed attempt); the shape is what matters.
    const oks = seen.map((s) => s.ok);
    expect(oks.slice(0, 2)).toEqual([true, true]);
    expect(oks.at(-1)).toBe(true);
    expect(oks.filter((ok) => !ok).length).toBeGreaterThanOrEqual(2);
  });

  it('a database that appears after start is picked up', async () => {
    const path = join(dir, 'late-asn.mmdb');
    dbs = await GeoDatabases.open({ asn: path, pollIntervalMs: 20 });
    expect(dbs.status()[0]).toMatchObject({ ok: false, serving: false });
    copyFileSync(ASN, path);
    await vi.waitFor(() => expect(dbs?.has('asn')).toBe(true), { timeout: 5_000, interval: 20 });
    expect(dbs.lookup('1.0.0.1')).toEqual({ asn: 15169, asOrg: 'Google Inc.' });
  });

  it('an explicit reload() re-reads on demand', async () => {
    const path = join(dir, 'manual.mmdb');
    copyFileSync(COUNTRY, path);
    dbs = await GeoDatabases.open({ country: path, watch: false });
    copyFileSync(CITY, path);
    await dbs.reload('country');
    expect(dbs.lookup('214.78.120.1').subdivisions).toEqual(['US-CA']);
  });
});
