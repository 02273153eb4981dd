import type { OutcomeReport } from '../../decide/outcome.ts';

/**
 * Field names accepted in one JSON access-log line, lower-case, first match wins. The first name of each list is
 * the documented Portcullis format (docs/proxies.md); the others are what the proxies name them natively:
 * nginx variable names, Traefik's JSON access log (with headers kept), HAProxy examples.
 */
const FIELDS = {
  requestId: ['request_id', 'req_id', 'requestid', 'x_request_id', 'request_x-request-id'],
  method: ['method', 'request_method', 'requestmethod'],
  path: ['uri', 'request_uri', 'path', 'requestpath'],
  host: ['host', 'http_host', 'requesthost'],
  status: ['status', 'downstreamstatus'],
  result: ['result', 'signin_result', 'downstream_x-portcullis-signin-result'],
  peer: ['peer', 'realip_remote_addr', 'remote_addr', 'client', 'client_ip', 'clienthost'],
  xff: ['xff', 'x_forwarded_for', 'http_x_forwarded_for', 'request_x-forwarded-for'],
} as const;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A present, meaningful string: nginx writes "-" or "" for an unset variable. */
function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' || v === '-' ? undefined : v;
  if (Array.isArray(v) && typeof v[0] === 'string') return text(v[0]); // Caddy logs header values as arrays
  return undefined;
}

function pick(lower: Obj, names: readonly string[]): unknown {
  for (const n of names) if (lower[n] !== undefined) return lower[n];
  return undefined;
}

function lowerKeys(o: Obj): Obj {
  const out: Obj = {};
  for (const k of Object.keys(o)) out[k.toLowerCase()] = o[k];
  return out;
}

function statusOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{3}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 100 && n <= 599 ? n : undefined;
}

/**
 * One access-log line as an OutcomeReport, or undefined when it is not usable: not a JSON object, no valid
 * status, or nothing to correlate it with (neither a request id nor a client address). Caddy's nested JSON
 * (request.{remote_ip,method,host,uri,headers}, resp_headers) is read too.
 */
export function accessLineToOutcome(json: string): OutcomeReport | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!isObj(doc)) return undefined;
  const top = lowerKeys(doc);
  const caddy = isObj(top.request) ? lowerKeys(top.request) : undefined;
  const reqHeaders = caddy && isObj(caddy.headers) ? lowerKeys(caddy.headers) : undefined;
  const respHeaders = isObj(top.resp_headers) ? lowerKeys(top.resp_headers) : undefined;

  const status = statusOf(pick(top, FIELDS.status));
  if (status === undefined) return undefined;
  const requestId = text(pick(top, FIELDS.requestId)) ?? text(reqHeaders?.['x-request-id']);
  const clientIp = text(pick(top, FIELDS.peer)) ?? text(caddy?.remote_ip);
  if (requestId === undefined && clientIp === undefined) return undefined;
  const forwardedFor = text(pick(top, FIELDS.xff)) ?? text(reqHeaders?.['x-forwarded-for']);
  // Caddy's forward_auth passes Portcullis' own denial to the client as it is, x-portcullis-status included (a
  // client cannot set response headers). Caddy 2.6 cannot log a request id of its own, so such a line would not
  // correlate with its (denied) decision: it is reported without method and path, which the ingest ignores,
  // so a request Portcullis refused never counts as a failed sign-in.
  const deniedByUs = text(respHeaders?.['x-portcullis-status']) !== undefined;
  return {
    requestId,
    method: deniedByUs ? '' : (text(pick(top, FIELDS.method)) ?? text(caddy?.method) ?? '').toUpperCase(),
    path: deniedByUs ? '' : text(pick(top, FIELDS.path)) ?? text(caddy?.uri) ?? '',
    host: text(pick(top, FIELDS.host)) ?? text(caddy?.host) ?? '',
    status,
    resultHeader: text(pick(top, FIELDS.result)) ?? text(respHeaders?.['x-portcullis-signin-result']),
    clientIp,
    ...(forwardedFor !== undefined ? { forwardedFor } : {}),
  };
}
