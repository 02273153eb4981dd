// The ALS path reads raw bytes: the message walker finds each entry, the decoder reads it straight into an
// outcome. Both are checked against proto-loader's decode of the same bytes + outcomeFromEntry (what grpc-js
// would hand the service), on generated entries with every kind of field Envoy logs, and on damaged bytes.
import { describe, expect, it } from 'vitest';
import { accessLogEntryLearner, accessLogIntake, outcomeFromEntry } from '../../../src/adapters/grpc/access-log-service.ts';
import { decodeAccessLogEntry, MalformedEntry } from '../../../src/adapters/grpc/wire/access-log-decoder.ts';
import { END, ENTRY, EntryCursor } from '../../../src/adapters/grpc/wire/access-log-entries.ts';
import { loadEnvoyProtos, serviceDefinition } from '../../../src/adapters/grpc/protos.ts';
import type { OutcomeReport } from '../../../src/decide/outcome.ts';
import type { HTTPAccessLogEntry } from '../../../src/gen/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { StreamAccessLogsMessage__Output } from '../../../src/gen/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import { OutcomeQueue } from '../../../src/service/outcome-queue.ts';
import { seeded, type Rand } from './wire-fuzz.ts';

const method = serviceDefinition(loadEnvoyProtos(), 'envoy.service.accesslog.v3.AccessLogService')['StreamAccessLogs']!;
const serialize = (m: object): Buffer => method.requestSerialize(m);
const deserialize = (b: Buffer) => method.requestDeserialize(b) as StreamAccessLogsMessage__Output;
const HEADER = 'x-portcullis-signin-result';
const options = { resultHeader: () => HEADER };

const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const maybe = <T>(r: Rand, v: () => T, p = 0.6): T | undefined => (r() < p ? v() : undefined);
const TEXT = ['', 'a', '/login', '/é/登录?x=1', '198.51.100.7, 10.0.0.9', 'unknown_user', 'failure', 'SUCCESS', '😀', 'x'.repeat(300)];

