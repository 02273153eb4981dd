import type { IncomingHttpHeaders } from 'node:http';
import { parseAddress } from '../../net/address.ts';
import type { RequestFacts } from '../../decide/decision.ts';

/**
 * How each proxy tells an auth service about the request it is holding. One URL path per convention, so the
 * headers read are exactly the ones that proxy sets (and overwrites): a proxy also forwards the client's own
 * headers to the auth request, and guessing per request would let a client claim another convention's header.
 */
export const CONVENTIONS = ['nginx', 'ingress-nginx', 'forwarded', 'envoy'] as const;
export type Convention = (typeof CONVENTIONS)[number];

/** Decision endpoint paths. /auth/envoy is a prefix: Envoy's http_service appends the original path to path_prefix. */
export const CONVENTION_PATHS: ReadonlyMap<string, Convention> = new Map([
  ['/auth/nginx', 'nginx'], // auth_request: X-Original-URI, X-Original-Method, Host
  ['/auth/ingress-nginx', 'ingress-nginx'], // auth-url: X-Original-URL, X-Original-Method
  ['/auth/forwarded', 'forwarded'], // X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host
  ['/auth/traefik', 'forwarded'], // ForwardAuth
  ['/auth/caddy', 'forwarded'], // forward_auth
]);
export const ENVOY_PREFIX = '/auth/envoy';

/** Header the proxy's forwarding chain is read from; X-Real-IP is treated as a one-entry X-Forwarded-For. */
export const CLIENT_HEADERS = ['x-forwarded-for', 'x-real-ip'] as const;
export type ClientHeader = (typeof CLIENT_HEADERS)[number];

/** Which convention a request path selects, and the original path for Envoy; undefined: not a decision path. */
export function conventionOf(url: string): { convention: Convention; envoyPath?: string } | undefined {
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  const c = CONVENTION_PATHS.get(pathname);
  if (c) return { convention: c };
  if (url.startsWith(ENVOY_PREFIX)) {
    const rest = url.slice(ENVOY_PREFIX.length);
    if (rest === '' || rest[0] === '/' || rest[0] === '?') return { convention: 'envoy', envoyPath: rest === '' || rest[0] === '?' ? `/${rest}` : rest };
  }
  return undefined;
}

/** Node joins repeated headers with ", " except a few it keeps as arrays (set-cookie); normalise to one string. */
function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v;
}

/** Path and host of an absolute URL ("https://app.example.com/login?x=1"), without URL's normalisation of the path. */
function splitUrl(url: string): { host: string; path: string } {
  const scheme = url.indexOf('://');
  if (scheme === -1) return { host: '', path: url };
  const slash = url.indexOf('/', scheme + 3);
  return slash === -1 ? { host: url.slice(scheme + 3), path: '/' } : { host: url.slice(scheme + 3, slash), path: url.slice(slash) };
}

/** What the original request was, per convention. Missing headers give empty strings (never a sign-in route). */
export function originalRequest(convention: Convention, h: IncomingHttpHeaders, method: string, envoyPath: string | undefined): { method: string; path: string; host: string } {
  switch (convention) {
    case 'nginx':
      return { method: one(h['x-original-method']) ?? '', path: one(h['x-original-uri']) ?? '', host: one(h.host) ?? '' };
    case 'ingress-nginx': {
      const { host, path } = splitUrl(one(h['x-original-url']) ?? '');
      return { method: one(h['x-original-method']) ?? '', path, host };
    }
    case 'forwarded':
      return { method: one(h['x-forwarded-method']) ?? '', path: one(h['x-forwarded-uri']) ?? '', host: one(h['x-forwarded-host']) ?? '' };
    case 'envoy':
      return { method, path: envoyPath ?? '', host: one(h[':authority']) ?? one(h.host) ?? '' };
  }
}

/** The header every convention must carry for the mapping to mean anything; checked to warn about proxy config. */
export function missingOriginalHeader(convention: Convention, h: IncomingHttpHeaders): string | undefined {
  const required = convention === 'nginx' ? 'x-original-uri' : convention === 'ingress-nginx' ? 'x-original-url' : convention === 'forwarded' ? 'x-forwarded-uri' : undefined;
  return required !== undefined && h[required] === undefined ? required : undefined;
}

/**
 * RequestFacts for one auth subrequest. The L4 peer is the proxy; the chain comes from the configured client
 * header and goes through the same trusted-proxy walk as the gRPC path. No body ever reaches an auth request.
 */
export function factsFromAuthRequest(
  convention: Convention,
  h: IncomingHttpHeaders,
  peer: string | undefined,
  method: string,
  envoyPath: string | undefined,
  clientHeader: ClientHeader,
): RequestFacts {
  const original = originalRequest(convention, h, method, envoyPath);
  return {
    peer: peer ? parseAddress(peer) : undefined,
    xForwardedFor: one(h[clientHeader]),
    forwarded: one(h.forwarded),
    envoyExternalAddress: one(h['x-envoy-external-address']),
    method: original.method.toUpperCase(),
    path: original.path,
    host: original.host,
    requestId: one(h['x-request-id']),
    userAgent: one(h['user-agent']),
    headers: h as Readonly<Record<string, string>>,
  };
}
