// The second baseline: a bare node:http2 gRPC answerer. It reads each request body to its end and answers one
// pre-encoded OK CheckResponse with grpc-status 0, decoding nothing: the floor any Check server on node:http2
// can reach, against which Portcullis's own node:http2 transport (--grpc-transport http2) is measured.
// Run alone: node --import tsx bench/bare-h2-server.ts [port]
import http2, { type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { serveParent } from './lib/child.ts';
import { authorizationDefinition, grpcFrame } from './lib/requests.ts';
import type { BareServer } from './bare-server.ts';

export async function startBareH2Server(host = '127.0.0.1', port = 0): Promise<BareServer> {
  // The same OK the bare grpc-js server sends, serialized once by the same definition.
  const ok = grpcFrame(authorizationDefinition()['Check']!.responseSerialize({ status: { code: 0 }, okResponse: {} }));
  const headers = { ':status': 200, 'content-type': 'application/grpc' };
  const trailers = { 'grpc-status': '0' };
  const server = http2.createServer();
  server.on('stream', (stream: ServerHttp2Stream) => {
    stream.on('error', () => undefined);
    stream.on('data', () => undefined);
    stream.once('end', () => {
      if (stream.destroyed) return;
      stream.respond(headers, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end(ok);
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const server = await startBareH2Server('127.0.0.1', Number(process.argv[2] ?? 0));
  if (process.send) serveParent({}, { port: server.port });
  else console.log(`bare node:http2 Check answerer on 127.0.0.1:${server.port}`);
}
