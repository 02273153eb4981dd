// Micro-benchmark of the shipped protobuf route: @grpc/proto-loader (protobufjs reflection) with the loader options
// from proto/codegen.json. Times exactly the functions grpc-js calls per Check: the service definition's
// requestDeserialize(buffer) for a realistic Envoy CheckRequest, and responseSerialize(object) for a deny and an OK
// CheckResponse. Each figure is the median ns/op over several timed rounds after a warm-up.
// Run alone: node --import tsx bench/proto-decode.ts          (docs/protos.md compares this with other routes)
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadSync, type Options, type ServiceDefinition } from '@grpc/proto-loader';
import type { CheckRequest, CheckRequest__Output } from '../src/gen/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse } from '../src/gen/envoy/service/auth/v3/CheckResponse.ts';
import { createHmac, randomUUID } from 'node:crypto';
import { factsFromCheckRequest } from '../src/adapters/grpc/check-request.ts';
import { toCheckResponse } from '../src/adapters/grpc/check-response.ts';
import { decodeCheckRequest } from '../src/adapters/grpc/wire/check-request-decoder.ts';
import { encodeCheckResponse } from '../src/adapters/grpc/wire/check-response-encoder.ts';
import type { Decision } from '../src/decide/decision.ts';
import { DEFAULT_USERNAME_SOURCE, readSignInFields, usernameHash } from '../src/decide/username.ts';
import { randomUuid } from '../src/uuid.ts';
import { parseAddress } from '../src/net/address.ts';

interface Codegen {
  includeDirs: string[];
  files: string[];
  loaderOptions: { longs?: string; enums?: string; bytes?: string; defaults?: boolean; oneofs?: boolean };
}

// proto/codegen.json is JSON, so it holds "Number" / "String" as strings. protobufjs compares these options with the
// constructors themselves (options.longs === Number), so the strings must be mapped, as proto-loader-gen-types does
// for its CLI flags; passed through unmapped, int64 fields decode to Long objects and enums to numbers, which is not
// what the types in src/gen say.
function toConstructor(v: string | undefined): typeof Number | typeof String | undefined {
  if (v === undefined) return undefined;
  if (v === 'Number') return Number;
  if (v === 'String') return String;
  throw new Error(`unsupported loader option value ${JSON.stringify(v)} in proto/codegen.json`);
}

function loadCheckMethod() {
  const require = createRequire(import.meta.url);
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const codegen = JSON.parse(readFileSync(join(root, 'proto/codegen.json'), 'utf8')) as Codegen;
  const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  const o = codegen.loaderOptions;
  const options: Options = {
    ...(o.longs !== undefined && { longs: toConstructor(o.longs) }),
    ...(o.enums !== undefined && { enums: toConstructor(o.enums) }),
    ...(o.bytes !== undefined && { bytes: toConstructor(o.bytes) }),
    ...(o.defaults !== undefined && { defaults: o.defaults }),
    ...(o.oneofs !== undefined && { oneofs: o.oneofs }),
    includeDirs: codegen.includeDirs.map((d) => join(deps, d)),
  };
  const started = performance.now();
  const pkg = loadSync(codegen.files, options);
  const loadMs = performance.now() - started;
  const service = pkg['envoy.service.auth.v3.Authorization'] as ServiceDefinition | undefined;
  const check = service?.['Check'];
  if (!check) throw new Error('envoy.service.auth.v3.Authorization/Check not found in the loaded protos');
  return { check, loadMs };
}

const FORM_BODY = (() => {
  const base =
    'grant_type=password&client_id=web-portal&scope=openid%20profile%20email&username=alice.smith%40example.com' +
    '&password=correct-horse-battery-staple-42&device_id=5f0c2a9e-7b1d-4e3a-9c8f-1a2b3c4d5e6f&pad=';
  return base + 'x'.repeat(200 - base.length);
})();

