import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/config/compile.ts';
import { loadPaths } from '../../src/sources/files.ts';
import { formatIssues } from '../../src/config/reloader.ts';

const BAD = 'test/fixtures/config/bad';

/** All problems a config produces, as users see them (file loading, schema, then compile). */
function problems(path: string): string[] {
  const batch = loadPaths([path]);
  const { issues } = compile(batch.objects, 1, 0);
  return formatIssues([...batch.issues, ...issues]);
}

describe('config validation: one fixture per kind of bad input', () => {
  const fixtures = readdirSync(BAD).filter((f) => f.endsWith('.yaml'));
  it('has fixtures', () => expect(fixtures.length).toBeGreaterThanOrEqual(15));

  for (const file of fixtures) {
    it(file, () => {
      const path = join(BAD, file);
      const expected = /^# expect: (.*)$/m.exec(readFileSync(path, 'utf8'))![1]!;
      const found = problems(path);
      expect(found.length).toBeGreaterThan(0);
      // Every message names the file, and one names the object and field as the fixture says.
      for (const p of found) expect(p.startsWith(path)).toBe(true);
      expect(found.join('\n')).toContain(expected);
    });
  }
});

describe('valid config', () => {
  it('the bundled example compiles with no problems', () => {
    expect(problems('deploy/examples')).toEqual([]);
    const { snapshot } = compile(loadPaths(['deploy/examples']).objects, 1, 0);
    expect(snapshot.policy).toMatchObject({ name: 'default', action: 'Audit', exemptZones: ['office'] });
    expect(snapshot.zones.map((z) => z.name).sort()).toEqual(['infrastructure', 'known-attackers', 'office']);
  });

  it('a missing path is reported, not thrown', () => {
    expect(problems('/nonexistent/portcullis.yaml').join()).toContain('cannot read: ENOENT');
  });

  it('without a ThreatPolicy, an implicit Audit policy on the default sign-in routes applies', () => {
    const { snapshot, issues } = compile([], 1, 0);
    expect(issues).toEqual([]);
    expect(snapshot.policy.action).toBe('Audit');
    expect(snapshot.policy.signIn.usesDefaults).toBe(true);
    expect(snapshot.policy.signIn.matches('POST', '/oauth2/v1/token?grant_type=password', 'x')).toBe(true);
    expect(snapshot.policy.signIn.matches('GET', '/login', 'x')).toBe(false);
  });
});

describe('config issues carry stable error codes', () => {
  const codesOf = (path: string) => {
    const batch = loadPaths([path]);
    const { issues } = compile(batch.objects, 1, 0);
    return [...batch.issues, ...issues].map((i) => i.code);
  };
  it.each([
    ['bad-yaml.yaml', 'CONFIG_PARSE'],
    ['unknown-field.yaml', 'CONFIG_SCHEMA'],
    ['host-bits-set.yaml', 'CONFIG_SCHEMA'],
    ['duplicate-name.yaml', 'CONFIG_DUPLICATE'],
    ['missing-exempt-zone.yaml', 'CONFIG_REFERENCE'],
    ['exempt-blocklist-zone.yaml', 'CONFIG_REFERENCE'],
    ['two-policies.yaml', 'CONFIG_CONFLICT'],
    ['proxies-on-blocklist.yaml', 'CONFIG_SCHEMA'],
    ['bad-regex.yaml', 'CONFIG_SCHEMA'],
    ['not-a-mapping.yaml', 'CONFIG_SCHEMA'],
  ])('%s → %s', (file, code) => {
    expect(codesOf(join(BAD, file))).toContain(code);
  });
  it('a missing path → CONFIG_IO', () => {
    expect(codesOf('/nonexistent/portcullis.yaml')).toEqual(['CONFIG_IO']);
  });
});

