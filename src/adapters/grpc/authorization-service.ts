import { status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { CheckRequest__Output } from '../../gen/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse } from '../../gen/envoy/service/auth/v3/CheckResponse.ts';
import type { RequestFacts } from '../../decide/decision.ts';
import type { Gate } from '../../service/check.ts';
import { factsFromCheckRequest, forgedPortcullisHeaders } from './check-request.ts';
import { toCheckResponse } from './check-response.ts';
import { authorizationOf, OPEN_CREDENTIAL, UNAUTHENTICATED_DETAILS, type BearerCredential } from './credential.ts';

const MALFORMED: RequestFacts = Object.freeze({
  peer: undefined, xForwardedFor: undefined, forwarded: undefined, envoyExternalAddress: undefined,
  method: '', path: '', host: '', requestId: undefined, userAgent: undefined,
});

/**
 * envoy.service.auth.v3.Authorization. Every authenticated call is answered with a CheckResponse, never a gRPC
 * error; a caller without the bearer token (when one is configured) gets UNAUTHENTICATED and is not decided.
 */
export function authorizationService(gate: Gate, onInFlight: (delta: 1 | -1) => void, credential: BearerCredential = OPEN_CREDENTIAL): UntypedServiceImplementation {
  return {
    Check(call: ServerUnaryCall<CheckRequest__Output, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
      if (credential.required && !credential.checkBearer(authorizationOf(call.metadata))) {
        return callback({ code: status.UNAUTHENTICATED, details: UNAUTHENTICATED_DETAILS });
      }
      onInFlight(1);
      try {
        const req = call.request ?? {};
        let facts: RequestFacts;
        try {
          facts = factsFromCheckRequest(req);
        } catch {
          facts = MALFORMED; // decided as malformed_request by the failure mode
        }
        const decision = gate.check(facts, 'grpc');
        callback(null, toCheckResponse(decision, decision.verdict === 'allow' ? forgedPortcullisHeaders(req) : []));
      } finally {
        onInFlight(-1);
      }
    },
  };
}
