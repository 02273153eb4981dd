import type { Decision } from '../decide/decision.ts';

/** Headers Portcullis sets for the upstream on an allowed request. Clients must never be able to forge them. */
export const UPSTREAM_HEADERS = {
  clientIp: 'x-portcullis-client-ip',
  decisionId: 'x-portcullis-decision-id',
  threatLevel: 'x-portcullis-threat-level',
  threatSuspected: 'x-portcullis-threat-suspected',
} as const;

/**
 * The upstream headers of an allowed request, written into `keys` and `values` from index 0; returns how many.
 * Arrays the caller keeps: the gRPC answer encoder reuses its own on every Check, allocating nothing.
 */
export function writeUpstreamHeaders(d: Decision, keys: string[], values: string[]): number {
  keys[0] = UPSTREAM_HEADERS.decisionId;
  values[0] = d.id;
  let n = 1;
  if (d.client) {
    keys[n] = UPSTREAM_HEADERS.clientIp;
    values[n++] = d.client.text;
  }
  if (d.threat && d.threat.level !== 'NONE') {
    keys[n] = UPSTREAM_HEADERS.threatLevel;
    values[n++] = d.threat.level;
    keys[n] = UPSTREAM_HEADERS.threatSuspected;
    values[n++] = 'true';
  }
  return n;
}

/** Header pairs for the upstream of an allowed request (transport-neutral). */
export function upstreamHeaders(d: Decision): Array<[string, string]> {
  const keys: string[] = [];
  const values: string[] = [];
  const n = writeUpstreamHeaders(d, keys, values);
  return keys.slice(0, n).map((k, i) => [k, values[i]!]);
}

const STATUS_TEXT: Record<number, string> = { 403: 'forbidden', 429: 'too_many_requests' };

/** The small JSON body of a denial: what happened and the event id to quote to support; nothing about why in detail. */
export function denialBody(d: Decision): string {
  return JSON.stringify({ error: STATUS_TEXT[d.httpStatus] ?? 'denied', reason: d.reason, eventId: d.id });
}

/** Headers sent to the client with a denial. */
export function denialHeaders(d: Decision): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['content-type', 'application/json'],
    ['cache-control', 'no-store'],
    [UPSTREAM_HEADERS.decisionId, d.id],
  ];
  if (d.httpStatus === 429 && d.retryAfterSeconds !== undefined) out.push(['retry-after', String(Math.max(1, Math.ceil(d.retryAfterSeconds)))]);
  return out;
}

/**
 * Every upstream header, the absent ones as "": proxies that copy named headers from an auth response
 * (nginx auth_request_set, Traefik authResponseHeaders, Caddy copy_headers) then overwrite or drop a copy the
 * client forged, which the gRPC path does with headers_to_remove.
 */
export function copyableUpstreamHeaders(d: Decision): Array<[string, string]> {
  const threat = d.threat !== undefined && d.threat.level !== 'NONE';
  return [
    [UPSTREAM_HEADERS.decisionId, d.id],
    [UPSTREAM_HEADERS.clientIp, d.client?.text ?? ''],
    [UPSTREAM_HEADERS.threatLevel, threat ? d.threat!.level : ''],
    [UPSTREAM_HEADERS.threatSuspected, threat ? 'true' : ''],
  ];
}

/** True when the client asked for HTML before JSON (a browser navigating), from its Accept header. */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const html = accept.indexOf('text/html');
  if (html === -1) return false;
  const json = accept.indexOf('application/json');
  return json === -1 || html < json;
}

/** An operator's HTML denial page with {{eventId}}, {{status}} and {{retryAfter}} filled in (values are never HTML). */
export function denialHtml(template: string, d: Decision): string {
  const retry = d.httpStatus === 429 && d.retryAfterSeconds !== undefined ? String(Math.max(1, Math.ceil(d.retryAfterSeconds))) : '';
  return template.replaceAll('{{eventId}}', d.id).replaceAll('{{status}}', String(d.httpStatus)).replaceAll('{{retryAfter}}', retry);
}
