import { parseAddress } from '../../net/address.ts';
import type { RequestFacts } from '../../decide/decision.ts';
import { forgedPortcullisHeaders } from './portcullis-headers.ts';
import type { CheckRequest__Output } from '../../gen/envoy/service/auth/v3/CheckRequest.ts';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The reference reading of a decoded CheckRequest object (proto-loader's shape). The service decodes the bytes
 * itself (wire/check-request-decoder.ts); this stays as the definition that decoder is tested against.
 *
 * Reads the facts the decision needs from a CheckRequest as Envoy sends it: lower-case header keys, duplicates
 * joined with ",", pseudo-headers included; source.address is the L4 peer, not the client.
 * Tolerates anything missing: a missing peer yields peer undefined, which decide() answers as malformed.
 */
export function factsFromCheckRequest(req: CheckRequest__Output): RequestFacts {
  const attrs = req.attributes;
  const http = attrs?.request?.http;
  const headers = http?.headers ?? headersFromHeaderMap(http?.headerMap?.headers) ?? NO_HEADERS;
  const socket = attrs?.source?.address?.socketAddress;
  return {
    peer: socket?.address ? parseAddress(socket.address) : undefined,
    xForwardedFor: headers['x-forwarded-for'],
    forwarded: headers['forwarded'],
    envoyExternalAddress: headers['x-envoy-external-address'],
    method: http?.method || headers[':method'] || '',
    path: http?.path || headers[':path'] || '',
    host: http?.host || headers[':authority'] || headers['host'] || '',
    requestId: headers['x-request-id'],
    userAgent: headers['user-agent'],
    headers,
    body: http?.body || (http?.rawBody && http.rawBody.length > 0 ? http.rawBody.toString('utf8') : undefined),
  };
}

/**
 * With encode_raw_headers Envoy sends header_map instead (repeated key/raw_value, duplicates not merged);
 * merge them the way the plain map would so the rest of the code sees one shape.
 */
function headersFromHeaderMap(list: ReadonlyArray<{ key?: string; value?: string; rawValue?: Buffer }> | undefined): Record<string, string> | undefined {
  if (!list || list.length === 0) return undefined;
  // Own keys only: a header named "constructor" or "__proto__" is a header, not an inherited property.
  const out: Record<string, string> = {};
  for (const h of list) {
    if (!h.key) continue;
    const key = h.key.toLowerCase();
    const value = h.rawValue && h.rawValue.length > 0 ? h.rawValue.toString('utf8') : (h.value ?? '');
    const merged = Object.hasOwn(out, key) ? `${out[key]},${value}` : value;
    if (key === '__proto__') Object.defineProperty(out, key, { value: merged, enumerable: true, configurable: true, writable: true });
    else out[key] = merged;
  }
  return out;
}

/** Client-sent x-portcullis-* headers of a decoded request, from whichever encoding carried the headers. */
export function forgedFromCheckRequest(req: CheckRequest__Output): string[] {
  return forgedPortcullisHeaders(factsFromCheckRequest(req).headers);
}
