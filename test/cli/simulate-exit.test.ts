import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// `portcullis simulate` gates CI: a missed target exits 1 (naming it on stderr), --no-fail-on-miss exits 0.
// Delaying outcomes by a minute (Envoy's access-log flush interval) makes the brute-force target miss: the
// attackers' failures arrive after their 10th attempt.
function simulate(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['bin/portcullis.js', 'simulate', '--scenario', 'brute-force', '--scale', '0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

describe('simulate exit status', () => {
  it('0 when every target is met, 1 when one is missed, 0 with --no-fail-on-miss', async () => {
    const [met, missed, tolerated] = await Promise.all([
      simulate(),
      simulate('--als-flush-ms', '60000'),
      simulate('--als-flush-ms', '60000', '--no-fail-on-miss', '--json'),
    ]);
    expect(met.stderr).toBe('');
    expect(met.stdout).toMatch(/\| brute-force \|.*\| met, met, met \|/);
    expect(met.code).toBe(0);

    // A minute late, no success has made any source familiar yet either: the owners of the accounts being
    // guessed are strangers to them (account_brute_force), so the legitimate-denied target may miss as well.
    expect(missed.stdout).toMatch(/\| brute-force \|.*\| MISSED, (met|MISSED), met \|/);
    expect(missed.stderr).toMatch(/^portcullis simulate: [12] target\(s\) missed:\n/);
    expect(missed.stderr).toMatch(/\n {2}brute-force: attack IPs blocked by their 10th attempt ≥ 95% \(\d+\.\d% \(\d+\/\d+ IPs with ≥ 10 attempts\)\)\n/);
    expect(missed.code).toBe(1);

    const json = JSON.parse(tolerated.stdout);
    expect(json.missed.length).toBeGreaterThanOrEqual(1);
    expect(json.missed[0]).toMatch(/^brute-force: attack IPs blocked by their 10th attempt/);
    expect(json.scenarios[0].targets.filter((t: { met: boolean }) => t.met === false)).toHaveLength(json.missed.length);
    expect(tolerated.stderr).toContain('--no-fail-on-miss: exit 0');
    expect(tolerated.code).toBe(0);
  }, 240_000);
});
