// The services Portcullis serves on grpc-js, written out as grpc-js service definitions whose messages cross as
// their bytes (serialize and deserialize are the identity): the handlers decode and encode by hand (wire/,
// health.ts). Why not loaded from the .proto files: proto-loader and protobufjs parsing the Envoy protos at
// start-up are ~20 MB of RSS on Node 24 (docs/benchmarks.md, "Idle RSS") for three paths and six flags.
// test/adapters/grpc/raw-definitions.test.ts holds every path and streaming flag here to what proto-loader
// derives from the pinned protos (proto/codegen.json, grpc-health-check's health.proto).
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';

const identity = (b: Buffer): Buffer => b;

function rawMethod(path: string, originalName: string, requestStream: boolean, responseStream: boolean): MethodDefinition<Buffer, Buffer> {
  return Object.freeze({
    path, originalName, requestStream, responseStream,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  });
}

/** envoy.service.auth.v3.Authorization: Check, unary. */
export const AUTHORIZATION_DEFINITION: ServiceDefinition = Object.freeze({
  Check: rawMethod('/envoy.service.auth.v3.Authorization/Check', 'check', false, false),
});

/** envoy.service.accesslog.v3.AccessLogService: StreamAccessLogs, client streaming. */
export const ACCESS_LOG_DEFINITION: ServiceDefinition = Object.freeze({
  StreamAccessLogs: rawMethod('/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs', 'streamAccessLogs', true, false),
});

/** grpc.health.v1.Health: Check (unary) and Watch (server streaming); List is not served (Envoy never calls it). */
export const HEALTH_DEFINITION: ServiceDefinition = Object.freeze({
  Check: rawMethod('/grpc.health.v1.Health/Check', 'check', false, false),
  Watch: rawMethod('/grpc.health.v1.Health/Watch', 'watch', false, true),
});
