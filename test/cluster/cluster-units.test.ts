import { Counter, Gauge, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { cpuLimit } from '../../src/cluster/cpu-limit.ts';
import { Hub } from '../../src/cluster/hub.ts';
import { aggregateMetrics } from '../../src/cluster/metrics.ts';
import type { OutcomeReport } from '../../src/decide/outcome.ts';
import { AttemptCorrelator } from '../../src/service/correlator.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import { OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { EventBuffer, EV_REMEMBER } from '../../src/store/cluster/events.ts';

describe('cpuLimit', () => {
  const cores = () => 8;
  it('reads the cgroup v2 quota, rounded up, never above the cores', () => {
    expect(cpuLimit(() => '200000 100000\n', cores)).toBe(2);
    expect(cpuLimit(() => '150000 100000', cores)).toBe(2);
    expect(cpuLimit(() => '50000 100000', cores)).toBe(1);
    expect(cpuLimit(() => '6400000 100000', cores)).toBe(8);
  });
  it('falls back to the cores: no quota ("max"), no file, nonsense', () => {
    expect(cpuLimit(() => 'max 100000', cores)).toBe(8);
    expect(cpuLimit(() => { throw new Error('ENOENT'); }, cores)).toBe(8);
    expect(cpuLimit(() => 'garbage', cores)).toBe(8);
  });
});

describe('aggregateMetrics', () => {
  async function registry(build: (r: Registry) => void) {
    const r = new Registry();
    build(r);
    return r.getMetricsAsJSON();
  }

  it('sums counters over every process, serves the primary\'s state gauges, sums per-process gauges', async () => {
    const worker = (checks: number, tracked: number) => registry((r) => {
      new Counter({ name: 'portcullis_checks_total', help: 'h', labelNames: ['verdict'], registers: [r] }).inc({ verdict: 'allow' }, checks);
      new Gauge({ name: 'portcullis_tracked_ips', help: 'h', registers: [r] }).set(tracked);
      new Gauge({ name: 'portcullis_process_resident_memory_bytes', help: 'h', registers: [r] }).set(100);
    });
    const primary = await registry((r) => {
      new Counter({ name: 'portcullis_checks_total', help: 'h', labelNames: ['verdict'], registers: [r] });
      new Gauge({ name: 'portcullis_tracked_ips', help: 'h', registers: [r] }).set(7);
      new Gauge({ name: 'portcullis_process_resident_memory_bytes', help: 'h', registers: [r] }).set(50);
    });
    const text = await aggregateMetrics(primary, [await worker(3, 2), await worker(4, 5)]).metrics();
    expect(text).toMatch(/^portcullis_checks_total\{verdict="allow"\} 7$/m);
    expect(text).toMatch(/^portcullis_tracked_ips 7$/m);
    expect(text).toMatch(/^portcullis_process_resident_memory_bytes 250$/m);
  });

  it('sums a gauge only workers have', async () => {
    const w = () => registry((r) => void new Gauge({ name: 'portcullis_only_workers', help: 'h', registers: [r] }).set(2));
    const text = await aggregateMetrics([], [await w(), await w()]).metrics();
    expect(text).toMatch(/^portcullis_only_workers 4$/m);
  });
});

describe('Hub', () => {
  function hub() {
    const clock = new ManualClock(1_000_000);
    const h = new Hub({ clock, graceMs: 50 });
    const engine = h.createEngine({ clock, blocking: true });
    const store = new MemoryStore(engine, new OrgAttackDetector({ clock }));
    const correlator = new AttemptCorrelator<number>();
    const learnt: OutcomeReport[] = [];
    const ingest = h.ingest({ report: (o) => learnt.push(o) });
    h.attach({ store, correlator });
    h.addWorker({ id: 1, connected: true, send: (_m, done) => { done(); return true; } });
    return { clock, h, learnt, ingest, correlator };
  }
  const report = (requestId: string): OutcomeReport => ({ requestId, method: 'POST', path: '/login', host: 'h', status: 401, resultHeader: undefined, clientIp: '10.0.0.1' });

  it('holds an outcome whose Check has not arrived yet, and learns it as soon as the Check does', () => {
    const { h, learnt, ingest, clock } = hub();
    ingest.report(report('r1'));
    expect(learnt).toHaveLength(0);
    expect(h.heldCount).toBe(1);
    const b = new EventBuffer(4);
    b.push(EV_REMEMBER, 0x0a000001, 5, '10.0.0.1', 'r1', clock.nowMs(), 0);
    h.onMessage(b.take()!);
    h.tick();
    expect(learnt.map((o) => o.requestId)).toEqual(['r1']);
    expect(h.stats.heldTimedOut).toBe(0);
  });

  it('learns a held outcome uncorrelated after the grace, and at once when its Check is already pending', () => {
    const { h, learnt, ingest, clock, correlator } = hub();
    ingest.report(report('lost'));
    clock.advance(49);
    h.tick();
    expect(learnt).toHaveLength(0);
    clock.advance(1);
    h.tick();
    expect(learnt.map((o) => o.requestId)).toEqual(['lost']);
    expect(h.stats.heldTimedOut).toBe(1);
    correlator.remember('known', 1, '0.0.0.1', undefined, false, clock.nowMs());
    ingest.report(report('known'));
    expect(learnt.map((o) => o.requestId)).toEqual(['lost', 'known']);
  });

  it('drops malformed worker messages and counts them', () => {
    const { h } = hub();
    h.onMessage({ t: 'events' } as never);
    h.onMessage({ t: 'outcomes', reports: [{ method: 1 }] } as never);
    expect(h.stats.malformed).toBe(2);
  });
});

describe('--workers', () => {
  const read = async (values: Record<string, string>, env: Record<string, string> = {}) => (await import('../../src/settings.ts')).readSettings(values, env);
  it('takes a count from the flag or PORTCULLIS_WORKERS, and the CPU limit when unset', async () => {
    expect((await read({ workers: '3' })).workers).toBe(3);
    expect((await read({}, { PORTCULLIS_WORKERS: '1' })).workers).toBe(1);
    expect((await read({})).workers).toBe(cpuLimit());
  });
  it('is one process with the Kubernetes source, and refuses more', async () => {
    expect((await read({ 'config-source': 'kubernetes' })).workers).toBe(1);
    await expect(read({ 'config-source': 'kubernetes', workers: '2' })).rejects.toThrow(/--workers above 1 needs --config-source files/);
  });
  it('refuses nonsense', async () => {
    await expect(read({ workers: '0' })).rejects.toThrow(/--workers/);
    await expect(read({ workers: 'two' })).rejects.toThrow(/--workers/);
    await expect(read({ workers: '1000' })).rejects.toThrow(/at most 256/);
  });
});
