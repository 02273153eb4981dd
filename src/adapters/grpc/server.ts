import type { UntypedServiceImplementation, ServiceDefinition } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { HealthState, type HealthStatus } from './health.ts';
import { healthService } from './health-service.ts';
import { HEALTH_DEFINITION } from './raw-definitions.ts';
import { PortcullisError } from '../../errors.ts';

/** Bounds of the gRPC listener (docs/security.md, "Limits"). */
export interface GrpcLimits {
  /** Connections open at once over TCP and the Unix socket together; more are closed at accept. */
  readonly maxConnections: number;
  /** HTTP/2 streams (calls) open at once on one connection. */
  readonly maxConcurrentStreams: number;
  /** A connection with no call open this long is closed with GOAWAY (Envoy reconnects on demand). */
  readonly idleTimeoutMs: number;
  /** Ping the peer after this long without activity, and drop it when no answer comes within keepaliveTimeoutMs. */
  readonly keepaliveTimeMs: number;
  readonly keepaliveTimeoutMs: number;
}

export const DEFAULT_GRPC_LIMITS: GrpcLimits = Object.freeze({
  maxConnections: 128, maxConcurrentStreams: 1000, idleTimeoutMs: 300_000, keepaliveTimeMs: 60_000, keepaliveTimeoutMs: 20_000,
});

export interface GrpcListen {
  readonly host: string;
  /** 0 picks a free one. */
  readonly port: number;
  /** Optional Unix domain socket path (Envoy can reach a sidecar over a pipe). */
  readonly unixSocket?: string;
  /**
   * Leave an existing socket file alone: in a cluster worker the primary binds the path once for every worker
   * (and removed any stale file before forking), so removing it here would cut the others off.
   */
  readonly keepSocketFile?: boolean;
  readonly limits?: GrpcLimits;
  /** Called for each connection closed at accept because maxConnections are open. */
  readonly onRejected?: () => void;
}

/** grpc.health.v1 serving status. */
export type { HealthStatus } from './health.ts';

/** What main needs of a gRPC server, whichever transport serves it (grpc-js here, node:http2 in h2/). */
export interface GrpcServerHandle {
  readonly port: number;
  readonly health: { setStatus(service: string, status: HealthStatus): void };
  /** Connections open now (TCP and Unix socket). */
  readonly connections: number;
  /** Stops accepting, lets in-flight calls finish for up to graceMs, then forces. */
  shutdown(graceMs: number): Promise<void>;
}

/** Health reports NOT_SERVING until setServing(true): Envoy's gRPC health check then waits for a loaded config. */
export const HEALTH_SERVICES = ['', 'envoy.service.auth.v3.Authorization'] as const;

/**
 * grpc-js has no connection cap, so Portcullis owns the listening sockets: each accepted connection is counted
 * and handed to grpc-js through its connection injector, or closed at once when the cap is reached.
 */
export async function startGrpcServer(
  listen: GrpcListen,
  services: ReadonlyArray<{ definition: ServiceDefinition; implementation: UntypedServiceImplementation }>,
): Promise<GrpcServerHandle> {
  const limits = listen.limits ?? DEFAULT_GRPC_LIMITS;
  // Imported here, not at the top: the default transport is node:http2 (h2/), and grpc-js is ~65 modules a
  // process that does not serve on it need not load (docs/benchmarks.md, Idle RSS).
  const { Server, ServerCredentials } = await import('@grpc/grpc-js');
  const server = new Server({
    'grpc.max_receive_message_length': 8 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
    'grpc.max_connection_idle_ms': limits.idleTimeoutMs,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
  });
  for (const s of services) server.addService(s.definition, s.implementation);
  const health = new HealthState(HEALTH_SERVICES);
  server.addService(HEALTH_DEFINITION, healthService(health));
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());

  let open = 0;
  const accept = (socket: Socket) => {
    if (open >= limits.maxConnections) {
      socket.destroy();
      listen.onRejected?.();
      return;
    }
    open++;
    socket.once('close', () => open--);
    socket.setNoDelay(true);
    injector.injectConnection(socket);
  };

  const listeners: NetServer[] = [];
  const bind = (describe: string, args: [number, string] | [string]) =>
    new Promise<NetServer>((resolve, reject) => {
      const net = createNetServer(accept);
      net.once('error', (err: NodeJS.ErrnoException) =>
        reject(new PortcullisError('LISTEN', `gRPC cannot listen on ${describe}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`)));
      net.listen(...(args as [number, string]), () => {
        net.removeAllListeners('error');
        net.on('error', () => undefined);
        listeners.push(net);
        resolve(net);
      });
    });
  // Each listener is closed once; the promise settles when its last connection has gone.
  let closing: Promise<unknown> | undefined;
  const closeListeners = () => (closing ??= Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r())))));

  let port: number;
  try {
    const tcp = await bind(`${listen.host.includes(':') ? `[${listen.host}]` : listen.host}:${listen.port}`, [listen.port, listen.host]);
    port = (tcp.address() as AddressInfo).port;
    if (listen.unixSocket) {
      // A socket file left by a previous process would make the bind fail with EADDRINUSE.
      if (!listen.keepSocketFile) rmSync(listen.unixSocket, { force: true });
      await bind(`unix:${listen.unixSocket}`, [listen.unixSocket]);
    }
  } catch (err) {
    await closeListeners();
    server.forceShutdown();
    throw err;
  }

  return {
    port,
    health: { setStatus: (service, status) => health.setStatus(service, status) },
    get connections() {
      return open;
    },
    shutdown: async (graceMs) => {
      await new Promise<void>((resolve) => {
        // No new connections; open ones get GOAWAY and their calls graceMs to finish. A Watch would hold the
        // drain open until forced: it ends now (UNAVAILABLE), as on the node:http2 transport.
        void closeListeners();
        health.endWatches();
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await closeListeners();
    },
  };
}
