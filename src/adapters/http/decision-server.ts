import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { MALFORMED_FACTS, type Decision, type RequestFacts } from '../../decide/decision.ts';
import type { Logger } from '../../telemetry/logger.ts';
import { copyableUpstreamHeaders, denialBody, denialHeaders, denialHtml, prefersHtml } from '../answer.ts';
import type { Gate } from '../../service/check.ts';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from './limits.ts';
import { listenDual, type DualListenerHandle, type DualRequest, type DualResponse } from './dual-protocol.ts';
import {
  CONVENTION_PATHS, ENVOY_PREFIX, conventionOf, factsFromAuthRequest, missingOriginalHeader, type ClientHeader, type Convention,
} from './original-request.ts';

export interface DecisionServerOptions {
  readonly address: { readonly host: string; readonly port: number };
  /** Header carrying the forwarding chain (X-Forwarded-For, or X-Real-IP as a one-entry chain). */
  readonly clientHeader: ClientHeader;
  /** HTML template for denials to browsers ({{eventId}}, {{status}}, {{retryAfter}}); JSON only when absent. */
  readonly denialPage?: string;
  readonly logger: Logger;
  /** Seconds open connections get to finish on stop. */
  readonly drainSeconds: number;
  /** Connection cap and header/request/idle timeouts (authzMaxConnections is the cap). */
  readonly limits?: HttpLimits;
  /** Called for each connection closed at accept because the cap is reached. */
  readonly onRejected?: () => void;
}

export interface DecisionServerHandle {
  readonly port: number;
  close(): Promise<void>;
}

const NOT_FOUND_BODY = JSON.stringify({ error: 'not_found', paths: [...CONVENTION_PATHS.keys(), `${ENVOY_PREFIX}/<original path>`] });

/** Status for the header that tells a proxy's error page what the real answer was (nginx cannot pass a 429). */
const STATUS_HEADER = 'x-portcullis-status';

/**
 * The HTTP decision endpoint for auth subrequests (nginx auth_request, ingress-nginx auth-url, Traefik
 * ForwardAuth, Caddy forward_auth, Envoy ext_authz http_service). It maps the request per proxy convention,
 * asks the same Gate as the gRPC path, and answers 200 (allow, upstream headers as response headers), 403 or
 * 429 with Retry-After. nginx treats any auth status but 2xx/401/403 as an error, so its conventions get 403
 * with x-portcullis-status: 429 for rate limits (docs/proxies.md shows the error_page that restores the 429).
 */
export async function startDecisionServer(gate: Gate, options: DecisionServerOptions): Promise<DecisionServerHandle> {
  const warned = new Set<Convention>();

  const handle = (req: DualRequest, res: DualResponse): void => {
    const url = req.url ?? '/';
    const route = conventionOf(url);
    if (!route) {
      if (url === '/healthz') return send(res, 200, { 'content-type': 'text/plain' }, 'ok\n');
      return send(res, 404, { 'content-type': 'application/json' }, NOT_FOUND_BODY);
    }
    const h = req.headers as IncomingHttpHeaders;
    let facts: RequestFacts;
    try {
      facts = factsFromAuthRequest(route.convention, h, req.socket?.remoteAddress, req.method ?? '', route.envoyPath, options.clientHeader);
    } catch {
      facts = MALFORMED_FACTS; // decided as malformed_request by the failure mode
    }
    if (!warned.has(route.convention)) {
      const missing = missingOriginalHeader(route.convention, h);
      if (missing) {
        warned.add(route.convention);
        options.logger.warn({ convention: route.convention, header: missing }, 'auth request without the header naming the original request: sign-in routes cannot match; check the proxy config (docs/proxies.md)');
      }
    }
    const d = gate.check(facts, 'http');
    try {
      if (d.verdict === 'allow') return allow(res, d, route.convention);
      deny(res, d, route.convention, h.accept as string | undefined);
    } catch (err) {
      options.logger.error({ err: { message: (err as Error)?.message } }, 'answering an auth request failed');
      if (!res.headersSent) send(res, 500, { 'content-type': 'application/json' }, '{"error":"internal"}');
    }
  };

  const deny = (res: DualResponse, d: Decision, convention: Convention, accept: string | undefined): void => {
    const headers: OutgoingHttpHeaders = { [STATUS_HEADER]: String(d.httpStatus) };
    for (const [k, v] of denialHeaders(d)) headers[k] = v;
    let body: string;
    if (options.denialPage !== undefined && prefersHtml(accept)) {
      headers['content-type'] = 'text/html; charset=utf-8';
      body = denialHtml(options.denialPage, d);
    } else {
      body = denialBody(d);
    }
    const nginx = convention === 'nginx' || convention === 'ingress-nginx';
    send(res, nginx ? 403 : d.httpStatus, headers, body);
  };

  const limits = options.limits ?? DEFAULT_HTTP_LIMITS;
  const listener: DualListenerHandle = await listenDual(options.address, handle, { limits, maxConnections: limits.authzMaxConnections, onRejected: options.onRejected });
  return {
    port: listener.port,
    close: () => listener.close(options.drainSeconds * 1000),
  };
}

function allow(res: DualResponse, d: Decision, convention: Convention): void {
  const headers: OutgoingHttpHeaders = { 'cache-control': 'no-store' };
  let absent = '';
  for (const [k, v] of copyableUpstreamHeaders(d)) {
    headers[k] = v;
    if (v === '') absent = absent === '' ? k : `${absent},${k}`;
  }
  // Envoy's http_service only adds headers; it removes the ones listed here (a client's forged copies).
  if (convention === 'envoy' && absent !== '') headers['x-envoy-auth-headers-to-remove'] = absent;
  send(res, 200, headers, '');
}

function send(res: DualResponse, status: number, headers: OutgoingHttpHeaders, body: string): void {
  headers['content-length'] = Buffer.byteLength(body);
  (res as import('node:http').ServerResponse).writeHead(status, headers);
  res.end(body);
}
