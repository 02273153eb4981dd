// The gRPC surface Envoy uses — Authorization/Check, grpc.health.v1 Check/Watch and the client-streaming
// AccessLogService/StreamAccessLogs — written directly on node:http2 (h2c, prior knowledge).
//
// Why by hand: grpc-js costs ~27 µs per call over node:http2 on this path (interceptors, Metadata objects, its
// stream decoder, extra ticks, a deadline timer per call when Envoy sends grpc-timeout); a bare node:http2
// answerer does 1.5–1.6× a bare grpc-js server (issue 15). The surface is small and fixed: unary and
// client-streaming calls, identity encoding only, no TLS (a sidecar on loopback or a Unix socket).
// grpc-js stays available as the reference transport (--grpc-transport grpc-js).
import { rmSync } from 'node:fs';
import type { Socket } from 'node:net';
import { UNAUTHENTICATED_DETAILS, type BearerCredential } from '../credential.ts';
import http2, { type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { PortcullisError } from '../../../errors.ts';
import type { GrpcListen, GrpcServerHandle } from '../server.ts';
import { HealthState, healthCheckRequestService, healthCheckResponse, MAX_HEALTH_WATCHERS, type HealthStatus } from '../health.ts';
import type { AccessLogIntake } from '../access-log-service.ts';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
export const HEALTH_WATCH_PATH = '/grpc.health.v1.Health/Watch';
export const ACCESS_LOG_PATH = '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs';

// gRPC status codes used here.
const OK = 0;
const DEADLINE_EXCEEDED = 4;
const NOT_FOUND = 5;
const RESOURCE_EXHAUSTED = 8;
const UNIMPLEMENTED = 12;
const INTERNAL = 13;
const UNAVAILABLE = 14;
const UNAUTHENTICATED = 16;

export interface H2Options {
  /** Largest message accepted (the gRPC length prefix), as grpc-js' grpc.max_receive_message_length. */
  readonly maxMessageBytes: number;
  /** Server PING to each connection this often; one unanswered for keepaliveTimeoutMs closes it. */
  readonly keepaliveMs: number;
  readonly keepaliveTimeoutMs: number;
  /** Concurrent streams per connection (SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly maxConcurrentStreams: number;
  /** A call whose request is not complete by then (or by its grpc-timeout, if sooner) is ended. */
  readonly maxCallMs: number;
}

export const DEFAULT_H2_OPTIONS: H2Options = Object.freeze({
  maxMessageBytes: 8 * 1024 * 1024,
  keepaliveMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  maxConcurrentStreams: 1000,
  maxCallMs: 60_000,
});

export interface H2Handlers {
  /** One serialized CheckRequest in (request[start, end)), one framed CheckResponse out (the 5-byte gRPC prefix, then the message). Must not throw. */
  readonly check: (request: Buffer, start: number, end: number) => Buffer;
  /** Where each serialized StreamAccessLogsMessage of a stream goes; the stream stops reading while it is congested. */
  readonly accessLog?: AccessLogIntake;
  /** Check and StreamAccessLogs need this bearer token when it is required (health stays open). */
  readonly credential?: BearerCredential;
}

const RESPONSE_HEADERS = Object.freeze({ ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' });
const OK_TRAILERS = Object.freeze({ 'grpc-status': '0' });
// Made once, not per call. No `date` header: gRPC does not use it, and it is one more field to HPACK-encode
// per answer.
const RESPOND_WITH_TRAILERS = Object.freeze({ waitForTrailers: true, sendDate: false });
function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}
const ignore = (): void => undefined;

/** grpc-timeout: 1–8 ASCII digits and a unit (H M S m u n). undefined when absent or malformed. */
export function parseGrpcTimeout(value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'H': return n * 3_600_000;
    case 'M': return n * 60_000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return n / 1000;
    default: return n / 1e6;
  }
}

/** Percent-encodes grpc-message as the spec asks (printable ASCII except '%' stays). */
function grpcMessage(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** A trailers-only answer: the status in the one HEADERS frame, no message. */
function trailersOnly(stream: ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    // Headers went out (a Watch): end with trailers instead.
    if (!stream.writableEnded) {
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(code), 'grpc-message': grpcMessage(message) }));
      stream.end();
    }
    return;
  }
  stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity', 'grpc-status': String(code), 'grpc-message': grpcMessage(message) }, { endStream: true });
}