/** A CheckRequest shaped like the one Envoy's HTTP ext_authz filter sends (with_request_body on, HTTP/1.1). */
function realisticCheckRequest(): CheckRequest {
  const path = '/oauth2/v1/token?x=1';
  return {
    attributes: {
      // source = L4 peer (the front load balancer), not the client: the client is in XFF.
      source: { address: { socketAddress: { address: '10.0.3.17', portValue: 51234 } } },
      destination: { address: { socketAddress: { address: '10.0.5.20', portValue: 8080 } } },
      request: {
        time: { seconds: 1764336000, nanos: 123456000 },
        http: {
          id: '11469406276544165042',
          method: 'POST',
          path,
          host: 'auth.example.com',
          scheme: 'https',
          protocol: 'HTTP/1.1',
          size: FORM_BODY.length,
          body: FORM_BODY,
          headers: {
            ':authority': 'auth.example.com',
            ':path': path,
            ':method': 'POST',
            ':scheme': 'https',
            'user-agent':
              'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
            accept: 'application/json, text/plain, */*',
            'accept-encoding': 'gzip, deflate, br',
            'accept-language': 'en-GB,en;q=0.9',
            'content-type': 'application/x-www-form-urlencoded',
            'content-length': String(FORM_BODY.length),
            'x-forwarded-for': '198.51.100.23,203.0.113.40,10.0.3.17',
            'x-forwarded-proto': 'https',
            'x-request-id': '6f1c9a52-3d4e-4b8a-9e2f-7c1d0b5a4e33',
            'x-envoy-external-address': '198.51.100.23',
            cookie: 'session=eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJhYmMxMjMifQ.c2lnbmF0dXJl; _ga=GA1.2.123456789.1700000000; consent=1',
            authorization: 'Basic d2ViLXBvcnRhbDpzM2NyM3Qtc2VjcmV0LXZhbHVl',
            'x-envoy-auth-partial-body': 'false',
          },
        },
      },
      metadataContext: {}, // Envoy always sets it, empty unless metadata_context_namespaces is configured
    },
  };
}

const DENY: CheckResponse = {
  status: { code: 7 }, // PERMISSION_DENIED
  deniedResponse: {
    status: { code: 'Forbidden' },
    headers: [
      { header: { key: 'content-type', value: 'application/json' } },
      { header: { key: 'retry-after', value: '60' } },
    ],
    body: '{"error":"access_denied","error_description":"Too many failed sign-in attempts"}',
  },
};

const OK: CheckResponse = {
  status: { code: 0 },
  okResponse: {
    headers: [
      { header: { key: 'x-portcullis-client-ip', value: '198.51.100.23' } },
      { header: { key: 'x-portcullis-decision', value: 'allow' } },
      { header: { key: 'x-portcullis-risk', value: '0.12' } },
    ],
    headersToRemove: ['x-portcullis-untrusted-client-ip', 'x-envoy-auth-partial-body'],
  },
};

let sink = 0; // results of the timed calls are folded in here so they stay observable

/** Median ns/op of fn over `rounds` rounds, each calibrated to roughly roundMs, after warmupMs of warm-up. */
function medianNsPerOp(fn: () => number, warmupMs: number, rounds: number, roundMs = 50): number {
  let acc = 0;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < warmupMs) {
    for (let i = 0; i < 500; i++) acc += fn();
    n += 500;
  }
  const iterations = Math.max(500, Math.round(roundMs / ((performance.now() - t0) / n)));
  const perOp: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) acc += fn();
    perOp.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  sink ^= acc;
  perOp.sort((a, b) => a - b);
  return Math.round(perOp[Math.floor(perOp.length / 2)] as number);
}

