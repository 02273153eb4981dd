import { describe, expect, it } from 'vitest';
import { ALLOWED, BLOCKED, drive, RATE_LIMITED } from '../../src/simulate/driver.ts';
import { summarize } from '../../src/simulate/report.ts';
import { buildScenario, type Scenario } from '../../src/simulate/scenarios.ts';
import type { SimEvent } from '../../src/simulate/traffic.ts';

// Real sidecar, real gRPC Check and access-log streams, a manual clock: small sizes so the suite stays quick.
const SLOW = 180_000;

describe('traffic driver against the real sidecar', () => {
  it('answers and counts each sign-in the way the sidecar saw it', async () => {
    const events: SimEvent[] = [];
    // 12 failures on one account, 1 s apart, among a few ordinary sign-ins.
    for (let k = 0; k < 12; k++) events.push({ atMs: 60_000 + k * 1000, ip: '198.18.7.7', username: 'alice@example.com', result: 'failure', actor: 'attack', source: '198.18.7.7', group: 'g' });
    for (let k = 0; k < 4; k++) events.push({ atMs: 30_000 + k * 20_000, ip: `24.0.0.${k + 1}`, username: `u${k}@example.com`, result: k === 2 ? 'unknown_user' : 'success', actor: 'legit', source: `24.0.0.${k + 1}` });
    const scenario: Scenario = { name: 't', title: 't', durationMs: 120_000, events: events.sort((a, b) => a.atMs - b.atMs) };
    const run = await drive(scenario, { alsFlushMs: 0 });
    const attack = scenario.events.flatMap((e, i) => (e.actor === 'attack' ? [run.answers[i]!] : []));
    // CrowdSec-style: the 5th failure in 10 s makes the IP MEDIUM, so the 6th attempt gets a 429.
    expect(attack.slice(0, 5)).toEqual([ALLOWED, ALLOWED, ALLOWED, ALLOWED, ALLOWED]);
    expect(attack.slice(5).every((a) => a === RATE_LIMITED || a === BLOCKED)).toBe(true);
    // The sidecar's own counters agree: only allowed sign-ins became outcomes; refused ones carried UAEX.
    const allowed = scenario.events.filter((_, i) => run.answers[i] === ALLOWED);
    expect(run.ingested.alsAccepted).toBe(allowed.length);
    expect(run.ingested.alsRefused).toBe(scenario.events.length - allowed.length);
    expect(run.ingested.failure).toBe(allowed.filter((e) => e.result !== 'success').length);
    expect(run.ingested.success).toBe(allowed.filter((e) => e.result === 'success').length);
    const f = summarize(scenario, run, 'Block');
    expect(f.legit.denied).toBe(0);
    expect(f.attack).toMatchObject({ sources: 1, attempts: 12, denied: 7, beforeFirstBlock: { median: 5, p95: 5 }, withTenAttempts: 1, blockedByTenth: 1 });
    expect(run.blocksStarted).toBeGreaterThanOrEqual(1);
  }, SLOW);

  it('Audit denies nothing and reports the levels it would act on', async () => {
    const scenario = buildScenario('credential-stuffing', 2, 0.05);
    const run = await drive(scenario, { action: 'Audit', seed: 2 });
    expect(run.answers.every((a) => a === ALLOWED)).toBe(true);
    const f = summarize(scenario, run, 'Audit');
    expect(f.attack!.sourcesBlocked).toBe(1);
    expect(f.attack!.beforeFirstBlock.median).toBeLessThan(10);
  }, SLOW);

  it('office NAT: 500 users on one IP with ordinary typos are never denied', async () => {
    const scenario = buildScenario('office-nat', 1);
    const f = summarize(scenario, await drive(scenario, { seed: 1 }), 'Block');
    expect(f.legit.signIns).toBeGreaterThan(700);
    expect(f.legit.failureShare).toBeGreaterThan(0.02);
    expect(f.legit.denied).toBe(0);
    expect(f.org.starts).toEqual([]);
  }, SLOW);

  it('brute force: every IP that keeps guessing is blocked by its 10th attempt', async () => {
    const scenario = buildScenario('brute-force', 1, 0.05);
    const f = summarize(scenario, await drive(scenario, { seed: 1 }), 'Block');
    expect(f.attack!.withTenAttempts).toBeGreaterThan(5);
    expect(f.attack!.sourcesBlocked).toBeGreaterThanOrEqual(f.attack!.withTenAttempts);
    expect(f.attack!.blockedByTenth).toBe(f.attack!.withTenAttempts);
    expect(f.legit.denied).toBe(0);
  }, SLOW);

  it('org surge: declared within 60 s, cleared once after the cool-down', async () => {
    const scenario = buildScenario('org-surge', 1, 0.1);
    const f = summarize(scenario, await drive(scenario, { seed: 1 }), 'Block');
    expect(f.org.starts).toHaveLength(1);
    expect(f.org.ends).toHaveLength(1);
    expect(f.org.declaredAfterS).toBeLessThanOrEqual(60);
    expect(f.org.clearedAfterS).toBeGreaterThanOrEqual(f.org.cooldownS);
    expect(f.org.clearedAfterS).toBeLessThanOrEqual(f.org.cooldownS + 60);
    expect(f.targets.at(-1)!.met).toBe(true);
  }, SLOW);
});
