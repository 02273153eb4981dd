import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GRPC_STATUS } from './status-codes.ts';
import { MALFORMED_FACTS } from '../../decide/decision.ts';
import type { Gate } from '../../service/check.ts';
import { decodeCheckRequest, type DecodedCheck } from './wire/check-request-decoder.ts';
import { encodeCheckResponse } from './wire/check-response-encoder.ts';
import { authorizationOf, OPEN_CREDENTIAL, UNAUTHENTICATED_DETAILS, type BearerCredential } from './credential.ts';

const MALFORMED: DecodedCheck = Object.freeze({ facts: MALFORMED_FACTS, forged: Object.freeze([]) });

/**
 * One Check, bytes in and bytes out, for any transport: decode (wire/check-request-decoder.ts), decide, encode
 * (wire/check-response-encoder.ts). Bytes that are not a CheckRequest are decided as malformed_request by
 * the failure mode, so every call is answered with a CheckResponse, never a gRPC error. `framed`: the answer
 * carries the gRPC message prefix (what the node:http2 transport sends).
 */
export function checkHandler(gate: Gate, onInFlight: (delta: 1 | -1) => void, framed = false): (request: Buffer, start?: number, end?: number) => Buffer {
  return (request, start = 0, end = request.length) => {
    onInFlight(1);
    try {
      let decoded: DecodedCheck;
      try {
        decoded = decodeCheckRequest(request, gate.usernameHeader(), start, end);
      } catch {
        decoded = MALFORMED;
      }
      const decision = gate.check(decoded.facts, 'grpc');
      return encodeCheckResponse(decision, decoded.forged, framed);
    } finally {
      onInFlight(-1);
    }
  };
}

/**
 * envoy.service.auth.v3.Authorization on grpc-js, registered with AUTHORIZATION_DEFINITION (raw-definitions.ts):
 * bytes both ways, so grpc-js does no protobuf work (proto-loader's decode + toObject + fromObject + encode cost
 * ~10 µs per call). A caller without the bearer token (when one is configured) gets UNAUTHENTICATED and is not
 * decided (docs/security.md).
 */
export function authorizationService(gate: Gate, onInFlight: (delta: 1 | -1) => void, credential: BearerCredential = OPEN_CREDENTIAL): UntypedServiceImplementation {
  const handle = checkHandler(gate, onInFlight);
  return {
    Check(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) {
      if (credential.required && !credential.checkBearer(authorizationOf(call.metadata))) {
        return callback({ code: GRPC_STATUS.UNAUTHENTICATED, details: UNAUTHENTICATED_DETAILS });
      }
      callback(null, handle(call.request));
    },
  };
}
