// Raw bytes through a real gRPC connection: what Portcullis answers to bytes that are not a CheckRequest, to
// header_map requests with forged headers, and to oversized messages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, makeGenericClientConstructor, Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadEnvoyProtos, serviceDefinition } from '../../src/adapters/grpc/protos.ts';
import type { CheckResponse__Output } from '../../src/gen/envoy/service/auth/v3/CheckResponse.ts';
import { startTestInstance, ZONES_YAML, type TestInstance } from '../helpers/portcullis.ts';

const check = serviceDefinition(loadEnvoyProtos(), 'envoy.service.auth.v3.Authorization')['Check']!;
const identity = (b: Buffer): Buffer => b;
const RawClient = makeGenericClientConstructor({
  Check: { path: '/envoy.service.auth.v3.Authorization/Check', requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity },
}, 'Authorization');

type Raw = Client & { Check(req: Buffer, md: Metadata, opts: object, cb: (e: ServiceError | null, r: Buffer) => void): void };

export function rawCheck(client: Raw, bytes: Buffer, deadlineMs = 5000): Promise<CheckResponse__Output> {
  return new Promise((resolve, reject) => client.Check(bytes, new Metadata(), { deadline: Date.now() + deadlineMs }, (e, r) => (e ? reject(e) : resolve(check.responseDeserialize(r) as CheckResponse__Output))));
}

for (const [failureMode, transport] of [['allow', 'http2'], ['deny', 'http2'], ['allow', 'grpc-js'], ['deny', 'grpc-js']] as const) {
  describe(`Check with raw bytes (failure mode ${failureMode}, ${transport})`, () => {
    let inst: TestInstance;
    let client: Raw;
    beforeAll(async () => {
      inst = await startTestInstance({ 'zones.yaml': ZONES_YAML }, { 'failure-mode': failureMode, 'grpc-transport': transport });
      client = new RawClient(inst.grpcTarget, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 }) as unknown as Raw;
    });
    afterAll(async () => {
      client.close();
      await inst.stop();
    });

    it('answers bytes that are not a CheckRequest with the failure mode, as a CheckResponse', async () => {
      for (const garbage of [Buffer.from([0x0a, 0x05, 0x01]), Buffer.from([0x0e]), Buffer.from('not protobuf at all'), Buffer.alloc(0)]) {
        const res = await rawCheck(client, garbage);
        expect(res.status?.code).toBe(failureMode === 'allow' ? 0 : 7);
        if (failureMode === 'deny') expect(JSON.parse(res.deniedResponse!.body!)).toMatchObject({ reason: 'malformed_request' });
      }
      const metrics = await (await fetch(`${inst.httpBase}/metrics`)).text();
      expect(metrics).toMatch(new RegExp(`portcullis_checks_total\\{verdict="${failureMode}",reason="malformed_request"\\} 4`));
      expect(metrics).toMatch(/portcullis_errors_total\{code="REQUEST_MALFORMED"\} 4/);
    });

    it('removes forged x-portcullis-* headers sent in header_map (encode_raw_headers)', async () => {
      const bytes = check.requestSerialize({
        attributes: {
          source: { address: { socketAddress: { address: '10.0.1.5', portValue: 40000 } } },
          request: { http: { method: 'GET', path: '/', headerMap: { headers: [
            { key: 'x-forwarded-for', rawValue: Buffer.from('198.51.100.23') },
            { key: 'X-Portcullis-Client-Ip', rawValue: Buffer.from('1.2.3.4') },
            { key: 'x-portcullis-threat-level', rawValue: Buffer.from('NONE') },
          ] } } },
        },
      });
      const res = await rawCheck(client, bytes);
      expect(res.status?.code).toBe(0);
      expect(res.okResponse?.headersToRemove).toEqual(['x-portcullis-client-ip', 'x-portcullis-threat-level']);
      expect(res.okResponse?.headers?.find((h) => h.header?.key === 'x-portcullis-client-ip')?.header?.value).toBe('198.51.100.23');
    });

    it('refuses a message over the 8 MiB cap with RESOURCE_EXHAUSTED (the one gRPC error a Check can get)', async () => {
      const huge = check.requestSerialize({ attributes: { request: { http: { body: 'x'.repeat(9 * 1024 * 1024) } } } });
      await expect(rawCheck(client, huge, 20000)).rejects.toMatchObject({ code: status.RESOURCE_EXHAUSTED });
      // The connection stays usable.
      expect((await rawCheck(client, Buffer.alloc(0))).status?.code).toBe(failureMode === 'allow' ? 0 : 7);
    });
  });
}
