import type { ServerResponse } from 'node:http';
import { bearerCredential } from '../grpc/credential.ts';
import { listenHttp, type ListenerOptions, type OpsServerHandle, type RouteHandler } from './ops-server.ts';

export interface AdminServerOptions extends ListenerOptions {
  /** Bearer token every request must send; '' → none (the listener must then be loopback, settings.ts). */
  readonly token: string;
  /** Called for each request refused for a missing or wrong token. */
  readonly onUnauthenticated?: () => void;
}

function reply(res: ServerResponse, status: number, body: object, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra });
  res.end(`${JSON.stringify(body)}\n`);
}

/**
 * The admin listener (--admin-address, loopback by default): /admin/* only, apart from the ops port that
 * Prometheus and the kubelet reach, because it tells how close an address is to a block.
 */
export async function startAdminServer(
  address: { host: string; port: number },
  routes: ReadonlyMap<string, RouteHandler>,
  options: AdminServerOptions,
): Promise<OpsServerHandle> {
  const credential = bearerCredential(options.token);
  return listenHttp('admin', address, options, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (!credential.checkBearer(req.headers.authorization)) {
      options.onUnauthenticated?.();
      return reply(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    }
    const handler = routes.get(url.pathname);
    if (!handler) return reply(res, 404, { error: 'not_found', paths: [...routes.keys()] });
    Promise.resolve(handler(req, res, url)).catch(() => {
      if (!res.headersSent) reply(res, 500, { error: 'internal' });
    });
  });
}
