import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { CheckRequest__Output } from '../../gen/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse } from '../../gen/envoy/service/auth/v3/CheckResponse.ts';
import { MALFORMED_FACTS, type RequestFacts } from '../../decide/decision.ts';
import type { Gate } from '../../service/check.ts';
import { factsFromCheckRequest, forgedPortcullisHeaders } from './check-request.ts';
import { toCheckResponse } from './check-response.ts';

/** envoy.service.auth.v3.Authorization. Every call is answered with a CheckResponse, never a gRPC error. */
export function authorizationService(gate: Gate, onInFlight: (delta: 1 | -1) => void): UntypedServiceImplementation {
  return {
    Check(call: ServerUnaryCall<CheckRequest__Output, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
      onInFlight(1);
      try {
        const req = call.request ?? {};
        let facts: RequestFacts;
        try {
          facts = factsFromCheckRequest(req);
        } catch {
          facts = MALFORMED_FACTS; // decided as malformed_request by the failure mode
        }
        const decision = gate.check(facts, 'grpc');
        callback(null, toCheckResponse(decision, decision.verdict === 'allow' ? forgedPortcullisHeaders(req) : []));
      } finally {
        onInFlight(-1);
      }
    },
  };
}
