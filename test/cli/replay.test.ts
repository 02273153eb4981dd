// `portcullis replay` as a user runs it: a subprocess, fixture files under test/fixtures/replay/, and for
// --policy a live server started on the same ThreatPolicy file that must refuse what replay predicts.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
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
const tmp = mkdtempSync(join(tmpdir(), 'portcullis-replay-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface DecisionLine { time: string; source: string; answer: string; reason: string; level: string; detections: string; result: string; label: string }
/** A --decisions CSV file. */
function readDecisions(path: string): DecisionLine[] {
  const [head, ...lines] = readFileSync(path, 'utf8').trimEnd().split('\n');
  expect(head).toBe('time,source,answer,reason,level,detections,result,label');
  return lines.map((l) => {
    const [time, source, answer, reason, level, detections, result, label] = l.split(',');
    return { time: time!, source: source!, answer: answer!, reason: reason!, level: level!, detections: detections!, result: result!, label: label! };
  });
}

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
    const decisionsFile = join(tmp, 'tuned-decisions.csv');
    const r = await replayCli(SIGNINS, '--policy', POLICY, '--json', '--decisions', decisionsFile);
    expect(r.code, r.stderr).toBe(0);
    const predicted = selectedOf(r.stdout);
    const predictedAnswers = readDecisions(decisionsFile).map((d) => d.answer);
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
    const liveAnswers: string[] = [];
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
        liveAnswers.push(denied ? String(status) : 'allowed');
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
    // And record by record: allowed, 429 or 403, exactly as --decisions predicted.
    expect(liveAnswers).toEqual(predictedAnswers);
    expect(liveAnswers.filter((a) => a !== 'allowed').length).toBeGreaterThanOrEqual(10);
  });
});

const MAPPED = `${DIR}/mapped.csv`;
const CANONICAL = `${DIR}/mapped-canonical.csv`;
const MAP_FLAGS = ['--columns', 'time=datetime,ip=source_ip,username=user,success=result,reason=failure_reason,label=is_attack', '--values', 'success=SUCCESS,failure=FAILURE,unknown_user=USER_NOT_FOUND'];

interface Figures {
  setting: string;
  records: number;
  denied: number;
  successes: number;
  successesDenied: number;
  labels: { attackAttempts: number; legitimateAttempts: number; attacksDenied: number; legitimateDenied: number; precision: number | null; recall: number | null } | null;
  blocked: Array<{ source: string; firstBlock: string; allowedBeforeBlock: number }>;
}
interface Output { input: { records: number; from: string; zoneless: number; timezone: string; seeded: boolean; labels: unknown }; settings: Figures[] }
const json = (stdout: string) => JSON.parse(stdout) as Output;