function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** Sends one message (already framed: prefix and bytes) and OK trailers. */
function answerFramed(stream: ServerHttp2Stream, framed: Buffer): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond(RESPONSE_HEADERS, RESPOND_WITH_TRAILERS);
  // 'wantTrailers' fires once per stream: `on` spares the wrapper `once` allocates.
  stream.on('wantTrailers', sendOkTrailers);
  stream.end(framed);
}

/** Sends one message and OK trailers. */
function answer(stream: ServerHttp2Stream, message: Buffer): void {
  answerFramed(stream, frame(message));
}

/** Why a message prefix (compressed flag, length) is refused, or undefined: identity encoding only, a size cap. */
function prefixError(flag: number, len: number, maxMessageBytes: number): { code: number; message: string } | undefined {
  if (flag === 1) return { code: INTERNAL, message: 'compressed message, but no grpc-encoding was negotiated (identity only)' };
  if (flag !== 0) return { code: INTERNAL, message: `invalid message flag ${flag}` };
  if (len > maxMessageBytes) return { code: RESOURCE_EXHAUSTED, message: `message of ${len} bytes is over the ${maxMessageBytes}-byte limit` };
  return undefined;
}

/**
 * Splits a request body into gRPC messages as it arrives: 1-byte compressed flag, 4-byte big-endian length,
 * the bytes. Holds at most one message (bounded by maxMessageBytes) plus a partial prefix.
 */
class FrameReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  constructor(private readonly maxMessageBytes: number) {}

  /** Feeds bytes; returns the complete messages, or an error status to end the call with. */
  push(chunk: Buffer, onMessage: (m: Buffer, owned: boolean) => void): { code: number; message: string } | undefined {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    for (;;) {
      if (this.#buffered < 5) return undefined;
      // The prefix is read in place: flattening on every chunk of a large message would copy it over and over.
      const flag = this.#byte(0);
      const len = ((this.#byte(1) << 24) | (this.#byte(2) << 16) | (this.#byte(3) << 8) | this.#byte(4)) >>> 0;
      const refused = prefixError(flag, len, this.maxMessageBytes);
      if (refused) return refused;
      if (this.#buffered < 5 + len) return undefined;
      const owned = this.#chunks.length > 1;
      const all = owned ? this.#flatten() : this.#chunks[0]!;
      onMessage(all.subarray(5, 5 + len), owned);
      const rest = all.subarray(5 + len);
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
    }
  }

  get pending(): number {
    return this.#buffered;
  }

  /** Byte i of what is buffered (i < 5: the prefix spans at most the first five chunks). */
  #byte(i: number): number {
    for (const c of this.#chunks) {
      if (i < c.length) return c[i]!;
      i -= c.length;
    }
    return 0;
  }

  #flatten(): Buffer {
    const b = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = [b];
    return b;
  }
}

/** grpc.health.v1 Check and Watch on node:http2, over the shared statuses (../health.ts). */
class Health {
  readonly #state: HealthState;

  constructor(services: readonly string[]) {
    this.#state = new HealthState(services);
  }

  setStatus(service: string, status: HealthStatus): void {
    this.#state.setStatus(service, status);
  }

  check(stream: ServerHttp2Stream, request: Buffer): void {
    const service = healthCheckRequestService(request);
    if (service === undefined) return trailersOnly(stream, INTERNAL, 'malformed HealthCheckRequest');
    const status = this.#state.status(service);
    if (status === undefined) return trailersOnly(stream, NOT_FOUND, `unknown service ${JSON.stringify(service)}`);
    answer(stream, healthCheckResponse(status));
  }

  /** Server streaming: the current status now, then every change, until the client goes or we shut down. */
  watch(stream: ServerHttp2Stream, request: Buffer): void {
    const service = healthCheckRequestService(request);
    if (service === undefined) return trailersOnly(stream, INTERNAL, 'malformed HealthCheckRequest');
    if (this.#state.watching >= MAX_HEALTH_WATCHERS) return trailersOnly(stream, RESOURCE_EXHAUSTED, 'too many health watchers');
    stream.respond(RESPONSE_HEADERS, RESPOND_WITH_TRAILERS);
    const unwatch = this.#state.watch(service, {
      send: (status) => {
        if (!stream.destroyed) stream.write(frame(healthCheckResponse(status)));
      },
      end: () => trailersOnly(stream, UNAVAILABLE, 'server shutting down'),
    });
    if (unwatch) stream.once('close', unwatch);
  }

  endWatches(): void {
    this.#state.endWatches();
  }
}

