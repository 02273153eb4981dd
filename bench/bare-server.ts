// The load benchmark's baseline: a bare grpc-js Authorization/Check server that answers OK to everything. It
// decodes requests with the same service definition as Portcullis, so the difference between the two is the
// decision, not the protobuf route. Run alone: node --import tsx bench/bare-server.ts [port]
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { pathToFileURL } from 'node:url';
import type { CheckRequest__Output } from '../src/gen/envoy/service/auth/v3/CheckRequest.ts';
import type { CheckResponse } from '../src/gen/envoy/service/auth/v3/CheckResponse.ts';
import { serveParent } from './lib/child.ts';
import { authorizationDefinition } from './lib/requests.ts';

const OK: CheckResponse = Object.freeze({ status: { code: 0 }, okResponse: {} });

export interface BareServer {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startBareServer(address = '127.0.0.1:0'): Promise<BareServer> {
  const server = new Server();
  server.addService(authorizationDefinition(), {
    Check(_call: ServerUnaryCall<CheckRequest__Output, CheckResponse>, callback: sendUnaryData<CheckResponse>) {
      callback(null, OK);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(address, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startBareServer(`127.0.0.1:${process.argv[2] ?? '0'}`);
  if (process.send) serveParent({}, { port: server.port });
  else console.log(`bare Check server on 127.0.0.1:${server.port}`);
}
