import type { Decision } from '../../decide/decision.ts';
import type { CheckResponse } from '../../gen/envoy/service/auth/v3/CheckResponse.ts';
import type { HeaderValueOption } from '../../gen/envoy/config/core/v3/HeaderValueOption.ts';
import type { StatusCode } from '../../gen/envoy/type/v3/StatusCode.ts';
import { denialBody, denialHeaders, upstreamHeaders } from '../answer.ts';

// google.rpc.Code values. The gRPC *call* always succeeds; the verdict travels in CheckResponse.status.
const RPC_OK = 0;
const RPC_PERMISSION_DENIED = 7;
const RPC_RESOURCE_EXHAUSTED = 8;

function headerOptions(pairs: Array<[string, string]>): HeaderValueOption[] {
  // OVERWRITE_IF_EXISTS_OR_ADD: our value replaces anything the client sent under the same name.
  return pairs.map(([key, value]) => ({ header: { key, value }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }));
}

/**
 * Encodes a decision as Envoy expects. A denial is a CheckResponse with non-OK status and a denied_response
 * carrying the HTTP status: Envoy ignores the gRPC code when choosing the HTTP status.
 */
export function toCheckResponse(d: Decision, forgedHeaders: readonly string[]): CheckResponse {
  if (d.verdict === 'allow') {
    return {
      status: { code: RPC_OK },
      okResponse: { headers: headerOptions(upstreamHeaders(d)), headersToRemove: forgedHeaders as string[] },
    };
  }
  return {
    status: { code: d.verdict === 'rate_limit' ? RPC_RESOURCE_EXHAUSTED : RPC_PERMISSION_DENIED, message: d.reason },
    deniedResponse: {
      status: { code: d.httpStatus === 429 ? 429 : 403 satisfies StatusCode },
      headers: headerOptions(denialHeaders(d)),
      body: denialBody(d),
    },
  };
}
