import type { ServerReadableStream, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import { GRPC_STATUS } from './status-codes.ts';
import type { HTTPAccessLogEntry__Output } from '../../gen/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import type { OutcomeIngest } from '../../service/ingest.ts';
import type { OutcomeJob, OutcomeQueue } from '../../service/outcome-queue.ts';
import type { OutcomeReport } from '../../decide/outcome.ts';
import { authorizationOf, OPEN_CREDENTIAL, UNAUTHENTICATED_DETAILS, type BearerCredential } from './credential.ts';
import { decodeAccessLogEntry } from './wire/access-log-decoder.ts';
import { END, ENTRY, EntryCursor } from './wire/access-log-entries.ts';

export interface AccessLogOptions {
  /** Response header the app sets with the sign-in result; Envoy must list it in additional_response_headers_to_log. */
  readonly resultHeader: () => string;
}

/**
 * Maps one Envoy HTTP access-log entry, as proto-loader decodes it, to an outcome. Returns undefined for entries
 * that cannot be a sign-in outcome: no response code, or a request ext_authz itself refused (response flag
 * UAEX) — Portcullis' own denials must never count as failed sign-ins. The service reads the bytes directly
 * (wire/access-log-decoder.ts); this is the reference its test compares with.
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
 * What a stream of StreamAccessLogsMessages goes through, whichever gRPC transport carried it: each message is
 * queued whole (raw bytes) and learned a few entries at a time (service/outcome-queue.ts). The transport pauses
 * reading while `congested`, so HTTP/2 flow control holds Envoy back instead of memory growing.
 */
export interface AccessLogIntake {
  /** Queues one serialized StreamAccessLogsMessage; refused and counted as shed when the backlog is full. */
  offer(message: Buffer): void;
  readonly congested: boolean;
  whenUncongested(resume: () => void): void;
  /** `done` once every message offered so far has been learned: a stream is answered after its last entry. */
  afterQueued(done: () => void): void;
}

/** One ALS message, learned from its raw bytes one entry at a time. */
class AccessLogBatch implements OutcomeJob {
  readonly source = 'access_log' as const;
  readonly #cursor: EntryCursor;

  constructor(private readonly bytes: Buffer, private readonly learn: (b: Buffer, start: number, end: number) => void) {
    this.#cursor = new EntryCursor(bytes);
  }

  step(max: number): number {
    const c = this.#cursor;
    let work = 0;
    while (work < max) {
      const found = c.next();
      if (found === END) break;
      work++;
      if (found === ENTRY) this.learn(this.bytes, c.body, c.end);
    }
    return work;
  }

  remaining(): number {
    const c = this.#cursor.clone();
    let n = 0;
    for (let f = c.next(); f !== END; f = c.next()) if (f === ENTRY) n++;
    return n;
  }
}

/**
 * Decodes one entry (wire/access-log-decoder.ts) and hands its outcome to the ingest, counting whether it could
 * be one; an entry that does not decode is counted as not accepted and skipped. Never throws.
 */
export function accessLogEntryLearner(ingest: OutcomeIngest, options: AccessLogOptions, onEntry: (accepted: boolean) => void): (b: Buffer, start: number, end: number) => void {
  return (b, start, end) => {
    let outcome: OutcomeReport | undefined;
    try {
      outcome = decodeAccessLogEntry(b, start, end, options.resultHeader());
    } catch {
      outcome = undefined;
    }
    onEntry(outcome !== undefined);
    if (outcome) ingest.report(outcome);
  };
}

/** The intake for both gRPC transports: raw message bytes in, the shared outcome queue behind. */
export function accessLogIntake(queue: OutcomeQueue, learn: (b: Buffer, start: number, end: number) => void): AccessLogIntake {
  return {
    offer: (message) => void queue.offer(new AccessLogBatch(message, learn), message.length),
    get congested() {
      return queue.congested;
    },
    whenUncongested: (resume) => queue.whenUncongested(resume),
    afterQueued: (done) => queue.afterQueued(done),
  };
}

/** StreamAccessLogsResponse {} serialized: no bytes. */
const EMPTY_RESPONSE = Buffer.alloc(0);

/**
 * envoy.service.accesslog.v3.AccessLogService on grpc-js, registered with ACCESS_LOG_DEFINITION
 * (raw-definitions.ts: bytes both ways): a client stream of batches from Envoy's http_grpc access logger. A bad
 * entry is skipped, never fails the stream.
 */
export function accessLogService(intake: AccessLogIntake, credential: BearerCredential = OPEN_CREDENTIAL): UntypedServiceImplementation {
  return {
    StreamAccessLogs(call: ServerReadableStream<Buffer, Buffer>, callback: sendUnaryData<Buffer>) {
      // Forged outcomes could get any address blocked: without the token not one entry is read.
      if (credential.required && !credential.checkBearer(authorizationOf(call.metadata))) {
        call.on('error', () => undefined);
        return callback({ code: GRPC_STATUS.UNAUTHENTICATED, details: UNAUTHENTICATED_DETAILS });
      }
      let paused = false;
      // grpc-js reads the next message only when this stream asks for one, so pausing it stops the HTTP/2 reads.
      const resume = (): void => {
        paused = false;
        call.resume();
      };
      call.on('data', (message: Buffer) => {
        intake.offer(message);
        if (!paused && intake.congested) {
          paused = true;
          call.pause();
          intake.whenUncongested(resume);
        }
      });
      call.on('error', () => undefined); // Envoy reconnects; nothing to answer
      call.on('end', () => intake.afterQueued(() => callback(null, EMPTY_RESPONSE)));
    },
  };
}