/** A call whose request is still arriving; the sweep ends it at its deadline. */
interface Pending {
  readonly stream: ServerHttp2Stream;
  readonly deadline: number;
  /** Its slot in the pending list, -1 once out of it. */
  slot: number;
}

/**
 * The calls whose request is still arriving, as an array with each call's slot: adding is a push, leaving
 * swaps the last call into the slot. No Set hashing per Check, and a finished call is let go at once (held
 * until a sweep, every stream would outlive a young-generation collection).
 */
function enter(list: Pending[], call: Pending): void {
  call.slot = list.length;
  list.push(call);
}

function leave(list: Pending[], call: Pending): void {
  const i = call.slot;
  if (i < 0) return;
  call.slot = -1;
  const last = list.pop()!;
  if (last !== call) {
    list[i] = last;
    last.slot = i;
  }
}

// Unary methods (Check, health Check/Watch): the request is one small message, nearly always in one DATA chunk.
const M_CHECK = 0;
const M_HEALTH_CHECK = 1;
const M_HEALTH_WATCH = 2;

/**
 * One unary call, kept on its stream under UNARY, so the listeners are shared functions rather than closures
 * made per call (the hot path: every Check goes through here).
 */
interface UnaryCall extends Pending {
  readonly method: number;
  readonly context: Context;
  first: Buffer | undefined;
  more: Buffer[] | undefined;
  bytes: number;
  /** 5 + the message length, once the prefix is in; 0 before. */
  expect: number;
  failed: boolean;
}

interface Context {
  readonly handlers: H2Handlers;
  readonly health: Health;
  readonly pending: Pending[];
  readonly maxMessageBytes: number;
}

const UNARY = Symbol('portcullis.unary');
type UnaryStream = ServerHttp2Stream & { [UNARY]?: UnaryCall };

function failCall(c: UnaryCall, code: number, message: string): void {
  c.failed = true;
  leave(c.context.pending, c);
  trailersOnly(c.stream, code, message);
  c.stream.removeAllListeners('data');
  c.stream.resume(); // drain what the client still sends
}

/** Byte i of the buffered request (i < 5). */
function byteAt(c: UnaryCall, i: number): number {
  if (i < c.first!.length) return c.first![i]!;
  i -= c.first!.length;
  for (const chunk of c.more!) {
    if (i < chunk.length) return chunk[i]!;
    i -= chunk.length;
  }
  return 0;
}

function onUnaryData(this: UnaryStream, chunk: Buffer): void {
  const c = this[UNARY]!;
  if (c.failed) return;
  if (c.first === undefined) c.first = chunk;
  else (c.more ??= []).push(chunk);
  c.bytes += chunk.length;
  if (c.expect === 0 && c.bytes >= 5) {
    // The prefix is checked as soon as it is in: an oversized message is refused before it is buffered.
    const len = ((byteAt(c, 1) << 24) | (byteAt(c, 2) << 16) | (byteAt(c, 3) << 8) | byteAt(c, 4)) >>> 0;
    const refused = prefixError(byteAt(c, 0), len, c.context.maxMessageBytes);
    if (refused) return failCall(c, refused.code, refused.message);
    c.expect = 5 + len;
  }
  if (c.expect !== 0 && c.bytes > c.expect) failCall(c, INTERNAL, 'more than one message on a unary call');
}

function onUnaryEnd(this: UnaryStream): void {
  const c = this[UNARY]!;
  if (c.failed) return;
  leave(c.context.pending, c);
  if (c.bytes === 0) return trailersOnly(this, INTERNAL, 'no request message on a unary call');
  if (c.expect === 0 || c.bytes < c.expect) return trailersOnly(this, INTERNAL, 'request ends inside a message');
  if (performance.now() > c.deadline) return trailersOnly(this, DEADLINE_EXCEEDED, 'deadline exceeded before the request was complete');
  const all = c.more === undefined ? c.first! : Buffer.concat([c.first!, ...c.more], c.bytes);
  c.first = c.more = undefined;
  // Check reads the message in place; health calls are rare enough for a view.
  if (c.method === M_CHECK) answerFramed(this, c.context.handlers.check(all, 5, c.expect));
  else if (c.method === M_HEALTH_CHECK) c.context.health.check(this, all.subarray(5, c.expect));
  else c.context.health.watch(this, all.subarray(5, c.expect));
}

/**
 * Starts the HTTP/2 gRPC server on listen.address (and listen.unixSocket). Same handle as the grpc-js server.
 */
