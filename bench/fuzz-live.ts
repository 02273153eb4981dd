// npm run fuzz [-- --checks N] [-- --transport grpc-js|http2|both] [-- --seed S]
// Hostile Checks over a real HTTP/2 connection to a real Portcullis (deploy/examples, in-process): fuzzed
// CheckRequests (every field, unknown fields, unicode, huge values), half of them then damaged (truncated,
// flipped, spliced, noise). Every Check must be answered with a CheckResponse, the process must stay up, and
// each answer must equal an oracle: the same bytes decoded by proto-loader (the reference path of
// test/adapters/grpc/check-request-decoder.test.ts) and decided on the same snapshot without detectors. Answers
// the detectors changed (threat_* reasons: fuzzed sign-ins do count) are counted apart and must be refusals
// the oracle would otherwise have allowed. Prints inputs, mismatches, crashes and RSS before/after.
import http2 from 'node:http2';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { factsFromCheckRequest } from '../src/adapters/grpc/check-request.ts';
import { loadEnvoyProtos, serviceDefinition } from '../src/adapters/grpc/protos.ts';
import { decide } from '../src/decide/decide.ts';
import { MALFORMED_FACTS, type RequestFacts } from '../src/decide/decision.ts';
import type { CheckRequest__Output } from '../src/gen/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse__Output } from '../src/gen/envoy/service/auth/v3/CheckResponse.ts';
import { startPortcullis } from '../src/main.ts';
import { readSettings } from '../src/settings.ts';
import { createLogger } from '../src/telemetry/logger.ts';
import { CheckRequestFuzzer, mutate, seeded } from '../test/adapters/grpc/wire-fuzz.ts';

const { values } = parseArgs({ options: { checks: { type: 'string', default: '250000' }, transport: { type: 'string', default: 'both' }, seed: { type: 'string', default: '20261203' } } });
const total = Number(values.checks);
const transports = values.transport === 'both' ? ['grpc-js', 'http2'] : [values.transport!];
const check = serviceDefinition(loadEnvoyProtos(), 'envoy.service.auth.v3.Authorization')['Check']!;
const PATH = '/envoy.service.auth.v3.Authorization/Check';
const IN_FLIGHT = 32;

function frame(message: Buffer): Buffer {
  const f = Buffer.alloc(5 + message.length);
  f.writeUInt32BE(message.length, 1);
  message.copy(f, 5);
  return f;
}

function referenceFacts(bytes: Buffer): RequestFacts {
  let req: CheckRequest__Output;
  try {
    req = check.requestDeserialize(bytes) as CheckRequest__Output;
  } catch {
    return MALFORMED_FACTS;
  }
  return factsFromCheckRequest(req);
}

function send(session: http2.ClientHttp2Session, body: Buffer): Promise<{ grpcStatus: string | undefined; response: CheckResponse__Output | undefined }> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':method': 'POST', ':path': PATH, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    let status: string | undefined;
    s.on('response', (h) => { if (h['grpc-status'] !== undefined) status = String(h['grpc-status']); });
    s.on('trailers', (t) => { status = String(t['grpc-status']); });
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const data = Buffer.concat(chunks);
      resolve({ grpcStatus: status, response: data.length >= 5 ? check.responseDeserialize(data.subarray(5)) as CheckResponse__Output : undefined });
    });
    s.end(frame(body));
  });
}

const rssMb = (): number => Math.round(process.memoryUsage().rss / 1e5) / 10;

for (const transport of transports) {
  const settings = readSettings({
    config: ['deploy/examples'], 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '', events: 'none',
    'grpc-transport': transport, 'drain-seconds': '1', 'username-key': 'fuzz-live-username-key-0123456789',
  }, {});
  const running = await startPortcullis(settings, { logger: createLogger('silent') });
  const snapshot = running.holder.current!;
  const oracle = { clientIp: { mode: settings.clientIpMode, maxHops: settings.maxHops }, failureMode: settings.failureMode, newId: () => 'oracle' };
  const session = http2.connect(`http://127.0.0.1:${running.grpcPort}`);
  const rand = seeded(Number(values.seed));
  const fuzz = new CheckRequestFuzzer(rand);
  const counts = { sent: 0, answered: 0, malformed: 0, denied: 0, threat: 0, mismatches: 0, grpcErrors: 0 };
  const examples: string[] = [];
  const rssBefore = rssMb();
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (counts.sent < total) {
      counts.sent++;
      const clean = fuzz.next();
      const bytes = rand() < 0.5 ? mutate(rand, clean) : clean;
      const facts = referenceFacts(bytes);
      if (facts === MALFORMED_FACTS) counts.malformed++;
      const want = decide(facts, snapshot, { ...oracle, feeds: running.feeds });
      const got = await send(session, bytes);
      if (got.grpcStatus !== '0' || !got.response) {
        counts.grpcErrors++;
        if (examples.length < 5) examples.push(`grpc-status ${got.grpcStatus}: ${bytes.toString('base64').slice(0, 200)}`);
        continue;
      }
      counts.answered++;
      const code = got.response.status?.code ?? 0;
      const reason = code === 0 ? undefined : (JSON.parse(got.response.deniedResponse?.body || '{}') as { reason?: string }).reason;
      if (code !== 0) counts.denied++;
      if (reason === 'threat_block' || reason === 'threat_rate_limit') {
        counts.threat++;
        if (want.verdict === 'allow') continue;
      }
      const wantCode = want.verdict === 'allow' ? 0 : 7;
      const clientHeader = got.response.okResponse?.headers?.find((h) => h.header?.key === 'x-portcullis-client-ip')?.header?.value;
      const clientOk = code !== 0 || want.verdict !== 'allow' || (clientHeader ?? '') === (want.client?.text ?? '');
      if (code !== wantCode || !clientOk) {
        counts.mismatches++;
        if (examples.length < 5) examples.push(`answer ${code} (${reason ?? clientHeader}) vs oracle ${want.verdict} ${want.reason} ${want.client?.text}: ${bytes.toString('base64').slice(0, 200)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  // The process is still up and serving: a last well-formed Check must be answered.
  const alive = await send(session, check.requestSerialize({ attributes: { source: { address: { socketAddress: { address: '10.0.0.5', portValue: 1 } } }, request: { http: { method: 'GET', path: '/', host: 'h' } } } }));
  session.close();
  await running.stop();
  console.log(JSON.stringify({
    transport, checks: counts.sent, seconds: Math.round(seconds), ...counts, aliveAfter: alive.grpcStatus === '0', rssMbBefore: rssBefore, rssMbAfter: rssMb(),
    loadAvg: loadavg().map((l) => Math.round(l * 100) / 100), examples,
  }));
  if (counts.mismatches > 0 || counts.grpcErrors > 0 || alive.grpcStatus !== '0') process.exitCode = 1;
}
