import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSettings, SETTING_FLAGS } from '../src/settings.ts';

describe('settings', () => {
  it('reads every flag: the flag wins over the environment, which wins over the default', () => {
    expect(readSettings({}, {}).http).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(readSettings({}, { PORTCULLIS_HTTP_ADDRESS: '127.0.0.1:9191' }).http).toEqual({ host: '127.0.0.1', port: 9191 });
    expect(readSettings({ 'http-address': '[::1]:9292' }, { PORTCULLIS_HTTP_ADDRESS: '127.0.0.1:9191' }).http).toEqual({ host: '::1', port: 9292 });
    expect(readSettings({ 'failure-mode': 'deny' }, {}).failureMode).toBe('deny');
    expect(readSettings({}, { PORTCULLIS_CONFIG: 'a.yaml, b/' }).configPaths).toEqual(['a.yaml', 'b/']);
  });

  it('names the flag and the bad value', () => {
    expect(() => readSettings({ 'failure-mode': 'maybe' }, {})).toThrow(/--failure-mode: must be one of allow, deny, got "maybe"/);
    expect(() => readSettings({ 'max-hops': '0' }, {})).toThrow(/--max-hops: must be a positive integer/);
    expect(() => readSettings({ 'http-address': 'nowhere' }, {})).toThrow(/--http-address: expected host:port/);
    expect(() => readSettings({ 'kube-namespaces': 'Bad_NS' }, {})).toThrow(/--kube-namespaces: "Bad_NS" is not a namespace name/);
    expect(() => readSettings({ 'username-key': 'short' }, {})).toThrow(/--username-key: must be at least 16 characters/);
  });

  it('reads secrets from files so they stay out of the process list', () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-settings-'));
    writeFileSync(join(dir, 'key'), 'a-username-key-of-some-length\n');
    expect(readSettings({ 'username-key': `file:${join(dir, 'key')}` }, {}).usernameKey).toBe('a-username-key-of-some-length');
    expect(() => readSettings({ 'username-key': `file:${join(dir, 'missing')}` }, {})).toThrow(/--username-key: cannot read .*missing: ENOENT/);
  });

  it('is frozen, and every flag has an environment variable and help', () => {
    const s = readSettings({}, {});
    expect(Object.isFrozen(s) && Object.isFrozen(s.kubernetes) && Object.isFrozen(s.http)).toBe(true);
    for (const [flag, row] of Object.entries(SETTING_FLAGS)) {
      expect(row.env, flag).toMatch(/^PORTCULLIS_[A-Z0-9_]+$|^KUBECONFIG$/);
      expect(row.help.length, flag).toBeGreaterThan(10);
    }
  });
});
