import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { PortcullisError } from '../../errors.ts';

export interface ReadinessCheck {
  readonly name: string;
  /** ok false makes /readyz answer 503; detail is shown either way. */
  check(): { ok: boolean; detail: string };
}

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface OpsServerHandle {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The operations listener: /metrics, /healthz (the process answers), /readyz (config loaded and every
 * readiness check passing). Extra routes (admin endpoints) are registered by path.
 */
export async function startOpsServer(
  address: { host: string; port: number },
  registry: Registry,
  readiness: readonly ReadinessCheck[],
  routes: ReadonlyMap<string, RouteHandler> = new Map(),
): Promise<OpsServerHandle> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    try {
      switch (url.pathname) {
        case '/healthz':
          return reply(200, 'text/plain', 'ok\n');
        case '/readyz': {
          const results = readiness.map((r) => ({ name: r.name, ...r.check() }));
          const ok = results.every((r) => r.ok);
          const lines = results.map((r) => `[${r.ok ? '+' : '-'}]${r.name} ${r.detail}`).join('\n');
          return reply(ok ? 200 : 503, 'text/plain', `${lines}\n${ok ? 'ready' : 'not ready'}\n`);
        }
        case '/metrics':
          registry.metrics().then(
            (text) => reply(200, registry.contentType, text),
            () => reply(500, 'text/plain', 'metrics collection failed\n'),
          );
          return;
        default: {
          const handler = routes.get(url.pathname);
          if (handler) {
            Promise.resolve(handler(req, res, url)).catch(() => {
              if (!res.headersSent) reply(500, 'application/json', '{"error":"internal"}');
            });
            return;
          }
          return reply(404, 'text/plain', 'not found\n');
        }
      }
    } catch {
      if (!res.headersSent) reply(500, 'text/plain', 'internal error\n');
    }
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new PortcullisError('LISTEN', `HTTP cannot listen on ${address.host}:${address.port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`)));
    server.listen(address.port, address.host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
