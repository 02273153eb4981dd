// gRPC status codes (grpc/doc/statuscodes.md) the grpc-js services answer with, as plain numbers: a value import
// of grpc-js' `status` enum would load all of grpc-js at start-up on the default node:http2 transport, which
// never uses it. test/adapters/grpc/raw-definitions.test.ts holds them to grpc-js' enum.
export const GRPC_STATUS = Object.freeze({
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const);
