import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestInstance, ZONES_YAML, type TestInstance } from '../helpers/portcullis.ts';

const run = promisify(execFile);

/** Runs the installed CLI entry point exactly as `npx portcullis` would. */
async function portcullis(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/portcullis.js', ...args], { env: { ...process.env, PORTCULLIS_CONFIG: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('portcullis CLI', { timeout: 60_000 }, () => {
  it('check-config accepts the bundled example and summarises it', async () => {
    const r = await portcullis('check-config', 'deploy/examples');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('zone known-attackers: Blocklist');
    expect(r.stdout).toContain('valid');
  });

  it('check-config exits 1 naming file, object and field', async () => {
    const r = await portcullis('check-config', 'test/fixtures/config/bad/host-bits-set.yaml');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('host-bits-set.yaml (document 1): IPZone "x" spec.gateways[0]');
  });

  it('explain walks the chain and decides', async () => {
    const r = await portcullis('explain', '--config', 'deploy/examples', '--peer', '10.0.4.2', '--xff', '192.0.2.10, 10.0.7.1', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ client: '192.0.2.10', resolution: 'first-untrusted', verdict: 'deny', reason: 'blocklist_zone', zone: 'known-attackers' });
    expect(report.chain.map((h: { ip: string; trustedProxy: boolean }) => [h.ip, h.trustedProxy])).toEqual([['192.0.2.10', false], ['10.0.7.1', true], ['10.0.4.2', true]]);
  });

  it('usage errors exit 2 with a clear message', async () => {
    expect((await portcullis('nope')).code).toBe(2);
    const bad = await portcullis('serve', '--config', 'deploy/examples', '--grpc-address', 'localhost');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--grpc-address: expected host:port');
    const noPeer = await portcullis('explain', '--config', 'deploy/examples');
    expect(noPeer.stderr).toContain('--peer is required');
    const unknownFlag = await portcullis('check-config', '--frobnicate');
    expect(unknownFlag.code).toBe(2);
  });

  it('serve --help lists every flag with its environment variable', async () => {
    const r = await portcullis('serve', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('PORTCULLIS_GRPC_ADDRESS');
    expect(r.stdout).toContain('--failure-mode');
  });
});

describe('explain --server', { timeout: 60_000 }, () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await startTestInstance({ 'zones.yaml': ZONES_YAML });
  });
  afterAll(async () => inst.stop());

  it('adds the live detector state from a running sidecar', async () => {
    const r = await portcullis('explain', '--config', inst.dir, '--peer', '10.0.0.1', '--xff', '198.18.3.3', '--server', inst.adminBase);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('server:   org normal');
    expect(r.stdout).toContain('client not tracked');
  });
});
