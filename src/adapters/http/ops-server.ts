import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from './node-http.ts';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { PortcullisError } from '../../errors.ts';
import { applyHttpLimits, checkingIntervalMs, DEFAULT_HTTP_LIMITS, type HttpLimits } from './limits.ts';

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

export interface ListenerOptions {
  readonly limits?: HttpLimits;
  /** Called for each connection closed at accept because limits.maxConnections are open. */
  readonly onRejected?: () => void;
}

/**
 * The operations listener: /metrics, /healthz (the process answers), /readyz (config loaded and every
 * readiness check passing). Extra routes (POST /v1/outcomes) are registered by path; /admin/* has its own
 * listener (admin-server.ts).
 */
export async function startOpsServer(
  address: { host: string; port: number },
  registry: Registry,
  readiness: readonly ReadinessCheck[],
  routes: ReadonlyMap<string, RouteHandler> = new Map(),
  options: ListenerOptions = {},
): Promise<OpsServerHandle> {
  return listenHttp('HTTP', address, options, (req, res) => {
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
}

/** A node:http listener with the limits applied; `what` names it in a LISTEN error. */
export async function listenHttp(
  what: string,
  address: { host: string; port: number },
  options: ListenerOptions,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<OpsServerHandle> {
  const limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  const server = createServer({ connectionsCheckingInterval: checkingIntervalMs(limits) }, handler);
  applyHttpLimits(server, limits, limits.maxConnections, options.onRejected);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new PortcullisError('LISTEN', `${what} cannot listen on ${address.host}:${address.port}: ${err.code === 'EADDRINUSE' ? 'address already in use' : err.message}`)));
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
