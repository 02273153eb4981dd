// `portcullis replay` as a user runs it: a subprocess, fixture files under test/fixtures/replay/, and for
// --policy a live server started on the same ThreatPolicy file that must refuse what replay predicts.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { AlsClient, alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { eventually, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';

const exec = promisify(execFile);
const DIR = 'test/fixtures/replay';
const POLICY = `${DIR}/tuned-policy.yaml`;
const SIGNINS = `${DIR}/tuned-signins.csv`;
// The same fields as tuned-policy.yaml's spec.detection, as --set overrides.
const TUNED_SET = 'bruteForceShort.low=2,bruteForceShort.medium=3,bruteForceShort.high=6,bruteForce.low=3,bruteForce.medium=4,bruteForce.high=6,'
  + 'unknownUserSpray.low=1,unknownUserSpray.medium=2,unknownUserSpray.high=4,block=30m,rateLimit=2m';

export async function replayCli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['bin/portcullis.js', 'replay', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

interface Selected {
  setting: string;
  selected: boolean;
  blocked: Array<{ source: string; firstBlock: string; firstBlockLevel: string; allowedBeforeBlock: number; denied: number }>;
  [k: string]: unknown;
}
const selectedOf = (stdout: string): Selected => (JSON.parse(stdout) as { settings: Selected[] }).settings.find((s) => s.selected)!;

let inst: TestInstance | undefined;
afterEach(async () => {
  await inst?.stop();
  inst = undefined;
});

describe('replay --policy runs exactly that ThreatPolicy', { timeout: 120_000 }, () => {
  it('gives the same figures as the same fields given with --set, and says what to deploy', async () => {
    const [byPolicy, bySet] = await Promise.all([replayCli(SIGNINS, '--policy', POLICY, '--json'), replayCli(SIGNINS, '--set', TUNED_SET, '--json')]);
    expect(byPolicy.code, byPolicy.stderr).toBe(0);
    expect(bySet.code, bySet.stderr).toBe(0);
    const a = selectedOf(byPolicy.stdout);
    const b = selectedOf(bySet.stdout);
    expect(a.setting).toBe('policy tuned');
    expect({ ...a, setting: '' }).toEqual({ ...b, setting: '' });
    // The tuned policy refuses more than the defaults do on these records.
    const defaults = (JSON.parse(byPolicy.stdout) as { settings: Selected[] }).settings[0]!;
    expect(defaults.setting).toBe('default');
    expect((a.denied as number)).toBeGreaterThan(defaults.denied as number);
    // What to deploy is the policy's own spec.detection.
    const deploy = (JSON.parse(byPolicy.stdout) as { deploy: unknown }).deploy;
    expect(deploy).toEqual({ bruteForceShort: { low: 2, medium: 3, high: 6 }, bruteForce: { low: 3, medium: 4, high: 6 }, unknownUserSpray: { low: 1, medium: 2, high: 4 }, block: '30m', rateLimit: '2m' });
    expect((JSON.parse(bySet.stdout) as { deploy: unknown }).deploy).toEqual(deploy);
    const text = await replayCli(SIGNINS, '--set', TUNED_SET);
    expect(text.stdout).toContain('To deploy default + ');
    expect(text.stdout).toMatch(/ {2}spec:\n {4}detection:\n {6}bruteForceShort:\n {8}low: 2\n/);
  });

  it('a live server started on that policy file refuses at the same attempt as replay predicts', async () => {
    const r = await replayCli(SIGNINS, '--policy', POLICY, '--json');
    expect(r.code, r.stderr).toBe(0);
    const predicted = selectedOf(r.stdout);
    expect(predicted.blocked.length).toBeGreaterThanOrEqual(3);

    // The records, in time order, through Check and the access-log stream of a server on the same file.
    const rows = readFileSync(SIGNINS, 'utf8').split('\n').filter((l) => /^\d{4}-/.test(l)).map((l) => l.split(','));
    const start = Date.parse(rows[0]![0]!);
    const clock = new ManualClock(Math.floor(start / 1000) * 1000);
    inst = await startTestInstance({ 'policy.yaml': readFileSync(POLICY, 'utf8') }, {}, clock);
    const authz = new AuthzClient(inst.grpcTarget);
    const als = new AlsClient(inst.grpcTarget);
    const received = inst.running.metrics.registry.getSingleMetric('portcullis_access_log_entries_total')!;
    const live = new Map<string, { attempts: number; allowedBeforeBlock: number; firstBlock: string; firstBlockLevel: string; denied: number }>();
    let nextTick = 0;
    try {
      for (let i = 0; i < rows.length; i++) {
        const [time, ip, username, success] = rows[i]!;
        const now = Date.parse(time!);
        // main.ts's 1 s interval, at each second with traffic (as replay and the simulator tick).
        if (now >= nextTick) {
          clock.set(Math.floor(now / 1000) * 1000);
          inst.running.learner.tick();
          nextTick = Math.floor(now / 1000) * 1000 + 1000;
        }
        clock.set(now);
        const requestId = `live-${i}`;
        const res = await authz.check(envoyCheckRequest({
          peer: '10.0.0.5', body: `username=${encodeURIComponent(username!)}&password=x`,
          headers: { 'x-forwarded-for': ip!, 'x-request-id': requestId, 'content-type': 'application/x-www-form-urlencoded' },
        }));
        const denied = res.status?.code !== 0;
        const status = denied ? (res.deniedResponse?.status?.code === 'TooManyRequests' ? 429 : 403) : success === 'true' ? 200 : 401;
        als.send([alsEntry({ requestId, status, xff: ip, deniedByExtAuthz: denied, resultHeader: !denied && success === 'unknown_user' ? 'unknown_user' : undefined })]);
        await eventually(async () => (await received.get()).values.reduce((s, v) => s + v.value, 0) >= i + 1);
        const s = live.get(ip!) ?? { attempts: 0, allowedBeforeBlock: 0, firstBlock: '', firstBlockLevel: '', denied: 0 };
        live.set(ip!, s);
        s.attempts++;
        if (denied) {
          s.denied++;
          if (!s.firstBlock) {
            s.firstBlock = new Date(now).toISOString();
            s.firstBlockLevel = status === 403 ? 'HIGH' : 'MEDIUM';
          }
        } else if (!s.firstBlock) s.allowedBeforeBlock++;
      }
    } finally {
      authz.close();
      als.close();
    }
    // Every source replay says is refused is refused live at the same record, with the same answer, as often.
    for (const b of predicted.blocked) {
      const l = live.get(b.source);
      expect(l, b.source).toBeDefined();
      // Attempts let through before the first refusal, and refusals in all.
      expect({ source: b.source, allowedBeforeBlock: l!.allowedBeforeBlock, denied: l!.denied }).toEqual({ source: b.source, allowedBeforeBlock: b.allowedBeforeBlock, denied: b.denied });
    }
    const refusedLive = [...live].filter(([, s]) => s.denied > 0).map(([ip]) => ip).sort();
    expect(refusedLive).toEqual(predicted.blocked.map((b) => b.source).sort());
  });
});
