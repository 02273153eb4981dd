import { credentials, type ClientWritableStream } from '@grpc/grpc-js';
import { loadEnvoyProtos } from '../adapters/grpc/protos.ts';
import type { StreamAccessLogsMessage } from '../gen/envoy/service/accesslog/v3/StreamAccessLogsMessage.ts';
import type { HTTPAccessLogEntry } from '../gen/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';

type Ctor = new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => {
  StreamAccessLogs(cb: (err: Error | null) => void): ClientWritableStream<StreamAccessLogsMessage>;
  close(): void;
};

/** Envoy's http_grpc access logger, as a real grpc-js client stream. */
export class AlsClient {
  readonly #client: InstanceType<Ctor>;
  #stream: ClientWritableStream<StreamAccessLogsMessage> | undefined;
  #first = true;

  constructor(target: string) {
    const protos = loadEnvoyProtos() as unknown as { envoy: { service: { accesslog: { v3: { AccessLogService: Ctor } } } } };
    this.#client = new protos.envoy.service.accesslog.v3.AccessLogService(target, credentials.createInsecure());
  }

  /** Sends one batch; the first message carries the identifier, as Envoy's does. */
  send(entries: HTTPAccessLogEntry[]): void {
    this.#stream ??= this.#client.StreamAccessLogs(() => undefined);
    const msg: StreamAccessLogsMessage = { httpLogs: { logEntry: entries } };
    if (this.#first) {
      msg.identifier = { node: { id: 'gateway-0', cluster: 'gateway' }, logName: 'portcullis' };
      this.#first = false;
    }
    this.#stream.write(msg);
  }

  close(): void {
    this.#stream?.end();
    this.#client.close();
  }
}

/** An access-log entry for a request Envoy forwarded (or refused, with ext_authz's UAEX flag). */
export function alsEntry(init: { requestId?: string; path?: string; status: number; peer?: string; xff?: string; deniedByExtAuthz?: boolean; resultHeader?: string }): HTTPAccessLogEntry {
  return {
    commonProperties: {
      downstreamRemoteAddress: { socketAddress: { address: init.peer ?? '10.0.0.5', portValue: 40000 } },
      ...(init.deniedByExtAuthz ? { responseFlags: { unauthorizedDetails: { reason: 'EXTERNAL_SERVICE' } } } : {}),
    },
    protocolVersion: 'HTTP11',
    request: { requestMethod: 'POST', path: init.path ?? '/login', authority: 'app.example.com', requestId: init.requestId, forwardedFor: init.xff },
    response: {
      responseCode: { value: init.status },
      ...(init.resultHeader ? { responseHeaders: { 'x-portcullis-signin-result': init.resultHeader } } : {}),
    },
  };
}
