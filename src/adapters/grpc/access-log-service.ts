import { status, type ServerReadableStream, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { HTTPAccessLogEntry__Output } from '../../gen/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { StreamAccessLogsMessage__Output } from '../../gen/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import type { StreamAccessLogsResponse } from '../../gen/envoy/service/accesslog/v3/StreamAccessLogsResponse.ts';
import type { OutcomeIngest } from '../../service/ingest.ts';
import type { OutcomeReport } from '../../decide/outcome.ts';
import { authorizationOf, OPEN_CREDENTIAL, UNAUTHENTICATED_DETAILS, type BearerCredential } from './credential.ts';

export interface AccessLogOptions {
  /** Response header the app sets with the sign-in result; Envoy must list it in additional_response_headers_to_log. */
  readonly resultHeader: () => string;
}

/**
 * Maps one Envoy HTTP access-log entry to an outcome. Returns undefined for entries that cannot be a sign-in
 * outcome: no response code, or a request ext_authz itself refused (response flag UAEX) — Portcullis' own
 * denials must never count as failed sign-ins.
 */
export function outcomeFromEntry(e: HTTPAccessLogEntry__Output, options: AccessLogOptions): OutcomeReport | undefined {
  if (e.commonProperties?.responseFlags?.unauthorizedDetails) return undefined;
  const status = e.response?.responseCode?.value ?? 0;
  if (status === 0) return undefined;
  const req = e.request;
  return {
    requestId: req?.requestId || undefined,
    method: typeof req?.requestMethod === 'string' ? req.requestMethod : '',
    path: req?.path ?? '',
    host: req?.authority ?? '',
    status,
    resultHeader: e.response?.responseHeaders?.[options.resultHeader()],
    clientIp: e.commonProperties?.downstreamRemoteAddress?.socketAddress?.address,
    forwardedFor: req?.forwardedFor || undefined,
  };
}

/**
 * envoy.service.accesslog.v3.AccessLogService: a client stream of batches from Envoy's http_grpc access logger.
 * Each entry is handed to the ingest as it arrives; a bad entry is skipped, never fails the stream.
 */
export function accessLogService(ingest: OutcomeIngest, options: AccessLogOptions, onEntry: (accepted: boolean) => void, credential: BearerCredential = OPEN_CREDENTIAL): UntypedServiceImplementation {
  return {
    StreamAccessLogs(call: ServerReadableStream<StreamAccessLogsMessage__Output, StreamAccessLogsResponse>, callback: sendUnaryData<StreamAccessLogsResponse>) {
      // Forged outcomes could get any address blocked: without the token not one entry is read.
      if (credential.required && !credential.checkBearer(authorizationOf(call.metadata))) {
        call.on('error', () => undefined);
        return callback({ code: status.UNAUTHENTICATED, details: UNAUTHENTICATED_DETAILS });
      }
      call.on('data', (msg: StreamAccessLogsMessage__Output) => {
        for (const entry of msg.httpLogs?.logEntry ?? []) {
          let outcome: OutcomeReport | undefined;
          try {
            outcome = outcomeFromEntry(entry, options);
          } catch {
            outcome = undefined;
          }
          onEntry(outcome !== undefined);
          if (outcome) ingest.report(outcome);
        }
      });
      call.on('error', () => undefined); // Envoy reconnects; nothing to answer
      call.on('end', () => callback(null, {}));
    },
  };
}
