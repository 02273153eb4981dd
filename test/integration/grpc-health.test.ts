// grpc.health.v1 on both gRPC transports, served from the hand-written definitions and messages
// (src/adapters/grpc/health.ts), asked by a grpc-js client built from grpc-health-check's health.proto.
import { credentials, makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as protoHealth } from 'grpc-health-check';
import { describe, expect, it } from 'vitest';
import { startH2GrpcServer } from '../../src/adapters/grpc/h2/server.ts';
import { startGrpcServer, type GrpcServerHandle } from '../../src/adapters/grpc/server.ts';
import { AUTHORIZATION_DEFINITION } from '../../src/adapters/grpc/raw-definitions.ts';

type HealthClient = Client & {
  check(req: { service: string }, cb: (e: ServiceError | null, r: { status: string }) => void): void;
  watch(req: { service: string }): NodeJS.EventEmitter & { cancel(): void };
};
const SERVICES = ['', 'envoy.service.auth.v3.Authorization'];
const transports: Record<string, () => Promise<GrpcServerHandle>> = {
  'grpc-js': () => startGrpcServer({ host: '127.0.0.1', port: 0 }, [{ definition: AUTHORIZATION_DEFINITION, implementation: { Check: (_c: unknown, cb: (e: null, b: Buffer) => void) => cb(null, Buffer.alloc(0)) } }]),
  http2: () => startH2GrpcServer({ host: '127.0.0.1', port: 0 }, { check: () => Buffer.from([0, 0, 0, 0, 0]) }, SERVICES),
};

for (const [transport, start] of Object.entries(transports)) {
  describe(`grpc.health.v1 on ${transport}`, () => {
    it('Check: NOT_SERVING until set, then SERVING; NOT_FOUND for a service not reported', async () => {
      const server = await start();
      const health = new (makeGenericClientConstructor(protoHealth, 'Health'))(`127.0.0.1:${server.port}`, credentials.createInsecure()) as unknown as HealthClient;
      try {
        const statusOf = (service: string) => new Promise<string>((resolve, reject) => health.check({ service }, (e, r) => (e ? reject(e) : resolve(r.status))));
        expect(await statusOf('envoy.service.auth.v3.Authorization')).toBe('NOT_SERVING');
        for (const s of SERVICES) server.health.setStatus(s, 'SERVING');
        expect(await statusOf('')).toBe('SERVING');
        expect(await statusOf('envoy.service.auth.v3.Authorization')).toBe('SERVING');
        await expect(statusOf('nope')).rejects.toMatchObject({ code: status.NOT_FOUND });
      } finally {
        health.close();
        await server.shutdown(1000);
      }
    });

    it('Watch: the current status, each change, SERVICE_UNKNOWN for an unknown name; shutdown ends it UNAVAILABLE at once', async () => {
      const server = await start();
      const health = new (makeGenericClientConstructor(protoHealth, 'Health'))(`127.0.0.1:${server.port}`, credentials.createInsecure()) as unknown as HealthClient;
      try {
        const watch = health.watch({ service: '' });
        const seen: string[] = [];
        const twoSeen = new Promise<void>((resolve) => watch.on('data', (m: { status: string }) => {
          seen.push(m.status);
          if (seen.length === 2) resolve();
        }));
        const ended = new Promise<number>((resolve) => watch.on('error', (e: ServiceError) => resolve(e.code)));
        await new Promise((r) => setTimeout(r, 100));
        server.health.setStatus('', 'SERVING');
        await twoSeen;
        expect(seen).toEqual(['NOT_SERVING', 'SERVING']);
        const unknown = health.watch({ service: 'nope' });
        unknown.on('error', () => undefined);
        expect((await new Promise<{ status: string }>((resolve) => unknown.once('data', resolve))).status).toBe('SERVICE_UNKNOWN');
        // The grace is long: a Watch left open would hold the shutdown for all of it.
        const t0 = performance.now();
        await server.shutdown(10_000);
        expect(performance.now() - t0).toBeLessThan(5000);
        expect(await ended).toBe(status.UNAVAILABLE);
      } finally {
        health.close();
      }
    });
  });
}