export async function startH2GrpcServer(listen: GrpcListen, handlers: H2Handlers, healthServices: readonly string[], options: H2Options = DEFAULT_H2_OPTIONS): Promise<GrpcServerHandle> {
  const health = new Health(healthServices);
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  const maxConnections = listen.limits?.maxConnections ?? Infinity;
  // Calls whose request body is still arriving, checked by one timer rather than a timer per call.
  const pending: Pending[] = [];
  const context: Context = { handlers, health, pending, maxMessageBytes: options.maxMessageBytes };
  let draining = false;

  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void => {
    stream.on('error', ignore); // a reset stream is the client's business; nothing to log per call
    if (headers[':method'] !== 'POST') {
      stream.respond({ ':status': 405, allow: 'POST' }, { endStream: true });
      return;
    }
    const type = headers['content-type'];
    if (typeof type !== 'string' || !(type === 'application/grpc' || type.startsWith('application/grpc+') || type.startsWith('application/grpc;'))) {
      stream.respond({ ':status': 415 }, { endStream: true });
      return;
    }
    if (headers['te'] !== 'trailers') return trailersOnly(stream, INTERNAL, 'te: trailers is required');
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') return trailersOnly(stream, UNIMPLEMENTED, `grpc-encoding ${String(encoding)} is not supported (identity only)`);
    if (draining) return trailersOnly(stream, UNAVAILABLE, 'server shutting down');
    const path = headers[':path'];
    const method = path === CHECK_PATH ? M_CHECK : path === HEALTH_CHECK_PATH ? M_HEALTH_CHECK : path === HEALTH_WATCH_PATH ? M_HEALTH_WATCH : -1;
    const streaming = path === ACCESS_LOG_PATH;
    if (method === -1 && !(streaming && handlers.accessLog)) return trailersOnly(stream, UNIMPLEMENTED, `unknown method ${String(path)}`);

    // Forged outcomes could get any address blocked: without the token, not one byte of the call is read.
    const credential = handlers.credential;
    if (credential?.required && (method === M_CHECK || streaming)) {
      const auth = headers['authorization'];
      if (!credential.checkBearer(typeof auth === 'string' ? auth : undefined)) return trailersOnly(stream, UNAUTHENTICATED, UNAUTHENTICATED_DETAILS);
    }
    const timeout = headers['grpc-timeout'] === undefined ? undefined : parseGrpcTimeout(headers['grpc-timeout']);
    if (!streaming) {
      // performance.now(), not Date.now(): a sub-millisecond grpc-timeout must expire, not round to "still on time".
      const call: UnaryCall = {
        stream, deadline: performance.now() + Math.min(timeout ?? options.maxCallMs, options.maxCallMs), slot: -1, method, context,
        first: undefined, more: undefined, bytes: 0, expect: 0, failed: false,
      };
      (stream as UnaryStream)[UNARY] = call;
      enter(pending, call);
      stream.on('data', onUnaryData);
      stream.on('end', onUnaryEnd);
      return;
    }
    accessLogCall(stream, timeout);
  };

  /** StreamAccessLogs: client streaming, rare and long-lived, so closures are fine here. */
  const accessLogCall = (stream: ServerHttp2Stream, timeout: number | undefined): void => {
    // An ALS stream lasts as long as Envoy keeps it; only a grpc-timeout it sent itself ends it.
    const limitMs = timeout === undefined ? Infinity : Math.min(timeout, options.maxCallMs);
    const call: Pending = { stream, deadline: performance.now() + limitMs, slot: -1 };
    const reader = new FrameReader(options.maxMessageBytes);
    let failed = false;
    const fail = (code: number, message: string): void => {
      failed = true;
      leave(pending, call);
      trailersOnly(stream, code, message);
      stream.removeAllListeners('data');
      stream.resume(); // drain what the client still sends
    };
    const intake = handlers.accessLog!;
    // A message cut from a received chunk is copied (it would pin the chunk); one the reader assembled is not.
    const onMessage = (m: Buffer, owned: boolean): void => intake.offer(owned ? m : Buffer.from(m));
    // Paused, node:http2 stops granting the client flow-control window: Envoy waits instead of memory growing.
    let paused = false;
    const resume = (): void => {
      paused = false;
      if (!stream.destroyed) stream.resume();
    };
    if (limitMs !== Infinity) enter(pending, call);
    stream.on('data', (chunk: Buffer) => {
      if (failed) return;
      const error = reader.push(chunk, onMessage);
      if (error) fail(error.code, error.message);
      else if (!paused && intake.congested) {
        paused = true;
        stream.pause();
        intake.whenUncongested(resume);
      }
    });
    stream.once('end', () => {
      if (failed) return;
      leave(pending, call);
      if (reader.pending > 0) return trailersOnly(stream, INTERNAL, 'request ends inside a message');
      if (performance.now() > call.deadline) return trailersOnly(stream, DEADLINE_EXCEEDED, 'deadline exceeded before the request was complete');
      intake.afterQueued(() => answer(stream, Buffer.alloc(0))); // StreamAccessLogsResponse {}, once learned
    });
  };

  const sweep = setInterval(() => {
    const now = performance.now();
    // Backwards: leave() moves the last call into the freed slot, which has then been looked at already.
    for (let i = pending.length - 1; i >= 0; i--) {
      const call = pending[i]!;
      // A call the client reset (or whose connection went) leaves here, not through a 'close' listener per call.
      if (call.stream.destroyed) {
        leave(pending, call);
        continue;
      }
      if (now <= call.deadline) continue;
      leave(pending, call);
      trailersOnly(call.stream, DEADLINE_EXCEEDED, 'deadline exceeded');
      call.stream.close(http2.constants.NGHTTP2_CANCEL);
    }
  }, 100);
  sweep.unref();

  const keepalive = setInterval(() => {
    for (const session of sessions) {
      if (session.destroyed) continue;
      const timer = setTimeout(() => session.destroy(), options.keepaliveTimeoutMs);
      timer.unref();
      try {
        session.ping((err) => {
          clearTimeout(timer);
          if (err && !session.destroyed) session.destroy();
        });
      } catch {
        clearTimeout(timer);
      }
    }
  }, options.keepaliveMs);
  keepalive.unref();

  const servers: Http2Server[] = [];
  const make = (): Http2Server => {
    const server = http2.createServer({
      settings: { maxConcurrentStreams: listen.limits?.maxConcurrentStreams ?? options.maxConcurrentStreams, enablePush: false },
      maxSessionMemory: 64, // MB of nghttp2 buffers per connection before new streams are refused
      peerMaxConcurrentStreams: options.maxConcurrentStreams,
    });
    server.on('stream', onStream);
    // The connection cap counts TCP and Unix-socket connections together; the excess is closed at accept.
    // Sockets are counted here rather than sessions: node:http2 creates a connection's session in its own
    // 'connection' listener, before this one, so the session count already includes the one being accepted.
    server.on('connection', (socket: Socket) => {
      if (sockets.size >= maxConnections) {
        socket.destroy();
        listen.onRejected?.();
        return;
      }
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    server.on('session', (session) => {
      sessions.add(session);
      session.on('error', () => undefined);
      session.once('close', () => sessions.delete(session));
      if (draining) session.close();
    });
    // Bytes that are not HTTP/2 (an HTTP/1 client, a port scanner) end that connection, nothing else.
    server.on('sessionError', () => undefined);
    servers.push(server);
    return server;
  };
  const listenOn = (server: Http2Server, target: { host: string; port: number } | { path: string }, label: string): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new PortcullisError('LISTEN', `gRPC cannot listen on ${label}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`)));
      server.listen(target, () => resolve());
    });

  const { host, port } = listen;
  const label = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const tcp = make();
  try {
    await listenOn(tcp, { host, port }, label);
    if (listen.unixSocket) {
      // A socket file left by a previous process would make the bind fail with EADDRINUSE.
      if (!listen.keepSocketFile) rmSync(listen.unixSocket, { force: true });
      await listenOn(make(), { path: listen.unixSocket }, `unix:${listen.unixSocket}`);
    }
  } catch (err) {
    clearInterval(sweep);
    clearInterval(keepalive);
    for (const s of servers) s.close();
    throw err;
  }
  const address = tcp.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    health,
    get connections() {
      return sessions.size;
    },
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        draining = true;
        clearInterval(sweep);
        clearInterval(keepalive);
        health.endWatches();
        let open = servers.length;
        const done = (): void => {
          if (--open === 0) {
            clearTimeout(force);
            resolve();
          }
        };
        // GOAWAY to every connection: in-flight calls finish, new streams go to another connection.
        for (const s of sessions) s.close();
        const force = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, graceMs);
        force.unref();
        for (const server of servers) server.close(() => done());
      }),
  };
}

