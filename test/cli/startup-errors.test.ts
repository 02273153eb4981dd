// `portcullis serve` and `check-config` as real processes: what cannot work is a named error and an exit code,
// never a stack trace and never a process that runs on allowing everything.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const LISTEN = ['--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'];

async function portcullis(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PORTCULLIS_') && k !== 'KUBECONFIG'));
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/portcullis.js', ...args], { env: { ...clean, ...env }, timeout: 240_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number | null; killed?: boolean; stdout: string; stderr: string };
    if (e.killed) throw new Error(`still running after 240 s (it should have exited): ${e.stderr}`);
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** The last line of stderr is the CLI's own message (log lines before it are JSON). */
function expectNamedError(r: { stderr: string }, text: string): void {
  expect(r.stderr).toContain(text);
  expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
}

describe.concurrent('serve refuses to start on what cannot work (exit 1, the problem named)', { timeout: 300_000 }, () => {
  it('a missing config path', async () => {
    const r = await portcullis(['serve', '--config', '/nonexistent', ...LISTEN]);
    expect(r.code).toBe(1);
    expectNamedError(r, 'portcullis serve: no valid config at start-up (1 problem(s)):\n  /nonexistent: cannot read: ENOENT');
  });

  it('an invalid config file', async () => {
    const r = await portcullis(['serve', '--config', 'test/fixtures/config/bad/host-bits-set.yaml', ...LISTEN]);
    expect(r.code).toBe(1);
    expectNamedError(r, 'no valid config at start-up');
    expectNamedError(r, 'host-bits-set.yaml (document 1): IPZone "x" spec.gateways[0]');
    expect(r.stderr).toContain('"msg":"config rejected; no snapshot to keep"');
    expect(r.stderr).not.toContain('"keeping":null');
  });

  it('an alias bomb in the config at start-up', async () => {
    const r = await portcullis(['serve', '--config', 'test/fixtures/config/bad/alias-bomb.yaml', ...LISTEN]);
    expect(r.code).toBe(1);
    expectNamedError(r, 'alias-bomb.yaml (document 1): YAML: aliases expand to more than 100 nodes');
  });

  it('--events in a folder that does not exist', async () => {
    const r = await portcullis(['serve', '--config', 'deploy/examples', '--events', '/nonexistent/dir/x', ...LISTEN]);
    expect(r.code).toBe(1);
    expectNamedError(r, 'portcullis serve: --events: cannot open /nonexistent/dir/x for appending: ENOENT');
  });

  it('--kubeconfig that does not exist', async () => {
    const r = await portcullis(['serve', '--config-source', 'kubernetes', '--kubeconfig', '/nonexistent', ...LISTEN]);
    expect(r.code).toBe(1);
    expectNamedError(r, 'portcullis serve: --kubeconfig /nonexistent: cannot read (ENOENT)');
  });

  it('KUBECONFIG=/dev/null (an empty kubeconfig)', async () => {
    const r = await portcullis(['serve', '--config-source', 'kubernetes', ...LISTEN], { KUBECONFIG: '/dev/null' });
    expect(r.code).toBe(1);
    expectNamedError(r, 'portcullis serve: KUBECONFIG=/dev/null: not a kubeconfig');
  });

  it('Redis without --username-key (replicas would hash usernames differently)', async () => {
    const r = await portcullis(['serve', '--config', 'deploy/examples', '--redis-url', 'redis://127.0.0.1:1', ...LISTEN]);
    expect(r.code).toBe(2);
    expectNamedError(r, 'portcullis serve: --username-key (PORTCULLIS_USERNAME_KEY) is required with --redis-url');
  });
});

describe.concurrent('check-config on hostile YAML', { timeout: 300_000 }, () => {
  it.each([
    ['alias-bomb.yaml', 'alias-bomb.yaml (document 1): YAML: aliases expand to more than 100 nodes (an alias bomb?); first alias at line 8'],
    ['undefined-alias.yaml', 'undefined-alias.yaml (document 1): YAML: alias *office refers to no anchor defined before it at line 7'],
  ])('%s: exit 1 with the problem, no stack trace', async (file, text) => {
    const r = await portcullis(['check-config', `test/fixtures/config/bad/${file}`]);
    expect(r.code).toBe(1);
    expectNamedError(r, text);
  });
});
