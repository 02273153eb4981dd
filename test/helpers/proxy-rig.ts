import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'vitest';

/**
 * What the real-proxy tests (nginx, Caddy, HAProxy) share: the shipped proxy config with only its addresses
 * replaced, a tiny sign-in app behind the proxy, a request through the proxy, and a /metrics reading.
 */

/** The shipped config with each `from` replaced; every `from` must be in it, so a renamed line fails the test. */
export function withAddresses(shipped: string, swaps: ReadonlyArray<readonly [string, string]>, what: string): string {
  let text = shipped;
  for (const [from, to] of swaps) {
    expect(text, `shipped ${what} has ${from}`).toContain(from);
    text = text.replaceAll(from, to);
  }
  return text;
}

export interface SignInApp {
  readonly port: number;
  /** Request headers of every request that reached the app, in order. */
  readonly saw: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/**
 * POST /login with password=correct-horse is a 200 (and username=alice, when `username` is set), anything else a
 * 401 (with the result header, when `failureHeader`); every other request is a 200.
 */
export async function startSignInApp(opts: { username?: string; failureHeader?: boolean } = {}): Promise<SignInApp> {
  const saw: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    saw.push(req.headers);
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/login') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('home\n');
      const form = new URLSearchParams(body);
      const ok = form.get('password') === 'correct-horse' && (opts.username === undefined || form.get('username') === opts.username);
      const headers: Record<string, string> = { 'content-type': 'text/plain' };
      if (!ok && opts.failureHeader) headers['x-portcullis-signin-result'] = 'failure';
      res.writeHead(ok ? 200 : 401, headers).end(ok ? 'welcome\n' : 'wrong password\n');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as AddressInfo).port, saw, close: () => new Promise<void>((r) => server.close(() => r())) };
}

export interface Reply { status: number; headers: IncomingHttpHeaders; body: string }
/** `form` is sent urlencoded with its content type; `body` is sent as it is. */
export interface ThroughOptions { method?: string; form?: Record<string, string>; body?: string; headers?: Record<string, string> }

/** One HTTP/1.1 request to a proxy on 127.0.0.1:`port`, on its own connection. */
export function httpRequest(port: number, path: string, opts: ThroughOptions = {}): Promise<Reply> {
  const body = opts.form ? new URLSearchParams(opts.form).toString() : opts.body ?? '';
  return new Promise((done, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: false, headers: {
      ...(opts.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
      ...opts.headers,
    } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => done({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One sample from a Prometheus text page (`name{labels}` exactly as exposed); 0 when absent. */
export async function metricValue(httpBase: string, sample: string): Promise<number> {
  const text = await (await fetch(`${httpBase}/metrics`)).text();
  const m = new RegExp(`^${sample.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}
