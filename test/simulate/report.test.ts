import { describe, expect, it } from 'vitest';
import { ALLOWED, BLOCKED, RATE_LIMITED, type DriveResult } from '../../src/simulate/driver.ts';
import { summarize } from '../../src/simulate/report.ts';
import { buildScenario, SCENARIOS, type Scenario } from '../../src/simulate/scenarios.ts';
import type { SimEvent } from '../../src/simulate/traffic.ts';

const legit = (atMs: number, result: SimEvent['result'] = 'success'): SimEvent => ({ atMs, ip: '24.0.0.1', username: 'u', result, actor: 'legit', source: '24.0.0.1' });
const attack = (source: string, atMs: number, result: SimEvent['result'] = 'failure'): SimEvent => ({ atMs, ip: source, username: 'v', result, actor: 'attack', source, group: 'g' });

function run(answers: number[], extra: Partial<DriveResult> = {}): DriveResult {
  return { answers: Uint8Array.from(answers), levels: new Uint8Array(answers.length), attackStarts: [], attackEnds: [], blocksStarted: 0, ingested: {}, cooldownMs: 300_000, blockReasons: {}, wallMs: 1, ...extra };
}

describe('simulation figures', () => {
  it('counts per source: attempts before the first denial, denied by the 10th, never-denied as "never"', () => {
    const events: SimEvent[] = [];
    const answers: number[] = [];
    // A: 12 attempts, denied from the 4th on. B: 12 attempts, first denied at the 11th. C: 2 attempts, never denied.
    for (let k = 0; k < 12; k++) {
      events.push(attack('A', k));
      answers.push(k >= 3 ? BLOCKED : ALLOWED);
      events.push(attack('B', k, k === 11 ? 'success' : 'failure'));
      answers.push(k === 10 ? RATE_LIMITED : ALLOWED); // denied once, then let through again
    }
    events.push(attack('C', 1), attack('C', 2), legit(3), legit(4, 'failure'), legit(5));
    answers.push(ALLOWED, ALLOWED, ALLOWED, ALLOWED, RATE_LIMITED);
    const f = summarize({ name: 't', title: 't', durationMs: 10, events }, run(answers), 'Block');
    expect(f.legit).toEqual({ signIns: 3, failureShare: 1 / 3, denied: 1, deniedShare: 1 / 3 });
    const a = f.attack!;
    expect(a).toMatchObject({ sources: 3, attempts: 26, denied: 10, sourcesBlocked: 2, withTenAttempts: 2, blockedByTenth: 1, successesReached: 1 });
    // Before the first denial: A 3, B 10, C never -> sorted [3, 10, never]: median 10, p95 never.
    expect(a.beforeFirstBlock).toEqual({ median: 10, p95: null });
    const [toTenth, legitTarget, quiet] = f.targets;
    expect(toTenth).toMatchObject({ met: false, value: '50.0% (1/2 IPs with ≥ 10 attempts)' });
    expect(legitTarget!.met).toBe(false);
    expect(quiet!.met).toBe(true); // no attack window, never declared
  });

  it('Audit counts MEDIUM/HIGH flags as what Block would have denied', () => {
    const events = [attack('A', 0), attack('A', 1), attack('A', 2)];
    const f = summarize({ name: 't', title: 't', durationMs: 10, events }, { ...run([0, 0, 0]), levels: Uint8Array.from([1, 2, 3]) }, 'Audit');
    expect(f.attack).toMatchObject({ denied: 2, sourcesBlocked: 1, beforeFirstBlock: { median: 1, p95: 1 } });
  });

  it('times Org Under Attack from the attack window and checks the surge target', () => {
    const scenario: Scenario = { name: 's', title: 's', durationMs: 3_000_000, events: [legit(0)], attackWindow: { fromMs: 900_000, toMs: 1_500_000 }, surge: true };
    const ok = summarize(scenario, run([0], { attackStarts: [930_000], attackEnds: [1_800_000] }), 'Block');
    expect(ok.org).toMatchObject({ declaredAfterS: 30, clearedAfterS: 300, cooldownS: 300 });
    expect(ok.targets.at(-1)!.met).toBe(true);
    const early = summarize(scenario, run([0], { attackStarts: [930_000], attackEnds: [1_700_000] }), 'Block');
    expect(early.targets.at(-1)!.met).toBe(false); // cleared before the cool-down had passed
    const flapping = summarize(scenario, run([0], { attackStarts: [930_000, 1_900_000], attackEnds: [1_800_000, 2_300_000] }), 'Block');
    expect(flapping.targets.at(-1)!.met).toBe(false);
    const late = summarize(scenario, run([0], { attackStarts: [980_000], attackEnds: [1_800_000] }), 'Block');
    expect(late.targets.at(-1)!.met).toBe(false);
  });
});

describe('scenarios', () => {
  it('are reproducible from the seed and differ across seeds', () => {
    for (const name of Object.keys(SCENARIOS)) {
      const a = buildScenario(name, 7, 0.05);
      expect(buildScenario(name, 7, 0.05).events, name).toEqual(a.events);
      expect(buildScenario(name, 8, 0.05).events, name).not.toEqual(a.events);
      for (let i = 1; i < a.events.length; i++) expect(a.events[i]!.atMs).toBeGreaterThanOrEqual(a.events[i - 1]!.atMs);
      expect(a.events.at(-1)!.atMs, name).toBeLessThanOrEqual(a.durationMs);
    }
  });

  it('model realistic legitimate failure rates and keep attackers off legitimate addresses', () => {
    const s = buildScenario('ordinary', 1, 1);
    const failed = s.events.filter((e) => e.result !== 'success').length / s.events.length;
    expect(failed).toBeGreaterThan(0.02);
    expect(failed).toBeLessThan(0.05);
    const spray = buildScenario('password-spray', 1, 0.2);
    const legitIps = new Set(spray.events.filter((e) => e.actor === 'legit').map((e) => e.ip));
    expect(spray.events.some((e) => e.actor === 'attack' && legitIps.has(e.ip))).toBe(false);
  });

  it('office-nat-lockout is office-nat plus one hammering employee', () => {
    const office = buildScenario('office-nat', 3);
    const lockout = buildScenario('office-nat-lockout', 3);
    expect(lockout.events.length).toBe(office.events.length + 10);
    expect(new Set(lockout.events.map((e) => e.ip)).size).toBe(1);
  });

  it('the surge is 10x the baseline failure rate', () => {
    const s = buildScenario('org-surge', 1, 0.1);
    const w = s.attackWindow!;
    const rate = (from: number, to: number) => s.events.filter((e) => e.atMs >= from && e.atMs < to && e.result !== 'success').length / (to - from);
    const ratio = rate(w.fromMs, w.toMs) / rate(0, w.fromMs);
    expect(ratio).toBeGreaterThan(7);
    expect(ratio).toBeLessThan(13);
  });
});
