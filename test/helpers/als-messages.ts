// Large access-log streams for the ingestion test and benchmark, serialized up front: building a 50k-entry
// message with proto-loader takes about a second, which would stall the process sending Checks meanwhile.
import { Client, credentials, type ClientWritableStream } from '@grpc/grpc-js';
import { once } from 'node:events';
import { loadEnvoyProtos, serviceDefinition } from '../../src/adapters/grpc/protos.ts';
import { alsEntry } from '../../src/simulate/als-client.ts';

export const ACCESS_LOG_PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';

export interface AlsPlan {
  readonly entries: number;
  readonly perMessage: number;
  /** Distinct entries (clients, ids) the messages cycle through. */
  readonly distinct: number;
  /** Envoy's address as the entries name it (a trusted proxy of the config); default 10.0.0.5. */
  readonly peer?: string;
}

/** The client of entry i: 198.18.0.0/15 (RFC 2544 benchmarking), i.e. never one the Checks use. */
export const alsClientOf = (i: number): string => `198.${18 + ((i >>> 16) & 1)}.${(i >>> 8) & 255}.${i & 255}`;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 128) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/**
 * `plan.entries` sign-in outcomes behind the proxy (one in four a success, the rest 401) in messages of
 * perMessage. Each distinct entry is serialized once; a message is their bytes laid end to end under http_logs.
 */
export function alsMessages(plan: AlsPlan): Buffer[] {
  const method = serviceDefinition(loadEnvoyProtos(), 'envoy.service.accesslog.v3.AccessLogService')['StreamAccessLogs']!;
  const entryBytes: Buffer[] = [];
  for (let i = 0; i < plan.distinct; i++) {
    const entry = alsEntry({ requestId: `bulk-${i}`, status: i % 4 === 0 ? 200 : 401, peer: plan.peer ?? '10.0.0.5', xff: alsClientOf(i) });
    // A one-entry message is 0x12, a length, then the entry as field 1 of http_logs: keep that part.
    const one = method.requestSerialize({ httpLogs: { logEntry: [entry] } }) as Buffer;
    let p = 1;
    while (one[p]! >= 128) p++;
    entryBytes.push(one.subarray(p + 1));
  }
  const messages: Buffer[] = [];
  for (let sent = 0; sent < plan.entries;) {
    const n = Math.min(plan.perMessage, plan.entries - sent);
    const body = Buffer.concat(Array.from({ length: n }, (_, k) => entryBytes[(sent + k) % entryBytes.length]!));
    messages.push(Buffer.concat([Buffer.from([0x12, ...varint(body.length)]), body]));
    sent += n;
  }
  return messages;
}

/** Streams serialized messages on one StreamAccessLogs call (honouring backpressure); resolves on the answer. */
export async function streamAccessLogs(target: string, messages: readonly Buffer[]): Promise<{ wallMs: number }> {
  const client = new Client(target, credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
    const identity = (b: Buffer): Buffer => b;
    const t0 = performance.now();
    let stream!: ClientWritableStream<Buffer>;
    const answered = new Promise<void>((resolve, reject) => {
      stream = client.makeClientStreamRequest(ACCESS_LOG_PATH, identity, identity, (err) => (err ? reject(err) : resolve()));
    });
    for (const m of messages) if (!stream.write(m)) await once(stream, 'drain');
    stream.end();
    await answered;
    return { wallMs: Math.round(performance.now() - t0) };
  } finally {
    client.close();
  }
}
