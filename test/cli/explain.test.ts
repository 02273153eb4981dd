// `explain` as a subprocess against the real server: the same config, the same answer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlsClient, alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { eventually, lbPolicyYaml, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';

const exec = promisify(execFile);

async function explain(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['bin/portcullis.js', 'explain', ...args], { env: { ...process.env, PORTCULLIS_CONFIG: '', PORTCULLIS_ADMIN_TOKEN: '' } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const FEEDS_YAML = `
apiVersion: portcullis.dev/v1alpha1
kind: ThreatFeed
metadata: { name: incident }
spec:
  source: { inline: [{ address: 198.18.7.0/24 }] }
  semantics: Blocklist
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatFeed
metadata: { name: scanners }
spec:
  source: { inline: [{ address: 198.18.9.9 }] }
  level: HIGH
`;

/** The server's answer to one sign-in Check: the reason from the denial body, or allowed. */
async function serverReason(authz: AuthzClient, client: string): Promise<string> {
  const res = await authz.check(envoyCheckRequest({ peer: '10.0.0.5', headers: { 'x-forwarded-for': client } }));
  if (!res.deniedResponse) return 'allowed';
  return (JSON.parse(res.deniedResponse.body ?? '{}') as { reason: string }).reason;
}

// Each case starts CLI processes (tsx compiles on start): generous timeouts for a loaded CI machine.
describe('explain runs the server decision (feeds, live detectors)', { timeout: 60_000 }, () => {
  let inst: TestInstance;
  let authz: AuthzClient;
  beforeAll(async () => {
    inst = await startTestInstance({ 'policy.yaml': lbPolicyYaml('Block'), 'feeds.yaml': FEEDS_YAML });
    authz = new AuthzClient(inst.grpcTarget);
  });
  afterAll(async () => {
    authz.close();
    await inst.stop();
  });

  it('a Blocklist-feed IP is denied as blocklist_feed, as the server does', async () => {
    expect(await serverReason(authz, '198.18.7.20')).toBe('blocklist_feed');
    const r = await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', '198.18.7.20', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ client: '198.18.7.20', verdict: 'deny', httpStatus: 403, reason: 'blocklist_feed', feed: 'incident' });
  });

  it('a HIGH ThreatLevel feed blocks a sign-in under a Block policy, as the server does', async () => {
    expect(await serverReason(authz, '198.18.9.9')).toBe('threat_block');
    const r = await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', '198.18.9.9');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/verdict: {2}deny 403 — threat_block \(threat HIGH: threat_feed=HIGH\)/);
    expect(r.stdout).toContain('assuming POST /login (a sign-in route of policy default); use --method/--path');
  });

  it('with --server, a client the server blocked gets the block as its one verdict', async () => {
    const attacker = '198.18.66.6';
    const als = new AlsClient(inst.grpcTarget);
    try {
      als.send(Array.from({ length: 10 }, () => alsEntry({ status: 401, xff: attacker })));
      await eventually(async () => (await serverReason(authz, attacker)) === 'threat_block', 10_000);
    } finally {
      als.close();
    }
    const without = await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', attacker, '--json');
    expect(JSON.parse(without.stdout)).toMatchObject({ verdict: 'allow', reason: 'allowed' });
    expect(JSON.parse(without.stdout).assumptions).toContain('no --server: detector state (brute force, spraying, blocks) is not considered');

    const r = await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', attacker, '--server', inst.adminBase, '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ verdict: 'deny', httpStatus: 403, reason: 'threat_block', retryAfterSeconds: null });
    expect(['MEDIUM', 'HIGH']).toContain(report.threat.level);
    expect(report.server).toMatchObject({ tracked: true, detectors: { block: { active: true, level: 'HIGH' } } });

    const text = await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', attacker, '--server', inst.adminBase);
    expect(text.stdout).toContain('verdict:  deny 403 — threat_block');
    expect(text.stdout).not.toContain('allow 200');
  });

  it('names the method and path it used when they are given', async () => {
    const r = await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', '192.0.2.1', '--method', 'GET', '--path', '/', '--host', 'a.example', '--json');
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ method: 'GET', path: '/', signIn: false, verdict: 'allow' });
    expect(report.assumptions.join('\n')).not.toContain('assuming');
  });
});

