import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What one path answers. Change it between requests to play a feed operator. */
export interface FeedRoute {
  body?: string;
  status?: number;
  etag?: string;
  lastModified?: string;
  contentType?: string;
  /** Send no Content-Length (chunked), so only the streaming cap can stop a big body. */
  chunked?: boolean;
  /** Send headers, then never finish the body. */
  stallBody?: boolean;
  /** Never answer at all. */
  hang?: boolean;
}

/** A local HTTP feed host on 127.0.0.1:0 that honours If-None-Match / If-Modified-Since like a CDN would. */
export class FeedServer {
  readonly routes = new Map<string, FeedRoute>();
  readonly requests: Array<{ path: string; headers: IncomingHttpHeaders; status: number }> = [];
  #server: Server | undefined;
  readonly #open = new Set<ServerResponse>();

  static async start(): Promise<FeedServer> {
    const s = new FeedServer();
    s.#server = createServer((req, res) => s.#handle(req.url ?? '/', req.headers, res));
    await new Promise<void>((resolve) => s.#server!.listen(0, '127.0.0.1', resolve));
    return s;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.#server!.address() as AddressInfo).port}${path}`;
  }

  async close(): Promise<void> {
    for (const res of this.#open) res.destroy();
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  #handle(path: string, headers: IncomingHttpHeaders, res: ServerResponse): void {
    const route = this.routes.get(path);
    const record = (status: number) => this.requests.push({ path, headers, status });
    if (!route) {
      record(404);
      res.writeHead(404).end('not found');
      return;
    }
    if (route.hang) {
      record(0);
      this.#open.add(res);
      return;
    }
    const status = route.status ?? 200;
    const notModified = status === 200
      && ((route.etag !== undefined && headers['if-none-match'] === route.etag)
        || (route.etag === undefined && route.lastModified !== undefined && headers['if-modified-since'] === route.lastModified));
    const h: Record<string, string> = { 'content-type': route.contentType ?? 'text/plain; charset=utf-8' };
    if (route.etag) h.etag = route.etag;
    if (route.lastModified) h['last-modified'] = route.lastModified;
    if (notModified) {
      record(304);
      res.writeHead(304, h).end();
      return;
    }
    record(status);
    const body = Buffer.from(route.body ?? '');
    if (!route.chunked && !route.stallBody) h['content-length'] = String(body.length);
    res.writeHead(status, h);
    if (route.stallBody) {
      this.#open.add(res);
      res.write(body.subarray(0, Math.min(16, body.length)));
      return;
    }
    if (route.chunked) {
      for (let i = 0; i < body.length; i += 65536) res.write(body.subarray(i, i + 65536));
      res.end();
      return;
    }
    res.end(body);
  }
}
