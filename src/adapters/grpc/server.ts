import { Server, ServerCredentials, type UntypedServiceImplementation, type ServiceDefinition } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { HealthImplementation } from 'grpc-health-check';
import { PortcullisError } from '../../errors.ts';

export interface GrpcListen {
  /** host:port; port 0 picks a free one. */
  readonly address: string;
  /** Optional Unix domain socket path (Envoy can reach a sidecar over a pipe). */
  readonly unixSocket?: string;
}

/** grpc.health.v1 serving status. */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

/** What main needs of a gRPC server, whichever transport serves it (grpc-js here, node:http2 in h2/). */
export interface GrpcServerHandle {
  readonly port: number;
  readonly health: { setStatus(service: string, status: HealthStatus): void };
  /** Stops accepting calls, lets in-flight calls finish for up to graceMs, then forces. */
  shutdown(graceMs: number): Promise<void>;
}

/** Health reports NOT_SERVING until setServing(true): Envoy's gRPC health check then waits for a loaded config. */
export const HEALTH_SERVICES = ['', 'envoy.service.auth.v3.Authorization'] as const;

export async function startGrpcServer(
  listen: GrpcListen,
  services: ReadonlyArray<{ definition: ServiceDefinition; implementation: UntypedServiceImplementation }>,
): Promise<GrpcServerHandle> {
  const server = new Server({
    'grpc.max_receive_message_length': 8 * 1024 * 1024,
    'grpc.keepalive_permit_without_calls': 1,
  });
  for (const s of services) server.addService(s.definition, s.implementation);
  const health = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, 'NOT_SERVING'])));
  health.addToServer(server);

  const bind = (target: string) =>
    new Promise<number>((resolve, reject) =>
      server.bindAsync(target, ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(new PortcullisError('LISTEN', `gRPC cannot listen on ${target}: ${/EADDRINUSE/.test(err.message) ? 'address already in use' : err.message}`)) : resolve(port)),
    );
  const port = await bind(listen.address);
  if (listen.unixSocket) {
    // A socket file left by a previous process would make the bind fail with EADDRINUSE.
    rmSync(listen.unixSocket, { force: true });
    await bind(`unix:${listen.unixSocket}`);
  }

  return {
    port,
    health: { setStatus: (service, status) => health.setStatus(service, status === 'SERVICE_UNKNOWN' ? 'UNKNOWN' : status) },
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
