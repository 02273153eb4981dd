// The hand-written grpc-js service definitions (src/adapters/grpc/raw-definitions.ts) against what proto-loader
// derives from the pinned protos: the Envoy ones of proto/codegen.json and grpc-health-check's health.proto.
// A path or a streaming flag that drifts from the .proto would make grpc-js route or frame calls wrongly.
import { status, type ServiceDefinition } from '@grpc/grpc-js';
import { service as protoHealth } from 'grpc-health-check';
import { describe, expect, it } from 'vitest';
import { loadEnvoyProtos, serviceDefinition } from '../../../src/adapters/grpc/protos.ts';
import { ACCESS_LOG_DEFINITION, AUTHORIZATION_DEFINITION, HEALTH_DEFINITION } from '../../../src/adapters/grpc/raw-definitions.ts';
import { GRPC_STATUS } from '../../../src/adapters/grpc/status-codes.ts';

const protos = loadEnvoyProtos();
const shape = (d: ServiceDefinition, methods: readonly string[]) =>
  Object.fromEntries(methods.map((m) => [m, { path: d[m]?.path, requestStream: d[m]?.requestStream, responseStream: d[m]?.responseStream, originalName: d[m]?.originalName }]));

describe('raw grpc-js service definitions vs proto-loader', () => {
  const cases: Array<[string, ServiceDefinition, ServiceDefinition]> = [
    ['envoy.service.auth.v3.Authorization', AUTHORIZATION_DEFINITION, serviceDefinition(protos, 'envoy.service.auth.v3.Authorization')],
    ['envoy.service.accesslog.v3.AccessLogService', ACCESS_LOG_DEFINITION, serviceDefinition(protos, 'envoy.service.accesslog.v3.AccessLogService')],
    ['grpc.health.v1.Health', HEALTH_DEFINITION, protoHealth as unknown as ServiceDefinition],
  ];
  for (const [name, raw, loaded] of cases) {
    it(`${name}: every method served has the path, streaming flags and name the proto gives it`, () => {
      const methods = Object.keys(raw);
      expect(methods.length).toBeGreaterThan(0);
      // The Envoy services: exactly the proto's methods. Health: a subset (List is not served).
      if (!name.startsWith('grpc.health')) expect(methods.sort()).toEqual(Object.keys(loaded).sort());
      else expect(Object.keys(loaded)).toEqual(expect.arrayContaining(methods));
      expect(shape(raw, methods)).toEqual(shape(loaded, methods));
    });
  }

  it('passes bytes through untouched both ways (the handlers decode and encode)', () => {
    const b = Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63]);
    for (const d of [AUTHORIZATION_DEFINITION, ACCESS_LOG_DEFINITION, HEALTH_DEFINITION]) {
      for (const m of Object.values(d)) {
        expect(m.requestDeserialize(b)).toBe(b);
        expect(m.responseSerialize(b)).toBe(b);
        expect(m.requestSerialize(b)).toBe(b);
        expect(m.responseDeserialize(b)).toBe(b);
      }
    }
  });
});

describe('gRPC status codes as numbers', () => {
  it('equal grpc-js\' status enum', () => {
    for (const [name, code] of Object.entries(GRPC_STATUS)) expect(code, name).toBe(status[name as keyof typeof status]);
  });
});
