import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer as createHttp1Server } from './node-http.ts';
import { createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse, type ServerHttp2Session } from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { applyHttpLimits, checkingIntervalMs, DEFAULT_HTTP_LIMITS, type HttpLimits } from './limits.ts';

export type DualRequest = IncomingMessage | Http2ServerRequest;
export type DualResponse = ServerResponse | Http2ServerResponse;
export type DualHandler = (req: DualRequest, res: DualResponse) => void;

export interface DualListenerHandle {
  readonly port: number;
  /** Connections open now (both protocols). */
  readonly connections: number;
  /** Stops accepting, lets open connections finish for up to graceMs, then destroys them. */
  close(graceMs: number): Promise<void>;
}

// "PRI" starts the HTTP/2 connection preface and is no HTTP/1 method (RFC 9113 §3.4).
const PRI = [0x50, 0x52, 0x49];
const IDLE_TIMEOUT_MS = 120_000;

function looksLikeH2(buf: Buffer): boolean | undefined {
  for (let i = 0; i < PRI.length; i++) {
    if (i >= buf.length) return undefined; // need more bytes
    if (buf[i] !== PRI[i]) return false;
  }
  return true;
}

/**
 * One port for HTTP/1.1 (keep-alive) and h2c with prior knowledge. Node 20's http2.createServer cannot fall
 * back to HTTP/1 without TLS, so the first bytes are sniffed and the socket handed to the right server. The
 * bytes read are put back with unshift: HTTP/1 re-reads them when the socket resumes, and an Http2Session
 * drains a socket's buffer when it starts (so the socket must stay paused for it).
 */
export async function listenDual(
  address: { host: string; port: number },
  handler: DualHandler,
  options: { limits?: HttpLimits; maxConnections?: number; onRejected?: () => void } = {},
): Promise<DualListenerHandle> {
  const limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  const sockets = new Set<Socket>();
  const h2Sockets = new Set<Socket>(); // their sessions are closed with GOAWAY instead
  // HTTP/1 sockets with a request being answered; idle ones can be closed at once when draining.
  const busy = new Map<Socket, number>();
  let draining = false;
  const settle = (socket: Socket) => {
    const n = (busy.get(socket) ?? 1) - 1;
    if (n > 0) return void busy.set(socket, n);
    busy.delete(socket);
    if (draining) socket.end();
  };
  const h1 = createHttp1Server({ connectionsCheckingInterval: checkingIntervalMs(limits) }, (req, res) => {
    const socket = req.socket;
    busy.set(socket, (busy.get(socket) ?? 0) + 1);
    res.once('close', () => settle(socket));
    if (draining) res.setHeader('connection', 'close');
    handler(req, res);
  });
  applyHttpLimits(h1, limits, undefined);
  // h1 is never listened on, and Node starts its header/request deadline sweep on 'listening': start it here,
  // or a slowloris connection would be held forever. The sweep timer is unref'd; close() stops it.
  h1.emit('listening');
  h1.timeout = IDLE_TIMEOUT_MS;
  const h2 = createHttp2Server({}, handler);
  h2.setTimeout(IDLE_TIMEOUT_MS); // no listener: an idle session is destroyed
  const sessions = new Set<ServerHttp2Session>();
  h2.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
    if (draining) s.close();
  });

  const net = createNetServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      h2Sockets.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    // The first bytes (which protocol) count against the header deadline too.
    socket.setTimeout(limits.headersTimeoutMs, () => socket.destroy());
    let head: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      const h2c = looksLikeH2(head);
      if (h2c === undefined) return;
      socket.off('data', onData);
      socket.pause();
      socket.setTimeout(0);
      socket.unshift(head);
      if (h2c) {
        h2Sockets.add(socket);
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });

  // Over the cap, Node closes the connection at accept and emits 'drop'.
  if (options.maxConnections !== undefined) {
    net.maxConnections = options.maxConnections;
    net.on('drop', () => options.onRejected?.());
  }

  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(address.port, address.host, () => {
      net.off('error', reject);
      resolve();
    });
  });

  return {
    port: (net.address() as AddressInfo).port,
    get connections() {
      return sockets.size;
    },
    close: (graceMs) =>
      new Promise<void>((resolve) => {
        draining = true;
        net.close();
        h1.close(); // stops the deadline sweep; its sockets are ours to end below
        for (const s of sessions) s.close(); // GOAWAY: open streams finish, no new ones
        for (const socket of sockets) if (!busy.has(socket) && !h2Sockets.has(socket)) socket.end();
        const started = Date.now();
        const poll = setInterval(() => {
          if (sockets.size === 0 || Date.now() - started >= graceMs) {
            clearInterval(poll);
            for (const s of sockets) s.destroy();
            resolve();
          }
        }, 20);
      }),
  };
}
