// spec.detection where it runs: a reload changes the thresholds of the running server through its files, keeping
// what the detectors have counted; fields that lay out the tables wait for the next start, which applies them.
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { AlsClient, alsEntry } from '../helpers/als-client.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { eventually, lbPolicyYaml, startTestInstance, type TestInstance } from '../helpers/portcullis.ts';

let inst: TestInstance | undefined;
let authz: AuthzClient | undefined;
let als: AlsClient | undefined;
afterEach(async () => {
  authz?.close();
  als?.close();
  await inst?.stop();
  inst = undefined;
});

const policy = (detection: string) => `${lbPolicyYaml('Block')}  detection:\n${detection.replace(/^/gm, '    ')}\n`;

/** JSON log lines, kept for the assertions. */
function capture(): { logger: ReturnType<typeof createLogger>; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('info', stream), lines };
}

let seq = 0;
/** A failed sign-in through Check and (if let through) the access-log stream; resolves once it was learnt. */
async function fail(client: string): Promise<number> {
  const requestId = `r-${++seq}`;
  const res = await authz!.check(envoyCheckRequest({
    peer: '10.0.0.5',
    body: `username=u${seq}&password=x`,
    headers: { 'x-forwarded-for': client, 'x-request-id': requestId, 'content-type': 'application/x-www-form-urlencoded' },
  }));
  const denied = res.status?.code !== 0;
  const status = denied ? (res.deniedResponse?.status?.code === 'TooManyRequests' ? 429 : 403) : 200;
  als!.send([alsEntry({ requestId, status: denied ? status : 401, xff: client, deniedByExtAuthz: denied })]);
  const outcomes = inst!.running.metrics.registry.getSingleMetric('portcullis_access_log_entries_total')!;
  await eventually(async () => (await outcomes.get()).values.reduce((s, v) => s + v.value, 0) >= seq);
  return status;
}

async function start(files: Record<string, string>, clock: ManualClock, logger?: ReturnType<typeof createLogger>): Promise<void> {
  inst = await startTestInstance(files, {}, clock, logger);
  authz = new AuthzClient(inst.grpcTarget);
  als = new AlsClient(inst.grpcTarget);
}

async function reload(yaml: string): Promise<void> {
  const before = inst!.running.holder.current!.version;
  inst!.write('p.yaml', yaml);
  await eventually(() => inst!.running.holder.current!.version > before || inst!.running.reloader.lastReport?.accepted === false && inst!.running.reloader.lastReport.version === before);
}

describe('spec.detection on a running server (files, fake clock)', () => {
  it('a reload applies new thresholds at once and keeps the counts; a window change waits for the next start', async () => {
    seq = 0;
    const clock = new ManualClock(Date.UTC(2026, 2, 2, 9));
    const log = capture();
    await start({ 'p.yaml': lbPolicyYaml('Block') }, clock, log.logger);
    const attacker = '198.18.4.4';
    // Defaults: 5 failures within 10 s are MEDIUM. Three of them now.
    for (let i = 0; i < 3; i++) expect(await fail(attacker)).toBe(200);

    // MEDIUM from the 4th failure, and a 20 s short window (which lays out the per-IP ring: next start).
    await reload(policy('bruteForceShort: { window: 20s, medium: 4 }'));
    expect(inst!.running.reloader.lastReport?.accepted).toBe(true);
    expect(inst!.running.engine.thresholds.bruteForceShort).toEqual({ windowMs: 10_000, low: 3, medium: 4, high: 10 });
    // The three failures before the reload still count: the 4th makes the IP MEDIUM, the 5th attempt is refused.
    expect(await fail(attacker)).toBe(200);
    expect(await fail(attacker)).toBe(429);
    const warned = log.lines.find((l) => String(l.msg).startsWith('spec.detection: these fields apply at the next start'));
    expect(warned?.fields).toEqual(['spec.detection.bruteForceShort.window']);

    // A contradictory change is refused, naming the field; the settings in force stay.
    await reload(policy('bruteForceShort: { medium: 4 }\nrateLimit: 2d\nmaxBlock: 1d'));
    const report = inst!.running.reloader.lastReport!;
    expect(report.accepted).toBe(false);
    expect(report.issues.map((i) => [i.field, i.code])).toEqual([['spec.detection.rateLimit', 'CONFIG_SCHEMA']]);
    expect(inst!.running.engine.thresholds.rateLimitMs).toBe(60_000);
    expect(inst!.running.engine.thresholds.bruteForceShort.medium).toBe(4);
  });

  it('at start every field applies, windows and caps included', async () => {
    seq = 0;
    const clock = new ManualClock(Date.UTC(2026, 2, 2, 9));
    await start({ 'p.yaml': policy('bruteForceShort: { window: 20s, low: 2, medium: 3, high: 6 }\nmaxTrackedIps: 5000\naggressive: { bruteForceShort: { low: 1, medium: 2, high: 3 } }\norgUnderAttack: { bucket: 5s, minFailures: 8 }\naccounts: { attackSources: 3 }') }, clock);
    const { engine, org, signals } = inst!.running;
    expect(engine.thresholds.bruteForceShort).toEqual({ windowMs: 20_000, low: 2, medium: 3, high: 6 });
    expect(engine.aggressiveThresholds.bruteForceShort).toEqual({ windowMs: 20_000, low: 1, medium: 2, high: 3 });
    expect(engine.thresholds.maxTrackedIps).toBe(5000);
    expect(engine.ipTableBytes).toBeLessThan(1_000_000); // the table was built for 5,000 keys, not a million
    expect(org.options).toMatchObject({ bucketMs: 5000, minFailures: 8 });
    expect(signals.accounts.options.attackSources).toBe(3);
    // Three failures 8 s apart are three in the 20 s window: MEDIUM, the next attempt refused.
    for (let i = 0; i < 3; i++) {
      expect(await fail('198.18.5.5')).toBe(200);
      clock.advance(8000);
    }
    expect(await fail('198.18.5.5')).toBe(429);
  });
});