describe('explain shows the detection settings in force', { timeout: 60_000 }, () => {
  it('the policy\'s spec.detection, as the running server applied them', async () => {
    const yaml = `${lbPolicyYaml('Block')}  detection:\n    bruteForce: { high: 20 }\n    block: 1h\n    aggressive: { block: 2h }\n    orgUnderAttack: { minFailures: 10 }\n    underAttack: { refuseUnproven: true }\n`;
    const inst = await startTestInstance({ 'policy.yaml': yaml });
    try {
      const r = await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', '192.0.2.1', '--json');
      expect(r.code).toBe(0);
      const { detection } = JSON.parse(r.stdout) as { detection: { changed: string[]; settings: Record<string, any> } };
      expect(detection.changed).toEqual(['bruteForce.high=20', 'block=1h', 'aggressive.block=2h', 'orgUnderAttack.minFailures=10', 'underAttack.refuseUnproven=true']);
      expect(detection.settings.underAttack).toEqual({ refuseUnfamiliar: false, refuseUnproven: true, retryAfter: '1m' });
      // Every field, as the server runs it.
      const { engine, org } = inst.running;
      expect(detection.settings.bruteForce).toEqual({ window: '10m', low: engine.thresholds.bruteForce.low, medium: engine.thresholds.bruteForce.medium, high: engine.thresholds.bruteForce.high });
      expect(engine.thresholds.bruteForce.high).toBe(20);
      expect(engine.thresholds.blockMs).toBe(3_600_000);
      expect(engine.aggressiveThresholds.blockMs).toBe(7_200_000);
      expect(org.options.minFailures).toBe(10);
      const text = await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', '192.0.2.1');
      expect(text.stdout).toContain('detection: spec.detection sets bruteForce.high=20, block=1h, aggressive.block=2h, orgUnderAttack.minFailures=10, underAttack.refuseUnproven=true');
      expect(text.stdout).toContain('underAttack: while declared, refused (429, Retry-After 1m) unless familiar to the account: sources never seen to succeed');
      expect(text.stdout).toMatch(/^ {2}bruteForce {11}10m {5}5\/8\/20 {11}3\/6\/7$/m); // aggressive medium 6 (docs/detection.md)
      expect(text.stdout).toContain('blocks: HIGH 1h (under attack 2h)');
    } finally {
      await inst.stop();
    }
  });
});

describe('explain --server says when the server runs other detection settings', { timeout: 60_000 }, () => {
  it('no warning with the server\'s own config; a warning naming each differing field with another', async () => {
    const yaml = (high: number) => `${lbPolicyYaml('Block')}  detection:\n    bruteForce: { high: ${high} }\n`;
    const inst = await startTestInstance({ 'policy.yaml': yaml(20) });
    const other = mkdtempSync(join(tmpdir(), 'portcullis-explain-other-'));
    try {
      writeFileSync(join(other, 'policy.yaml'), yaml(30));
      const same = JSON.parse((await explain('--config', inst.dir, '--peer', '10.0.0.5', '--xff', '192.0.2.1', '--server', inst.adminBase, '--json')).stdout);
      expect(same.warnings.filter((w: string) => w.includes('spec.detection'))).toEqual([]);
      const r = await explain('--config', other, '--peer', '10.0.0.5', '--xff', '192.0.2.1', '--server', inst.adminBase, '--json');
      expect(r.code).toBe(0);
      const drift = JSON.parse(r.stdout).warnings.filter((w: string) => w.includes('spec.detection'));
      expect(drift).toHaveLength(1);
      expect(drift[0]).toContain("the server's spec.detection differs from this config in 1 field(s): bruteForce.high server=20 here=30");
    } finally {
      rmSync(other, { recursive: true, force: true });
      await inst.stop();
    }
  });
});

describe('explain exits non-zero when it cannot answer', { timeout: 60_000 }, () => {
  it('an admin address that wants a token it was not given; with --admin-token it answers', async () => {
    const token = 'explain-test-admin-token-1234';
    const inst = await startTestInstance({ 'policy.yaml': lbPolicyYaml('Block') }, { 'admin-token': token });
    try {
      const args = ['--config', inst.dir, '--peer', '10.0.0.5', '--xff', '198.18.1.1', '--server', inst.adminBase];
      const refused = await explain(...args);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('answered 401: give the admin token with --admin-token or PORTCULLIS_ADMIN_TOKEN');
      const ok = await explain(...args, '--admin-token', token);
      expect(ok.code).toBe(0);
      expect(ok.stdout).toContain('server:   org normal');
    } finally {
      await inst.stop();
    }
  });


  it('an unreachable --server', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await explain('--config', 'deploy/examples', '--peer', '10.0.4.2', '--xff', '198.51.100.7', '--server', `http://127.0.0.1:${port}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach http://127.0.0.1:${port}: ECONNREFUSED`);
    expect(r.stdout).toBe('');
  });

  it('a config with problems', async () => {
    const r = await explain('--config', 'test/fixtures/config/bad/host-bits-set.yaml', '--peer', '10.0.4.2');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('config has problems');
  });

  it('a --server that is not a URL is a usage error', async () => {
    const r = await explain('--config', 'deploy/examples', '--peer', '10.0.4.2', '--server', 'nope');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--server: not a URL');
  });
});
