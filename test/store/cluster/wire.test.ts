import { serialize, deserialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/clock.ts';
import { DetectionEngine } from '../../../src/detect/engine.ts';
import { applyEvents, EventBuffer, EV_ATTEMPT, EV_REFUSED, EV_REMEMBER, EV_REMEMBER_DENIED, isEventBatch } from '../../../src/store/cluster/events.ts';
import { Outbox, type PrimaryLink } from '../../../src/store/cluster/outbox.ts';
import { applyView, isViewUpdate, ObservedAccounts, ObservedAsn, ObservedEngine, ObservedSpray, VIEW_ROW_BYTES, ViewBuilder } from '../../../src/store/cluster/view.ts';
import { AsnAggregates } from '../../../src/detect/asn.ts';
import { AccountSources } from '../../../src/detect/accounts.ts';
import { SprayPasswords } from '../../../src/detect/spray-passwords.ts';

// The cluster channel uses serialization "advanced": v8.serialize / deserialize is exactly what crosses it.
const overTheChannel = <T>(m: T): T => deserialize(serialize(m)) as T;

describe('EventBuffer', () => {
  it('round-trips every kind of event through the channel encoding, in order', () => {
    const b = new EventBuffer(8);
    b.push(EV_ATTEMPT, 3232235777, 0xdeadbeef, '192.168.1.1');
    b.push(EV_REFUSED, 2 ** 52 + 12345, undefined, '2001:db8::1');
    b.push(EV_REMEMBER, 7, 0, '0.0.0.7', 'req-1', 1_700_000_000_123, 0xfffff);
    b.push(EV_REMEMBER_DENIED, 8, undefined, '0.0.0.8', 'req-2', 5, 0);
    const batch = overTheChannel(b.take()!);
    expect(isEventBatch(batch)).toBe(true);
    const seen: unknown[] = [];
    const n = applyEvents(batch, {
      attempt: (...a) => seen.push(['attempt', ...a]),
      refused: (...a) => seen.push(['refused', ...a]),
      remember: (...a) => seen.push(['remember', ...a]),
    });
    expect(n).toBe(4);
    expect(seen).toEqual([
      ['attempt', 3232235777, 0xdeadbeef, '192.168.1.1'],
      ['refused', 2 ** 52 + 12345, '2001:db8::1'],
      ['remember', 'req-1', 7, '0.0.0.7', 0, false, 1_700_000_000_123, 0xfffff],
      ['remember', 'req-2', 8, '0.0.0.8', undefined, true, 5, 0],
    ]);
    expect(b.size).toBe(0);
    expect(b.take()).toBeUndefined();
  });

  it('is bounded: a full buffer refuses the next event', () => {
    const b = new EventBuffer(2);
    expect(b.push(EV_ATTEMPT, 1, undefined, 'a')).toBe(true);
    expect(b.push(EV_ATTEMPT, 2, undefined, 'b')).toBe(true);
    expect(b.full).toBe(true);
    expect(b.push(EV_ATTEMPT, 3, undefined, 'c')).toBe(false);
    expect(b.take()!.keys).toEqual(new Float64Array([1, 2]));
  });

  it('refuses malformed batches (column lengths disagree, wrong types)', () => {
    const b = new EventBuffer(4);
    b.push(EV_ATTEMPT, 1, undefined, 'a');
    const good = b.take()!;
    expect(isEventBatch({ ...good, keys: new Float64Array(2) })).toBe(false);
    expect(isEventBatch({ ...good, texts: [] })).toBe(false);
    expect(isEventBatch({ ...good, kinds: [1] })).toBe(false);
    expect(isEventBatch({ cmd: 'NODE_CLUSTER' })).toBe(false);
  });
});

/** A link whose writes complete only when the test says so: the primary being slow. */
function slowLink() {
  const sent: unknown[] = [];
  const pending: Array<() => void> = [];
  const link: PrimaryLink & { connected: boolean } = {
    connected: true,
    send(m, done) {
      sent.push(overTheChannel(m));
      pending.push(() => done(null));
      return true;
    },
  };
  return { link, sent, complete: () => pending.splice(0).forEach((f) => f()) };
}

describe('Outbox', () => {
  it('sends a full batch at once and the rest after flushMs', async () => {
    const { link, sent, complete } = slowLink();
    const o = new Outbox(link, { flushMs: 5, maxBatch: 3 });
    for (let i = 0; i < 4; i++) o.attempt(i, undefined, `10.0.0.${i}`);
    expect(sent).toHaveLength(1);
    expect((sent[0] as { keys: Float64Array }).keys).toEqual(new Float64Array([0, 1, 2]));
    complete();
    await new Promise((r) => setTimeout(r, 20));
    expect(sent).toHaveLength(2);
    expect((sent[1] as { keys: Float64Array }).keys).toEqual(new Float64Array([3]));
    complete();
    await o.settled();
  });

  it('sheds (and counts) batches beyond maxInFlight while the primary has not taken them', async () => {
    const { link, sent, complete } = slowLink();
    const o = new Outbox(link, { flushMs: 1000, maxBatch: 2, maxInFlight: 2 });
    for (let i = 0; i < 10; i++) o.attempt(i, undefined, 'x');
    expect(sent).toHaveLength(2);
    expect(o.shed.primary_slow).toBe(6);
    complete();
    o.attempt(99, undefined, 'y');
    o.flush();
    expect(sent).toHaveLength(3);
    complete();
    await o.settled();
  });

  it('counts what it cannot send once the primary is gone', () => {
    const { link, sent } = slowLink();
    link.connected = false;
    const o = new Outbox(link, { flushMs: 1000 });
    o.refused(1, 'a');
    o.report({ method: 'POST' });
    o.flush();
    expect(sent).toHaveLength(0);
    expect(o.shed.disconnected).toBe(2);
  });

  it('batches outcome reports on their own message', async () => {
    const { link, sent, complete } = slowLink();
    const o = new Outbox(link, { flushMs: 1, maxBatch: 100 });
    o.report({ method: 'POST', path: '/login' });
    o.report({ method: 'POST', path: '/login2' });
    await new Promise((r) => setTimeout(r, 10));
    expect(sent).toEqual([{ t: 'outcomes', reports: [{ method: 'POST', path: '/login' }, { method: 'POST', path: '/login2' }] }]);
    complete();
  });
});

describe('ViewUpdate', () => {
  it('carries a block, pair counts, network outcomes and signals from the primary to a worker view', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const view = new ViewBuilder();
    const primary = new ObservedEngine({ clock, blocking: true });
    primary.view = view;
    const accounts = new ObservedAccounts();
    const spray = new ObservedSpray();
    accounts.view = view;
    spray.view = view;
    const key = 0x0a000001;
    for (let i = 0; i < 30; i++) primary.recordOutcome(key, 'failure', { usernameHash: 42, netKey: 77 });
    accounts.recordSuccess(42, 77, clock.nowMs());
    spray.recordFailure(123, 42, key, clock.nowMs());
    expect(primary.evaluate(key).blockedUntilMs).toBeGreaterThan(0);

    const update = overTheChannel(view.take(primary, clock.nowMs())!);
    expect(isViewUpdate(update)).toBe(true);
    expect(update.rows.length).toBe(VIEW_ROW_BYTES); // one key, sent once however often it changed
    expect(view.take(primary, clock.nowMs())).toBeUndefined();

    const worker = new DetectionEngine({ clock, blocking: true });
    const signals = { accounts: new AccountSources(), spray: new SprayPasswords() };
    expect(worker.evaluate(key).blockedUntilMs).toBe(0);
    applyView(update, worker, signals);
    expect(worker.evaluate(key)).toEqual(primary.evaluate(key));
    expect(worker.accountFailures(key, 42)).toBe(primary.accountFailures(key, 42));
    expect(worker.networkLevel(77, key)).toBe(primary.networkLevel(77, key));
    expect(signals.accounts.familiar(42, 77, clock.nowMs())).toBe(true);
  });

  it('carries distinct wrong passwords and the ASN aggregate, so a worker reads account_brute_force and asn_attack as the primary does', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const view = new ViewBuilder();
    const primary = new ObservedEngine({ clock, blocking: true });
    const accounts = new ObservedAccounts();
    const asn = new ObservedAsn();
    accounts.view = view;
    asn.view = view;
    const now = clock.nowMs();
    for (let fp = 1; fp <= 12; fp++) accounts.recordWrongPassword(42, fp, false, now);
    for (let ip = 1; ip <= 40; ip++) asn.record(64500, 0x0b000000 + ip, true, now);
    expect(accounts.guessed(42, now)).toBe(true);
    expect(asn.level(64500, now)).not.toBe('NONE');

    const update = overTheChannel(view.take(primary, now)!);
    expect(isViewUpdate(update)).toBe(true);
    const signals = { accounts: new AccountSources(), spray: new SprayPasswords(), asn: new AsnAggregates() };
    expect(signals.accounts.guessed(42, now)).toBe(false);
    applyView(update, new DetectionEngine({ clock }), signals);
    expect(signals.accounts.guessed(42, now)).toBe(true);
    expect(signals.asn.level(64500, now)).toBe(asn.level(64500, now));
    expect(signals.asn.counts(64500, now)).toEqual(asn.counts(64500, now));
    expect(signals.asn.hot(now)).toBe(asn.hot(now));
  });

  it('says when the aggressive profile flips, and syncs a new worker with every active block', () => {
    const clock = new ManualClock(1_700_000_000_000);
    const view = new ViewBuilder();
    const primary = new ObservedEngine({ clock, blocking: true });
    primary.view = view;
    for (let i = 0; i < 30; i++) primary.recordOutcome(5, 'failure');
    view.take(primary, clock.nowMs());
    primary.setAggressive(true);
    const flip = view.take(primary, clock.nowMs())!;
    expect(flip.aggressive).toBe(1);
    expect(flip.rows.length).toBe(0);

    const sync = overTheChannel(ViewBuilder.sync(primary, clock.nowMs()));
    const fresh = new DetectionEngine({ clock, blocking: true });
    applyView(sync, fresh);
    expect(fresh.aggressive).toBe(true);
    expect(fresh.evaluate(5).blockedUntilMs).toBeGreaterThan(0);
  });

  it('bounds keys and events per update, counting what did not fit', () => {
    const view = new ViewBuilder({ maxKeys: 2, maxEvents: 1 });
    view.key(1);
    view.key(2);
    view.key(2);
    expect(view.full).toBe(true);
    view.key(3);
    view.pair(1, 9);
    view.pair(1, 10);
    expect(view.dropped).toBe(2);
  });

  it('refuses malformed updates', () => {
    const ok = ViewBuilder.sync(new DetectionEngine({ clock: new ManualClock(0) }), 0);
    expect(isViewUpdate(ok)).toBe(true);
    expect(isViewUpdate({ ...ok, rows: new Uint8Array(VIEW_ROW_BYTES + 1) })).toBe(false);
    expect(isViewUpdate({ ...ok, pairs: new Float64Array(4) })).toBe(false);
    expect(isViewUpdate({ ...ok, t: 'events' })).toBe(false);
  });
});