export async function runProtoDecode(opts: { warmupMs?: number; rounds?: number } = {}): Promise<Record<string, number>> {
  const warmupMs = opts.warmupMs ?? 1000;
  const rounds = opts.rounds ?? 15;
  const { check, loadMs } = loadCheckMethod();
  const requestBytes = check.requestSerialize(realisticCheckRequest());

  // Sanity: the decoded object must look like src/gen says (numbers for int64, strings for enums).
  const decoded = check.requestDeserialize(requestBytes) as CheckRequest__Output;
  const http = decoded.attributes?.request?.http;
  if (http?.path !== '/oauth2/v1/token?x=1' || Object.keys(http.headers ?? {}).length !== 17) {
    throw new Error('decoded CheckRequest does not match the fixture');
  }
  if (typeof http.size !== 'number' || typeof decoded.attributes?.request?.time?.seconds !== 'number') {
    throw new Error('int64 fields did not decode to numbers: check the longs option mapping');
  }
  const denyBytes = check.responseSerialize(DENY);
  const denied = check.responseDeserialize(denyBytes) as { deniedResponse?: { status?: { code?: unknown } } };
  if (denied.deniedResponse?.status?.code !== 'Forbidden') throw new Error('enum did not round-trip as a string');
  const okBytes = check.responseSerialize(OK);

  const results: Record<string, number> = {};
  results['proto.check_request.decode.ns_per_op'] = medianNsPerOp(
    () => ((check.requestDeserialize(requestBytes) as CheckRequest__Output).attributes?.request?.http?.path?.length ?? 0),
    warmupMs,
    rounds,
  );
  results['proto.check_response.deny.encode.ns_per_op'] = medianNsPerOp(() => check.responseSerialize(DENY).length, warmupMs, rounds);
  results['proto.check_response.ok.encode.ns_per_op'] = medianNsPerOp(() => check.responseSerialize(OK).length, warmupMs, rounds);

  // Same run: the byte-level decoder and pre-encoded answers the service uses, against proto-loader plus the
  // object reading it replaced (each including what the Check needs from it: facts, or the encoded answer).
  results['wire.check_request.decode_facts.ns_per_op'] = medianNsPerOp(() => decodeCheckRequest(requestBytes).facts.path.length, warmupMs, rounds);
  results['proto.check_request.decode_facts.ns_per_op'] = medianNsPerOp(
    () => factsFromCheckRequest(check.requestDeserialize(requestBytes) as CheckRequest__Output).path.length, warmupMs, rounds);
  const allow: Decision = { id: '6f1c9a52-3d4e-4b8a-9e2f-7c1d0b5a4e33', verdict: 'allow', reason: 'allowed', httpStatus: 200, retryAfterSeconds: undefined, client: parseAddress('198.51.100.23'), chain: undefined, zone: undefined, feed: undefined, signIn: true, policy: 'p', threat: undefined, usernameHash: undefined };
  const deny: Decision = { ...allow, verdict: 'deny', reason: 'blocklist_zone', httpStatus: 403, zone: 'bad' };
  results['wire.check_response.allow.encode.ns_per_op'] = medianNsPerOp(() => encodeCheckResponse(allow, []).length, warmupMs, rounds);
  results['proto.check_response.allow.encode_decision.ns_per_op'] = medianNsPerOp(() => check.responseSerialize(toCheckResponse(allow, [])).length, warmupMs, rounds);
  results['wire.check_response.deny.encode.ns_per_op'] = medianNsPerOp(() => encodeCheckResponse(deny, []).length, warmupMs, rounds);
  results['proto.check_response.deny.encode_decision.ns_per_op'] = medianNsPerOp(() => check.responseSerialize(toCheckResponse(deny, [])).length, warmupMs, rounds);
  // Username hash: keyed SipHash-2-4 now, HMAC-SHA-256 before (docs/detection.md, privacy).
  const key = Buffer.alloc(32, 7);
  results['username.siphash.ns_per_op'] = medianNsPerOp(() => usernameHash(key, 'Alice.Smith@example.com'), warmupMs, rounds);
  results['username.hmac_sha256.ns_per_op'] = medianNsPerOp(
    () => createHmac('sha256', key).update('Alice.Smith@example.com'.trim().toLowerCase()).digest().readUInt32BE(0), warmupMs, rounds);
  // Decision ids (src/uuid.ts) against crypto.randomUUID: alone, and made and encoded into an allow as a Check does.
  results['ids.random_uuid_pooled.ns_per_op'] = medianNsPerOp(() => randomUuid().length, warmupMs, rounds);
  results['ids.crypto_random_uuid.ns_per_op'] = medianNsPerOp(() => randomUUID().length, warmupMs, rounds);
  results['ids.random_uuid_pooled.allow_encoded.ns_per_op'] = medianNsPerOp(() => encodeCheckResponse({ ...allow, id: randomUuid() }, []).length, warmupMs, rounds);
  results['ids.crypto_random_uuid.allow_encoded.ns_per_op'] = medianNsPerOp(() => encodeCheckResponse({ ...allow, id: randomUUID() }, []).length, warmupMs, rounds);
  // A sign-in form body: the username read by hand (src/decide/form.ts) against URLSearchParams over the body.
  const form = 'username=alice%40example.com&password=correct-horse-battery-staple';
  const formType = { 'content-type': 'application/x-www-form-urlencoded' };
  results['username.form_field.ns_per_op'] = medianNsPerOp(() => readSignInFields(DEFAULT_USERNAME_SOURCE, formType, form).username!.length, warmupMs, rounds);
  results['username.url_search_params.ns_per_op'] = medianNsPerOp(() => new URLSearchParams(form).get('username')!.length, warmupMs, rounds);
  results['proto.check_request.bytes'] = requestBytes.length;
  results['proto.check_response.deny.bytes'] = denyBytes.length;
  results['proto.check_response.ok.bytes'] = okBytes.length;
  results['proto.load_sync.ms'] = Math.round(loadMs);
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runProtoDecode();
  for (const [k, v] of Object.entries(results)) console.log(`${k.padEnd(46)} ${v}`);
}
