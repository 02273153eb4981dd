import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TOOLS } from '../../scripts/tools.mjs';

// `npm test` on a fresh machine: the pretest step installs what the tests drive, or fails saying what to run.
describe('scripts/provision.mjs (npm pretest)', () => {
  it('runs before npm test, and CI runs nothing but the README test command', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.scripts.pretest).toBe('node scripts/provision.mjs');
    expect(readFileSync('README.md', 'utf8')).toMatch(/^npm test\b/m);
    const ci = readFileSync('.ci/run', 'utf8').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    expect(ci.at(-1)).toBe('npm test');
    expect(ci.join('\n')).not.toMatch(/apt-get/);
  });

  it('finds every tool on this machine', () => {
    const r = spawnSync(process.execPath, ['scripts/provision.mjs'], { encoding: 'utf8', env: { ...process.env, PORTCULLIS_PROVISION: 'check' } });
    expect(r.stderr).toContain(`ok: ${TOOLS.map((t) => t.name).join(', ')}`);
    expect(r.status).toBe(0);
  });

  it('a missing tool is named with the test that needs it and the apt-get command, never ignored', () => {
    const env: Record<string, string> = { ...process.env, PORTCULLIS_PROVISION: 'check', HAPROXY_BIN: '/nonexistent/haproxy', CADDY_BIN: '/nonexistent/caddy' };
    const r = spawnSync(process.execPath, ['scripts/provision.mjs'], { encoding: 'utf8', env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('haproxy: not installed — needed by test/integration/haproxy.test.ts');
    expect(r.stderr).toContain('apt-get update && apt-get install -y caddy haproxy');
  });
});