/** An entry with a random subset of the fields Envoy fills, known to the decoder or not. */
function randomEntry(r: Rand): HTTPAccessLogEntry {
  const headers = (): Record<string, string> => Object.fromEntries(Array.from({ length: Math.floor(r() * 4) }, () => [pick(r, [HEADER, 'content-type', 'x-other', '']), pick(r, TEXT)]));
  return {
    commonProperties: maybe(r, () => ({
      downstreamRemoteAddress: maybe(r, () => (r() < 0.85
        ? { socketAddress: { address: pick(r, ['10.0.1.5', '2001:db8::1', '', 'not-an-ip']), portValue: Math.floor(r() * 65536) } }
        : { pipe: { path: '/run/envoy.sock' } })),
      downstreamLocalAddress: maybe(r, () => ({ socketAddress: { address: '10.0.0.1', portValue: 8080 } })),
      upstreamCluster: maybe(r, () => pick(r, TEXT)),
      sampleRate: maybe(r, () => r()),
      timeToLastDownstreamTxByte: maybe(r, () => ({ seconds: 1, nanos: 5000 })),
      responseFlags: maybe(r, () => ({ delayInjected: r() < 0.5, ...(r() < 0.3 ? { unauthorizedDetails: r() < 0.5 ? { reason: 'EXTERNAL_SERVICE' } : {} } : {}) })),
      routeName: maybe(r, () => pick(r, TEXT)),
    }), 0.9),
    protocolVersion: maybe(r, () => pick(r, ['HTTP10', 'HTTP11', 'HTTP2', 'HTTP3'])),
    request: maybe(r, () => ({
      requestMethod: maybe(r, () => pick(r, ['METHOD_UNSPECIFIED', 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'])),
      scheme: maybe(r, () => 'https'),
      authority: maybe(r, () => pick(r, TEXT)),
      port: maybe(r, () => ({ value: 443 })),
      path: maybe(r, () => pick(r, TEXT)),
      userAgent: maybe(r, () => pick(r, TEXT)),
      forwardedFor: maybe(r, () => pick(r, TEXT)),
      requestId: maybe(r, () => pick(r, ['', 'id-1', '6f2a0d3e-5b2c-4a6b-9f1d-1c8e2b7a9d10', 'é'])),
      requestHeaders: maybe(r, headers),
    }), 0.9),
    response: maybe(r, () => ({
      responseCode: maybe(r, () => (r() < 0.9 ? { value: pick(r, [0, 200, 302, 401, 403, 429, 500, 4294967295]) } : {}), 0.9),
      responseHeadersBytes: maybe(r, () => 120),
      responseHeaders: maybe(r, headers),
      responseTrailers: maybe(r, headers),
      responseCodeDetails: maybe(r, () => 'via_upstream'),
    }), 0.9),
  };
}

/** The entry bytes of a one-entry message (0x12, length, then 0x0a, length, the entry). */
function entryBytes(e: HTTPAccessLogEntry): Buffer {
  const c = new EntryCursor(serialize({ httpLogs: { logEntry: [e] } }));
  for (let f = c.next(); f !== END; f = c.next()) if (f === ENTRY) return (c as unknown as { b: Buffer }).b.subarray(c.body, c.end);
  throw new Error('no entry');
}

const reference = (bytes: Buffer): OutcomeReport | undefined | 'malformed' => {
  // Wrapped as a one-entry message, proto-loader decodes exactly these entry bytes.
  const len = bytes.length;
  const prefix = (n: number) => { const o: number[] = []; while (n >= 128) { o.push((n & 127) | 128); n = Math.floor(n / 128); } o.push(n); return o; };
  const inner = Buffer.concat([Buffer.from([0x0a, ...prefix(len)]), bytes]);
  try {
    const entry = deserialize(Buffer.concat([Buffer.from([0x12, ...prefix(inner.length)]), inner])).httpLogs!.logEntry![0]!;
    return outcomeFromEntry(entry, options);
  } catch {
    return 'malformed';
  }
};

const decoded = (bytes: Buffer): OutcomeReport | undefined | 'malformed' => {
  try {
    return decodeAccessLogEntry(bytes, 0, bytes.length, HEADER);
  } catch (err) {
    if (err instanceof MalformedEntry) return 'malformed';
    throw err; // anything else is a decoder bug
  }
};

describe('HTTPAccessLogEntry decoder vs proto-loader + outcomeFromEntry', () => {
  it('gives the same outcome for thousands of generated entries, and for entries given twice (the last message wins)', () => {
    const r = seeded(17);
    let outcomes = 0;
    for (let i = 0; i < 4000; i++) {
      const a = entryBytes(randomEntry(r));
      // Two serialized entries back to back are one valid entry: protobufjs keeps the last of each singular field.
      const bytes = r() < 0.3 ? Buffer.concat([a, entryBytes(randomEntry(r))]) : a;
      const want = reference(bytes);
      expect(decoded(bytes), `case ${i}: ${bytes.toString('hex')}`).toEqual(want);
      if (want && want !== 'malformed') outcomes++;
    }
    expect(outcomes).toBeGreaterThan(1000); // the generator does make outcomes, not only refusals
  });

  it('never throws anything but MalformedEntry on damaged bytes, and reads what proto-loader cannot as malformed or an outcome', () => {
    const r = seeded(23);
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(entryBytes(randomEntry(r)));
      const kind = r();
      const bytes = kind < 0.4 ? b.subarray(0, Math.floor(r() * b.length))
        : kind < 0.8 ? (b.length > 0 && (b[Math.floor(r() * b.length)] = Math.floor(r() * 256)), b)
          : Buffer.from(Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
      const got = decoded(bytes);
      if (reference(bytes) !== 'malformed' && got !== 'malformed') expect(got === undefined || typeof got.status === 'number').toBe(true);
    }
  });
});

describe('StreamAccessLogsMessage walker + intake', () => {
  /** Every outcome the intake hands on for these messages, once the queue has learned them. */
  async function learned(messages: Buffer[]): Promise<{ outcomes: OutcomeReport[]; accepted: boolean[] }> {
    const outcomes: OutcomeReport[] = [];
    const accepted: boolean[] = [];
    const queue = new OutcomeQueue(() => undefined);
    const intake = accessLogIntake(queue, accessLogEntryLearner({ report: (o) => outcomes.push(o) }, options, (a) => accepted.push(a)));
    for (const m of messages) intake.offer(m);
    await new Promise<void>((done) => intake.afterQueued(done));
    return { outcomes, accepted };
  }
  const expected = (bytes: Buffer) => (deserialize(bytes).httpLogs?.logEntry ?? []).map((e) => outcomeFromEntry(e, options)).filter((o) => o !== undefined);

  it('hands on every entry of a message, in order, whatever else the message carries', async () => {
    const r = seeded(11);
    for (let round = 0; round < 20; round++) {
      const logEntry = Array.from({ length: 1 + Math.floor(r() * 300) }, () => randomEntry(r));
      const message = serialize({ identifier: { node: { id: 'gw-0', cluster: 'gateway' }, logName: 'portcullis' }, httpLogs: { logEntry } });
      // Unknown top-level fields before and after, as a newer Envoy might send.
      const bytes = Buffer.concat([Buffer.from([0xa8, 0x1f, 0x2a]), message, Buffer.from([0xb2, 0x1f, 0x02, 0x01, 0x02])]);
      const got = await learned([bytes]);
      expect(got.outcomes).toEqual(expected(bytes));
      expect(got.accepted).toHaveLength(logEntry.length);
    }
  });

  it('reads every http_logs field of a message (a batch split in two), and skips tcp_logs', async () => {
    const r = seeded(5);
    const a = serialize({ httpLogs: { logEntry: Array.from({ length: 40 }, () => randomEntry(r)) } });
    const b = serialize({ httpLogs: { logEntry: Array.from({ length: 7 }, () => randomEntry(r)) } });
    const tcp = serialize({ tcpLogs: { logEntry: [{ commonProperties: { upstreamCluster: 'x' } }] } });
    const got = await learned([Buffer.concat([a, tcp, b])]);
    expect(got.outcomes).toEqual([...expected(a), ...expected(b)]);
    expect(got.accepted).toHaveLength(47);
  });

  it('skips a bad entry but keeps its neighbours; a message cut short keeps what came before', async () => {
    const good = Array.from({ length: 50 }, (_, i) => ({ request: { requestId: `id-${i}`, path: '/login' }, response: { responseCode: { value: 401 } } }));
    const bytes = Buffer.from(serialize({ httpLogs: { logEntry: good } }));
    const c = new EntryCursor(bytes);
    const bodies: number[] = [];
    for (let f = c.next(); f !== END; f = c.next()) if (f === ENTRY) bodies.push(c.body);
    bytes[bodies[20]!] = 0x0f; // entry 20 starts with field 1, wire type 7: not protobuf
    const got = await learned([bytes]);
    expect(got.outcomes.map((o) => o.requestId)).toEqual(good.map((e) => e.request.requestId).filter((id) => id !== 'id-20'));
    expect(got.accepted.filter((a) => !a)).toHaveLength(1);

    const cut = await learned([bytes.subarray(0, bodies[30]! + 3)]);
    expect(cut.outcomes.map((o) => o.requestId)).toEqual(good.slice(0, 30).map((e) => e.request.requestId).filter((id) => id !== 'id-20'));
  });
});
