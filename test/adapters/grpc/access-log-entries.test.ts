// The ALS message walker: the entries it yields, decoded a few at a time, are the entries proto-loader decodes
// from the whole message; whatever else a message carries is skipped; broken bytes end the walk, never throw.
import { describe, expect, it } from 'vitest';
import { accessLogIntake } from '../../../src/adapters/grpc/access-log-service.ts';
import { END, ENTRY, EntryCursor } from '../../../src/adapters/grpc/wire/access-log-entries.ts';
import { loadEnvoyProtos, serviceDefinition } from '../../../src/adapters/grpc/protos.ts';
import type { HTTPAccessLogEntry__Output } from '../../../src/gen/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { StreamAccessLogsMessage__Output } from '../../../src/gen/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import { OutcomeQueue } from '../../../src/service/outcome-queue.ts';
import { alsEntry } from '../../helpers/als-client.ts';
import { seeded } from './wire-fuzz.ts';

const als = serviceDefinition(loadEnvoyProtos(), 'envoy.service.accesslog.v3.AccessLogService');
const method = als['StreamAccessLogs']!;
const serialize = (m: object): Buffer => method.requestSerialize(m);
const deserialize = (b: Buffer) => method.requestDeserialize(b) as StreamAccessLogsMessage__Output;

/** Every entry the intake hands on for these messages, once the queue has learned them. */
async function learned(messages: Buffer[]): Promise<{ entries: HTTPAccessLogEntry__Output[]; shed: number }> {
  const entries: HTTPAccessLogEntry__Output[] = [];
  let shed = 0;
  const queue = new OutcomeQueue((_s, _r, n) => (shed += n));
  const intake = accessLogIntake(als, queue, (e) => entries.push(e));
  for (const m of messages) intake.offer(m);
  await new Promise<void>((r) => intake.afterQueued(r));
  return { entries, shed };
}

function entries(rand: () => number, n: number) {
  return Array.from({ length: n }, (_, i) => alsEntry({
    requestId: rand() < 0.8 ? `id-${i}` : undefined,
    status: [200, 401, 403, 302][Math.floor(rand() * 4)]!,
    peer: rand() < 0.5 ? '10.0.1.5' : '2001:db8:ffff::9',
    xff: rand() < 0.7 ? `198.51.100.${i % 256}` : undefined,
    deniedByExtAuthz: rand() < 0.1,
    resultHeader: rand() < 0.2 ? 'unknown_user' : undefined,
    path: rand() < 0.5 ? '/login' : '/é/登录',
  }));
}

describe('StreamAccessLogsMessage walker', () => {
  it('yields the entries proto-loader decodes, in order, whatever else the message carries', async () => {
    const rand = seeded(11);
    for (let round = 0; round < 30; round++) {
      const logEntry = entries(rand, 1 + Math.floor(rand() * 200));
      const withIdentity = serialize({ identifier: { node: { id: 'gw-0', cluster: 'gateway' }, logName: 'portcullis' }, httpLogs: { logEntry } });
      // An unknown field before and after, as a newer Envoy might send.
      const bytes = Buffer.concat([Buffer.from([0xa8, 0x1f, 0x2a]), withIdentity, Buffer.from([0xb2, 0x1f, 0x02, 0x01, 0x02])]);
      const expected = deserialize(bytes).httpLogs!.logEntry!;
      const got = await learned([bytes]);
      expect(got.entries).toEqual(expected);
      expect(got.entries.length).toBe(logEntry.length);
    }
  });

  it('reads every http_logs field of a message (split batches), and skips tcp_logs', async () => {
    const a = serialize({ httpLogs: { logEntry: entries(seeded(1), 40) } });
    const b = serialize({ httpLogs: { logEntry: entries(seeded(2), 7) } });
    const tcp = serialize({ tcpLogs: { logEntry: [{ commonProperties: { upstreamCluster: 'x' } }] } });
    const got = await learned([Buffer.concat([a, tcp, b])]);
    expect(got.entries).toEqual([...deserialize(a).httpLogs!.logEntry!, ...deserialize(b).httpLogs!.logEntry!]);
  });

  it('keeps the good entries of a batch with a bad one, and stops at bytes that do not parse, without throwing', async () => {
    const good = entries(seeded(3), 50);
    const bytes = serialize({ httpLogs: { logEntry: good } });
    // Corrupt entry 20: a nested length that runs past the entry's end.
    const c = new EntryCursor(bytes);
    let n = 0;
    let at = -1;
    for (let f = c.next(); f !== END; f = c.next()) if (f === ENTRY && n++ === 20) at = c.start;
    const damaged = Buffer.from(bytes);
    const lenAt = at + 1 + (damaged[at + 1]! >= 128 ? 2 : 1); // tag, entry length, then the first nested field's tag
    damaged[lenAt + 1] = 0x7f;
    const got = await learned([damaged]);
    const ids = got.entries.map((e) => e.request?.requestId);
    expect(got.entries.length).toBe(49);
    expect(ids).toEqual(deserialize(bytes).httpLogs!.logEntry!.filter((_, i) => i !== 20).map((e) => e.request?.requestId));

    const rand = seeded(4);
    for (let i = 0; i < 300; i++) {
      const noise = Buffer.from(bytes.subarray(0, Math.floor(rand() * bytes.length)));
      for (let k = 0; k < 3; k++) noise[Math.floor(rand() * noise.length)] = Math.floor(rand() * 256);
      const out = await learned([noise]);
      expect(out.entries.length).toBeLessThanOrEqual(50);
    }
  });
});
