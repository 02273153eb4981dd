import { EventEmitter } from 'node:events';
import { deserialize, serialize } from 'node:v8';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock.ts';
import { ClusterWorker, type WorkerChannel } from '../../src/cluster/worker.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { WorkerStore } from '../../src/store/cluster/worker-store.ts';
import { ObservedEngine, ViewBuilder } from '../../src/store/cluster/view.ts';

/** The worker's end of the IPC channel, with what it sent and a way to speak as the primary. */
function channel() {
  const bus = new EventEmitter();
  const sent: Array<{ t: string; [k: string]: unknown }> = [];
  const ch: WorkerChannel & { connected: boolean } = {
    connected: true,
    send: (m, done) => {
      sent.push(deserialize(serialize(m)));
      queueMicrotask(() => done(null));
      return true;
    },
    on: (event: string, fn: (m?: unknown) => void) => void bus.on(event, fn),
  };
  return { ch, sent, fromPrimary: (m: unknown) => bus.emit('message', deserialize(serialize(m))), disconnect: () => bus.emit('disconnect') };
}

function started(worker: ClusterWorker, clock: ManualClock) {
  const engine = new DetectionEngine({ clock, blocking: true });
  const store = new WorkerStore({ engine, org: new OrgAttackDetector({ clock }), outbox: worker.outbox, primaryMode: 'memory', signals: worker.signals });
  const calls: string[] = [];
  const registry = new Registry();
  worker.attach({
    grpcPort: 9001, store, metrics: { registry }, proxies: { authzPort: undefined },
    drain: async () => void calls.push('drain'),
    stop: async () => void calls.push('stop'),
  });
  return { engine, store, calls };
}

describe('ClusterWorker', () => {
  it('says it serves, applies the primary\'s updates to its view, and answers a metrics request', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const c = channel();
    const worker = new ClusterWorker(c.ch);
    const { engine } = started(worker, clock);
    expect(c.sent[0]).toEqual({ t: 'ready', grpcPort: 9001, authzPort: undefined });

    const primary = new ObservedEngine({ clock, blocking: true });
    for (let i = 0; i < 30; i++) primary.recordOutcome(9, 'failure');
    c.fromPrimary(ViewBuilder.sync(primary, clock.nowMs()));
    expect(engine.evaluate(9).blockedUntilMs).toBe(primary.evaluate(9).blockedUntilMs);
    expect(engine.evaluate(9).blockedUntilMs).toBeGreaterThan(0);

    c.fromPrimary({ t: 'metrics', id: 7 });
    await new Promise((r) => setTimeout(r, 10));
    const answer = c.sent.find((m) => m.t === 'metrics')!;
    expect(answer.id).toBe(7);
    expect((answer.metrics as Array<{ name: string }>).map((m) => m.name)).toContain('portcullis_cluster_events_shed_total');
  });

  it('sends Check events in one batch, drains and stops on the primary\'s word', async () => {
    const clock = new ManualClock(0);
    const c = channel();
    const worker = new ClusterWorker(c.ch, { flushMs: 1 });
    const { store, calls } = started(worker, clock);
    store.recordAttempt(1, { usernameHash: 5 }, '0.0.0.1');
    worker.role.correlator!.remember('rid', 1, '0.0.0.1', 5, false, 0);
    await new Promise((r) => setTimeout(r, 10));
    const batch = c.sent.find((m) => m.t === 'events')!;
    expect(batch.keys).toEqual(new Float64Array([1, 1]));
    expect(batch.ids).toEqual(['', 'rid']);

    c.fromPrimary({ t: 'drain' });
    await worker.done;
    expect(calls).toEqual(['drain', 'stop']);
    await new Promise((r) => setTimeout(r, 0));
    expect(c.sent.at(-1)).toEqual({ t: 'stopped' });
  });

  it('stops at once, without a drain, when the primary goes away', async () => {
    const c = channel();
    const worker = new ClusterWorker(c.ch);
    const { calls } = started(worker, new ManualClock(0));
    c.ch.connected = false;
    c.disconnect();
    await worker.done;
    expect(calls).toEqual(['stop']);
  });
});
