import type { OutcomeReport } from '../../../decide/outcome.ts';

/**
 * Reads one serialized envoy.data.accesslog.v3.HTTPAccessLogEntry straight into an OutcomeReport: only what
 * outcomeFromEntry() reads of proto-loader's object, without building it. proto-loader costs ~4 µs and a
 * dozen objects per entry, and a 1M-entry stream is mostly that garbage; this is a walk over the bytes.
 *
 * The fields (envoy/data/accesslog/v3/accesslog.proto):
 *   1 common_properties { 2 downstream_remote_address { 1 socket_address { 2 address } }, 16 response_flags { 13 unauthorized_details } }
 *   3 request { 1 request_method (enum), 3 authority, 5 path, 8 forwarded_for, 9 request_id }
 *   4 response { 1 response_code { 1 value }, 4 response_headers (map<string, string>) }
 * As protobufjs does, a singular message field given twice is replaced by the last one, a string or number by
 * its last value, a repeated map key by its last value. Unknown fields are skipped by wire type; a known field
 * with the wrong wire type, a group, or a length past its message is malformed (the entry is skipped).
 * test/adapters/grpc/access-log-decoder.test.ts compares it with proto-loader + outcomeFromEntry.
 */

export class MalformedEntry extends Error {
  constructor() {
    super('malformed HTTPAccessLogEntry');
  }
}

/** envoy.config.core.v3.RequestMethod, as proto-loader's enums: String names them (unknown numbers give ''). */
const METHODS = ['METHOD_UNSPECIFIED', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Buffer, start: number, end: number): string }).utf8Slice;

// The cursor: the decoder is synchronous and not re-entrant.
let p = 0;

function fail(): never {
  throw new MalformedEntry();
}

/** A varint below `end` as a number (exact to 2^53; bigger ones are only skipped by their callers). */
function varint(b: Buffer, end: number): number {
  let v = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (p >= end) fail();
    const x = b[p++]!;
    v += (x & 127) * scale;
    if (x < 128) return v;
    scale *= 128;
  }
  return fail();
}

/** uint32 as protobufjs reads it: the low 32 bits of the varint. */
const u32 = (b: Buffer, end: number): number => varint(b, end) % 4294967296;

/** The end of the length-delimited payload at p (p moves to its start). */
function lengthEnd(b: Buffer, end: number): number {
  const len = varint(b, end);
  if (len > end - p) fail();
  return p + len;
}

function skip(b: Buffer, end: number, wire: number): void {
  switch (wire) {
    case 0:
      varint(b, end);
      return;
    case 1:
    case 5:
      p += wire === 1 ? 8 : 4;
      if (p > end) fail();
      return;
    case 2:
      p = lengthEnd(b, end);
      return;
    default:
      fail(); // groups, and wire types 6, 7
  }
}

function str(b: Buffer, end: number): string {
  const e = lengthEnd(b, end);
  const s = p === e ? '' : utf8Slice.call(b, p, e);
  p = e;
  return s;
}

/**
 * The last value of one string field, by its bytes. An access-log stream repeats the same host, path and Envoy
 * address in entry after entry: equal bytes give the string read last time instead of a new one, so a
 * million entries leave a million fewer strings to collect. Only short values are kept (a copy, never a view
 * of the message, which must not be pinned).
 */
class LastString {
  static readonly MAX = 96;
  readonly bytes = Buffer.alloc(LastString.MAX);
  len = -1;
  value = '';
}

function strSeen(b: Buffer, end: number, last: LastString): string {
  const e = lengthEnd(b, end);
  const n = e - p;
  if (n === last.len) {
    const seen = last.bytes;
    let i = 0;
    while (i < n && b[p + i] === seen[i]) i++;
    if (i === n) {
      p = e;
      return last.value;
    }
  }
  const s = n === 0 ? '' : utf8Slice.call(b, p, e);
  if (n <= LastString.MAX) {
    b.copy(last.bytes, 0, p, e);
    last.len = n;
    last.value = s;
  }
  p = e;
  return s;
}

const lastPeer = new LastString();
const lastHost = new LastString();
const lastPath = new LastString();

const need = (wire: number, expected: number): void => {
  if (wire !== expected) fail();
};

// What the entry being read has given so far (module state: one entry at a time, no closures to allocate).
let unauthorized = false;
let clientIp: string | undefined;
let method: string | undefined;
let host: string | undefined;
let path: string | undefined;
let forwardedFor: string | undefined;
let requestId: string | undefined;
let status: number | undefined;
let result: string | undefined;
let wanted = '';

/** Reads the next tag below `end`; returns field * 8 + wire. */
const tag = (b: Buffer, end: number): number => u32(b, end);