describe('replay as a user needs it (a subprocess on fixture files)', { timeout: 120_000 }, () => {
  it('--columns and --values read another log\'s names and values; a failure reason can mean unknown_user', async () => {
    const [mapped, canonical] = await Promise.all([replayCli(MAPPED, ...MAP_FLAGS, '--seed', '7', '--json'), replayCli(CANONICAL, '--seed', '7', '--json')]);
    expect(mapped.code, mapped.stderr).toBe(0);
    const a = json(mapped.stdout);
    const b = json(canonical.stdout);
    expect(a.input.records).toBe(28);
    expect(a.settings).toEqual(b.settings);
    // The unknown-user enumerator is seen as one (its failures carry USER_NOT_FOUND as their reason).
    expect(a.settings[0]!.blocked.map((x) => x.source)).toContain('198.18.0.9');
    // JSON lines with nested fields (an identity provider's system log), by dotted key.
    const nested = await replayCli(`${DIR}/mapped-nested.jsonl`, '--columns', 'time=published,ip=client.ipAddress,username=actor.alternateId,success=outcome.result,reason=outcome.reason', '--values', 'success=SUCCESS,failure=FAILURE,unknown_user=USER_NOT_FOUND,attack=1,legit=0', '--seed', '7', '--json');
    expect(nested.code, nested.stderr).toBe(0);
    expect(json(nested.stdout).settings).toEqual(b.settings);
    // Without the mapping the same file has no valid record: exit 1, saying why.
    const unmapped = await replayCli(MAPPED);
    expect(unmapped.code).toBe(1);
    expect(unmapped.stderr).toContain(`no valid record in ${MAPPED}`);
    // Unknown fields and keys are usage errors.
    expect((await replayCli(MAPPED, '--columns', 'when=datetime')).code).toBe(2);
    expect((await replayCli(MAPPED, '--values', 'success=*,failure=*')).code).toBe(2);
  });

  it('times like 2018-11-01 00:00:00 are UTC unless --timezone says otherwise, and the output says which', async () => {
    const [utc, paris, offset] = await Promise.all([
      replayCli(MAPPED, ...MAP_FLAGS, '--seed', '1', '--json'),
      replayCli(MAPPED, ...MAP_FLAGS, '--seed', '1', '--json', '--timezone', 'Europe/Paris'),
      replayCli(MAPPED, ...MAP_FLAGS, '--seed', '1', '--json', '--timezone', '+05:30'),
    ]);
    expect(json(utc.stdout).input).toMatchObject({ from: '2018-11-01T00:00:05.000Z', zoneless: 28, timezone: 'UTC' });
    expect(json(paris.stdout).input).toMatchObject({ from: '2018-10-31T23:00:05.000Z', zoneless: 28, timezone: 'Europe/Paris' }); // CET, +01:00
    expect(json(offset.stdout).input).toMatchObject({ from: '2018-10-31T18:30:05.000Z', timezone: '+05:30' });
    // Times that name their zone are not moved.
    expect(json((await replayCli(CANONICAL, '--json', '--timezone', 'Europe/Paris')).stdout).input).toMatchObject({ from: '2018-11-01T00:00:05.000Z', zoneless: 0 });
    const text = await replayCli(MAPPED, ...MAP_FLAGS);
    expect(text.stdout).toContain('28 times have no zone: read as UTC (--timezone to change)');
    expect((await replayCli(MAPPED, ...MAP_FLAGS, '--timezone', 'Europe/Paris')).stdout).toContain('28 times have no zone: read as Europe/Paris');
    const bad = await replayCli(MAPPED, ...MAP_FLAGS, '--timezone', 'Mars/Olympus_Mons');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--timezone');
  });

  it('exits non-zero when no record is valid', async () => {
    const r = await replayCli(`${DIR}/no-valid.csv`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no valid record in test/fixtures/replay/no-valid.csv (3 bad lines; the first:');
    expect(r.stderr).toContain('line 4: ip: not an IP address');
    expect(r.stdout).toBe('');
  });

  it('--decisions writes one line per attempt: time, source, allowed/429/403, reason, level', async () => {
    const file = join(tmp, 'decisions.csv');
    const r = await replayCli(MAPPED, ...MAP_FLAGS, '--seed', '3', '--json', '--decisions', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`28 decisions written to ${file}`);
    const lines = readDecisions(file);
    const selected = json(r.stdout).settings[0]!;
    expect(lines).toHaveLength(28);
    expect(lines.map((l) => l.time)).toEqual([...lines.map((l) => l.time)].sort());
    for (const l of lines) {
      expect(['allowed', '429', '403']).toContain(l.answer);
      expect(['NONE', 'LOW', 'MEDIUM', 'HIGH']).toContain(l.level);
      expect(l.answer === 'allowed' ? ['allowed', 'threat_detected'] : ['threat_block', 'threat_rate_limit']).toContain(l.reason);
    }
    expect(lines.filter((l) => l.answer !== 'allowed')).toHaveLength(selected.denied);
    // A source is let through until its first block starts (at the attempt that started it), refused after.
    for (const b of selected.blocked) {
      const own = lines.filter((l) => l.source === b.source);
      expect(own.filter((l) => l.time < b.firstBlock).every((l) => l.answer === 'allowed'), b.source).toBe(true);
      expect(own.find((l) => l.answer !== 'allowed')!.time >= b.firstBlock, b.source).toBe(true);
      expect(own.filter((l) => l.time <= b.firstBlock).length - own.filter((l) => l.time <= b.firstBlock && l.answer !== 'allowed').length, b.source).toBe(b.allowedBeforeBlock);
    }
    expect(lines.find((l) => l.answer === '429')).toMatchObject({ reason: 'threat_rate_limit', level: 'MEDIUM' });
    expect(lines[0]).toMatchObject({ time: '2018-11-01T00:00:05.000Z', source: '203.0.113.10', answer: 'allowed', reason: 'allowed', level: 'NONE', result: 'success', label: 'legit' });
    // JSON lines for a .jsonl name.
    const jl = join(tmp, 'decisions.jsonl');
    expect((await replayCli(MAPPED, ...MAP_FLAGS, '--seed', '3', '--decisions', jl)).code).toBe(0);
    const docs = readFileSync(jl, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as { answer: string; detections: Record<string, string> });
    expect(docs.map((d) => d.answer)).toEqual(lines.map((l) => l.answer));
  });

  it('a label column gives precision and recall per setting; successes labelled attack are not false positives', async () => {
    const file = join(tmp, 'labelled.csv');
    const r = await replayCli(CANONICAL, '--seed', '5', '--json', '--set', 'bruteForce.medium=6', '--decisions', file);
    expect(r.code, r.stderr).toBe(0);
    const out = json(r.stdout);
    expect(out.input.labels).toEqual({ attack: 19, legit: 7 });
    // The selected setting's figures, recomputed from its decisions and the labels.
    const lines = readDecisions(file);
    const refused = (l: DecisionLine) => l.answer !== 'allowed';
    const attacks = lines.filter((l) => l.label === 'attack');
    const tp = attacks.filter(refused).length;
    const fp = lines.filter((l) => l.label === 'legit' && refused(l)).length;
    const selected = out.settings.at(-1)!;
    expect(selected.labels).toEqual({ attackAttempts: attacks.length, legitimateAttempts: 7, attacksDenied: tp, legitimateDenied: fp, precision: tp / (tp + fp), recall: tp / attacks.length });
    for (const s of out.settings) expect(s.labels?.recall).toBeGreaterThan(0);
    // The attacker's one success (it guessed the password) is refused, and is not counted as a false positive.
    const attackSuccessRefused = lines.filter((l) => l.result === 'success' && l.label === 'attack' && refused(l)).length;
    expect(attackSuccessRefused).toBe(1);
    expect(selected.successesDenied).toBe(lines.filter((l) => l.result === 'success' && l.label !== 'attack' && refused(l)).length);
    // Without the label column the same records count it as one.
    const unlabelledPath = join(tmp, 'unlabelled.csv');
    writeFileSync(unlabelledPath, readFileSync(CANONICAL, 'utf8').split('\n').map((l) => l.replace(/,[^,]*$/, '')).join('\n'));
    const plain = json((await replayCli(unlabelledPath, '--seed', '5', '--json', '--set', 'bruteForce.medium=6')).stdout).settings.at(-1)!;
    expect(plain.labels).toBeNull();
    expect(plain.successesDenied).toBe(selected.successesDenied + attackSuccessRefused);
    expect(plain.successes).toBe(selected.successes + 1);
    const text = await replayCli(CANONICAL, '--seed', '5');
    expect(text.stdout).toMatch(/\| Precision \(refused that were attacks\) \| Recall \(attacks refused\) \|/);
    expect(text.stdout).toContain('labels: 19 attack and 7 legitimate records (2 unlabelled)');
  });

  it('--seed makes hashing, and so every figure, reproducible', async () => {
    // 200 sources failing on 3 usernames each: a source counts 3 (spray MEDIUM here) unless two of its names
    // share a bit of its 32-bit sketch, which depends on the hashing key.
    const args = [`${DIR}/spray-sketch.csv`, '--json', '--set', 'passwordSpray.low=2,passwordSpray.medium=3,passwordSpray.high=10'];
    const [a1, a2, b] = await Promise.all([replayCli(...args, '--seed', 'tuning-42'), replayCli(...args, '--seed', 'tuning-42'), replayCli(...args, '--seed', 'tuning-43')]);
    expect(a1.code, a1.stderr).toBe(0);
    expect(a2.stdout).toBe(a1.stdout);
    expect(json(a1.stdout).input.seeded).toBe(true);
    const blocked = (o: string) => json(o).settings.find((x) => (x as unknown as { selected: boolean }).selected)!.blocked.map((x) => x.source).sort();
    const sa = blocked(a1.stdout);
    expect(sa.length).toBeGreaterThan(150);
    expect(sa.length).toBeLessThan(200);
    expect(blocked(b.stdout)).not.toEqual(sa);
    expect((await replayCli(`${DIR}/signins.csv`, '--seed', 'tuning-42')).stdout).toContain('usernames hashed with the --seed key: every figure is reproducible');
    expect((await replayCli(`${DIR}/signins.csv`)).stdout).toContain('usernames hashed with a random key');
  });
});
