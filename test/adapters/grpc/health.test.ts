// grpc.health.v1 by hand (src/adapters/grpc/health.ts): the two messages against proto-loader's encoding of
// grpc-health-check's health.proto, and the bounds of the Watch subscribers.
import { service as protoHealth } from 'grpc-health-check';
import { describe, expect, it } from 'vitest';
import { HealthState, healthCheckRequestService, healthCheckResponse, MAX_HEALTH_WATCHERS, type HealthStatus, type HealthWatcher } from '../../../src/adapters/grpc/health.ts';

const check = protoHealth.Check!;
const STATUSES: HealthStatus[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

describe('HealthCheckResponse and HealthCheckRequest bytes', () => {
  it('writes the bytes proto-loader writes for every status, which decode back to it', () => {
    for (const s of STATUSES) {
      const bytes = healthCheckResponse(s);
      expect(bytes.equals(check.responseSerialize({ status: s }))).toBe(true);
      expect((check.responseDeserialize(bytes) as { status: string }).status).toBe(s);
    }
  });

  it('reads the service name of what proto-loader writes, unknown fields skipped, the last field 1 kept', () => {
    for (const service of ['', 'envoy.service.auth.v3.Authorization', 'é'.repeat(200)]) {
      expect(healthCheckRequestService(check.requestSerialize({ service }))).toBe(service);
    }
    const a = check.requestSerialize({ service: 'first' });
    const b = check.requestSerialize({ service: 'second' });
    // field 2 varint, field 3 fixed64, field 4 fixed32, field 5 bytes: skipped like protobufjs does.
    const unknown = Buffer.from([0x10, 0x96, 0x01, 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x2a, 0x01, 0x00]);
    const spliced = Buffer.concat([a, unknown, b]);
    expect((check.requestDeserialize(spliced) as { service: string }).service).toBe('second');
    expect(healthCheckRequestService(spliced)).toBe('second');
  });

  it('refuses every truncation proto-loader refuses, and reads the others alike or refuses them', () => {
    const whole = Buffer.concat([check.requestSerialize({ service: 'envoy.service.auth.v3.Authorization' }), Buffer.from([0x19, 1, 2, 3, 4, 5, 6, 7, 8])]);
    let refused = 0;
    let agreed = 0;
    for (let n = 0; n < whole.length; n++) {
      const cut = whole.subarray(0, n);
      let proto: string | undefined;
      try {
        proto = (check.requestDeserialize(cut) as { service: string }).service;
      } catch {
        proto = undefined;
      }
      const mine = healthCheckRequestService(cut);
      // Stricter in one place: protobufjs' Buffer reader cuts a string that runs past the end short and keeps it.
      if (proto === undefined) expect(mine, `first ${n} bytes`).toBeUndefined();
      else if (mine !== undefined) expect(mine, `first ${n} bytes`).toBe(proto);
      if (proto === undefined) refused++;
      if (mine !== undefined && proto !== undefined) agreed++;
    }
    expect(refused).toBeGreaterThan(0);
    expect(agreed).toBeGreaterThan(0);
    expect(healthCheckRequestService(Buffer.from([0x0f]))).toBeUndefined(); // wire type 7 does not exist
  });
});

describe('HealthState', () => {
  const watcher = (sent: HealthStatus[], ended: { n: number } = { n: 0 }): HealthWatcher => ({ send: (s) => sent.push(s), end: () => ended.n++ });

  it('starts NOT_SERVING, sends the current status on Watch, then only real changes', () => {
    const h = new HealthState(['', 'svc']);
    expect(h.status('svc')).toBe('NOT_SERVING');
    expect(h.status('other')).toBeUndefined();
    const sent: HealthStatus[] = [];
    const unknown: HealthStatus[] = [];
    h.watch('svc', watcher(sent));
    h.watch('other', watcher(unknown));
    h.setStatus('svc', 'SERVING');
    h.setStatus('svc', 'SERVING'); // a reload that keeps serving: nothing new
    h.setStatus('svc', 'NOT_SERVING');
    expect(sent).toEqual(['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
    expect(unknown).toEqual(['SERVICE_UNKNOWN']);
  });

  it(`holds at most ${MAX_HEALTH_WATCHERS} watchers over all service names, and forgets a name when its last watcher goes`, () => {
    const h = new HealthState(['']);
    const unwatch: Array<() => void> = [];
    for (let i = 0; i < MAX_HEALTH_WATCHERS; i++) unwatch.push(h.watch(`name-${i}`, watcher([]))!);
    const refused: HealthStatus[] = [];
    expect(h.watch('one more', watcher(refused))).toBeUndefined();
    expect(refused).toEqual([]);
    expect(h.watching).toBe(MAX_HEALTH_WATCHERS);
    for (const u of unwatch) {
      u();
      u(); // twice is harmless
    }
    expect(h.watching).toBe(0);
    // Once every name is forgotten, a status change for one of them reaches nobody and the cap is free again.
    const again: HealthStatus[] = [];
    h.watch('name-0', watcher(again));
    h.setStatus('name-0', 'SERVING');
    expect(again).toEqual(['SERVICE_UNKNOWN', 'SERVING']);
  });

  it('ends every watch at shutdown', () => {
    const h = new HealthState(['']);
    const ended = { n: 0 };
    h.watch('', watcher([], ended));
    h.watch('x', watcher([], ended));
    h.endWatches();
    expect(ended.n).toBe(2);
  });
});