/** envoy.config.core.v3.SocketAddress: address = 2. */
function socketAddress(b: Buffer, end: number): void {
  clientIp = undefined;
  while (p < end) {
    const t = tag(b, end);
    if (t >>> 3 === 2) {
      need(t & 7, 2);
      clientIp = strSeen(b, end, lastPeer);
    } else skip(b, end, t & 7);
  }
}

/** envoy.config.core.v3.Address: socket_address = 1. */
function address(b: Buffer, end: number): void {
  clientIp = undefined;
  while (p < end) {
    const t = tag(b, end);
    if (t >>> 3 === 1) {
      need(t & 7, 2);
      const e = lengthEnd(b, end);
      socketAddress(b, e);
    } else skip(b, end, t & 7);
  }
}

/** ResponseFlags: unauthorized_details = 13 (present is enough). */
function responseFlags(b: Buffer, end: number): void {
  unauthorized = false;
  while (p < end) {
    const t = tag(b, end);
    if (t >>> 3 === 13) {
      need(t & 7, 2);
      p = lengthEnd(b, end);
      unauthorized = true;
    } else skip(b, end, t & 7);
  }
}

/** AccessLogCommon: downstream_remote_address = 2, response_flags = 16. */
function common(b: Buffer, end: number): void {
  unauthorized = false;
  clientIp = undefined;
  while (p < end) {
    const t = tag(b, end);
    const f = t >>> 3;
    if (f === 2 || f === 16) {
      need(t & 7, 2);
      const e = lengthEnd(b, end);
      if (f === 2) address(b, e);
      else responseFlags(b, e);
    } else skip(b, end, t & 7);
  }
}

/** HTTPRequestProperties: request_method = 1, authority = 3, path = 5, forwarded_for = 8, request_id = 9. */
function request(b: Buffer, end: number): void {
  method = host = path = forwardedFor = requestId = undefined;
  while (p < end) {
    const t = tag(b, end);
    switch (t >>> 3) {
      case 1:
        need(t & 7, 0);
        method = METHODS[u32(b, end) | 0] ?? ''; // an int32, as protobufjs reads enums
        break;
      case 3: need(t & 7, 2); host = strSeen(b, end, lastHost); break;
      case 5: need(t & 7, 2); path = strSeen(b, end, lastPath); break;
      case 8: need(t & 7, 2); forwardedFor = str(b, end); break;
      case 9: need(t & 7, 2); requestId = str(b, end); break;
      default: skip(b, end, t & 7);
    }
  }
}

/** google.protobuf.UInt32Value: value = 1. */
function uint32Value(b: Buffer, end: number): void {
  status = undefined;
  while (p < end) {
    const t = tag(b, end);
    if (t >>> 3 === 1) {
      need(t & 7, 0);
      status = u32(b, end);
    } else skip(b, end, t & 7);
  }
}

/** One response_headers map entry: key = 1, value = 2. */
function header(b: Buffer, end: number): void {
  let key = '';
  let value = '';
  while (p < end) {
    const t = tag(b, end);
    const f = t >>> 3;
    if (f === 1 || f === 2) {
      need(t & 7, 2);
      if (f === 1) key = str(b, end);
      else value = str(b, end);
    } else skip(b, end, t & 7);
  }
  if (key === wanted) result = value;
}

/** HTTPResponseProperties: response_code = 1, response_headers = 4. */
function response(b: Buffer, end: number): void {
  status = undefined;
  result = undefined;
  while (p < end) {
    const t = tag(b, end);
    const f = t >>> 3;
    if (f === 1 || f === 4) {
      need(t & 7, 2);
      const e = lengthEnd(b, end);
      if (f === 1) uint32Value(b, e);
      else header(b, e);
    } else skip(b, end, t & 7);
  }
}

/**
 * The outcome in entry bytes [start, end) (the message's own bytes, no tag or length); undefined for an entry
 * that cannot be a sign-in outcome (no response code, or refused by ext_authz itself: response flag UAEX).
 * Throws MalformedEntry for bytes that are not an HTTPAccessLogEntry.
 */
export function decodeAccessLogEntry(b: Buffer, start: number, end: number, resultHeader: string): OutcomeReport | undefined {
  p = start;
  wanted = resultHeader;
  unauthorized = false;
  clientIp = method = host = path = forwardedFor = requestId = result = undefined;
  status = undefined;
  while (p < end) {
    const t = tag(b, end);
    const f = t >>> 3;
    if (f === 1 || f === 3 || f === 4) {
      need(t & 7, 2);
      const e = lengthEnd(b, end);
      if (f === 1) common(b, e);
      else if (f === 3) request(b, e);
      else response(b, e);
      if (p !== e) fail();
    } else skip(b, end, t & 7);
  }
  if (unauthorized || !status) return undefined;
  return {
    requestId: requestId || undefined,
    method: method ?? '',
    path: path ?? '',
    host: host ?? '',
    status,
    resultHeader: result,
    clientIp,
    forwardedFor: forwardedFor || undefined,
  };
}
