import type { Decision } from '../../../decide/decision.ts';
import { denialBody, denialHeaders, writeUpstreamHeaders } from '../../answer.ts';

/**
 * Writes a decision as a serialized envoy.service.auth.v3.CheckResponse, the same bytes proto-loader writes
 * for toCheckResponse() (check-response.ts, the readable definition), without building and walking the object:
 * fields in field-number order, defaults written when set (status.code 0 included), so
 * test/adapters/grpc/check-response-encoder.test.ts can compare byte for byte.
 *
 * The constant parts (each header's key with its tags, append_action, the HTTP status, the gRPC status per
 * reason) are encoded once; per answer only the values are written.
 */

// google.rpc.Code values. The gRPC *call* always succeeds; the verdict travels in CheckResponse.status.
const RPC_OK = 0;
const RPC_PERMISSION_DENIED = 7;
const RPC_RESOURCE_EXHAUSTED = 8;

// Tags: (field << 3) | wire type.
const T1_LEN = 0x0a;
const T2_LEN = 0x12;
const T3_LEN = 0x1a;
const T5_LEN = 0x2a;
const T1_VARINT = 0x08;
const T3_VARINT = 0x18;
const OVERWRITE_IF_EXISTS_OR_ADD = 2;

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function writeVarint(b: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    b[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[at++] = n;
  return at;
}

/** Byte length of a string: ASCII is the common case and needs no native call. */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

/** `0a <len> key 12` of a HeaderValue, cached per header name (a closed set). */
const keyParts = new Map<string, Buffer>();
function keyPart(key: string): Buffer {
  let part = keyParts.get(key);
  if (!part) {
    const k = Buffer.from(key, 'utf8');
    part = Buffer.alloc(1 + varintSize(k.length) + k.length + 1);
    part[0] = T1_LEN;
    let at = writeVarint(part, 1, k.length);
    at += k.copy(part, at);
    part[at] = T2_LEN;
    if (keyParts.size < 64) keyParts.set(key, part);
  }
  return part;
}

// One header option: HeaderValueOption{ header(1): HeaderValue{ key(1), value(2) }, append_action(3): 2 }.
function headerValueLength(key: Buffer, valueLen: number): number {
  return key.length + varintSize(valueLen) + valueLen;
}

function optionLength(hvLen: number): number {
  return 1 + varintSize(hvLen) + hvLen + 2;
}

// The header pairs of one answer, in module scratch (the encoder is synchronous): no arrays per answer.
const keys: string[] = [];
const values: string[] = [];
let count = 0;
/** Sizes of each header pair, computed once and reused for the write. */
const sizes: number[] = [];

function setPairs(pairs: Array<[string, string]>): void {
  count = pairs.length;
  for (let i = 0; i < count; i++) {
    keys[i] = pairs[i]![0];
    values[i] = pairs[i]![1];
  }
}

function headersSize(): number {
  let total = 0;
  for (let i = 0; i < count; i++) {
    const vLen = utf8Length(values[i]!);
    const hv = headerValueLength(keyPart(keys[i]!), vLen);
    const opt = optionLength(hv);
    sizes[i * 3] = vLen;
    sizes[i * 3 + 1] = hv;
    sizes[i * 3 + 2] = opt;
    total += 1 + varintSize(opt) + opt;
  }
  return total;
}

function writeHeaders(b: Buffer, at: number): number {
  for (let i = 0; i < count; i++) {
    const value = values[i]!;
    const vLen = sizes[i * 3]!;
    const hv = sizes[i * 3 + 1]!;
    const opt = sizes[i * 3 + 2]!;
    b[at++] = T2_LEN; // OkHttpResponse.headers / DeniedHttpResponse.headers are both field 2
    at = writeVarint(b, at, opt);
    b[at++] = T1_LEN;
    at = writeVarint(b, at, hv);
    at += keyPart(keys[i]!).copy(b, at);
    at = writeVarint(b, at, vLen);
    at += b.write(value, at, vLen, 'utf8');
    b[at++] = T3_VARINT;
    b[at++] = OVERWRITE_IF_EXISTS_OR_ADD;
  }
  return at;
}

/** The gRPC message prefix (flag 0, 4-byte big-endian length) in front of `length` bytes, when `framed`. */
function allocate(length: number, framed: boolean): Buffer {
  if (!framed) return Buffer.allocUnsafe(length);
  const b = Buffer.allocUnsafe(5 + length);
  b[0] = 0;
  b.writeUInt32BE(length, 1);
  return b;
}

/** `0a 02 08 00`: status { code: OK }. */
const STATUS_OK = Buffer.from([T1_LEN, 2, T1_VARINT, RPC_OK]);

/** status { code, message: reason } per (code, reason): both come from closed sets. */
const statusParts = new Map<string, Buffer>();
function statusPart(code: number, reason: string): Buffer {
  const cacheKey = `${code}|${reason}`;
  let part = statusParts.get(cacheKey);
  if (!part) {
    const msg = Buffer.from(reason, 'utf8');
    const inner = 2 + 1 + varintSize(msg.length) + msg.length;
    part = Buffer.alloc(1 + varintSize(inner) + inner);
    part[0] = T1_LEN;
    let at = writeVarint(part, 1, inner);
    part[at++] = T1_VARINT;
    part[at++] = code;
    part[at++] = T2_LEN;
    at = writeVarint(part, at, msg.length);
    msg.copy(part, at);
    if (statusParts.size < 64) statusParts.set(cacheKey, part);
  }
  return part;
}

/** denied_response.status: `0a 03 08 <varint 403|429>`. */
const HTTP_403 = Buffer.from([T1_LEN, 3, T1_VARINT, 0x93, 0x03]);
const HTTP_429 = Buffer.from([T1_LEN, 3, T1_VARINT, 0xad, 0x03]);

function encodeAllow(d: Decision, forged: readonly string[], framed: boolean): Buffer {
  count = writeUpstreamHeaders(d, keys, values);
  let ok = headersSize();
  for (let i = 0; i < forged.length; i++) {
    const n = utf8Length(forged[i]!);
    ok += 1 + varintSize(n) + n;
  }
  const total = STATUS_OK.length + 1 + varintSize(ok) + ok;
  const b = allocate(total, framed);
  let at = STATUS_OK.copy(b, framed ? 5 : 0) + (framed ? 5 : 0);
  b[at++] = T3_LEN;
  at = writeVarint(b, at, ok);
  at = writeHeaders(b, at);
  for (let i = 0; i < forged.length; i++) {
    const name = forged[i]!;
    const n = utf8Length(name);
    b[at++] = T5_LEN;
    at = writeVarint(b, at, n);
    at += b.write(name, at, n, 'utf8');
  }
  return b;
}

function encodeDenial(d: Decision, framed: boolean): Buffer {
  const status = statusPart(d.verdict === 'rate_limit' ? RPC_RESOURCE_EXHAUSTED : RPC_PERMISSION_DENIED, d.reason);
  const http = d.httpStatus === 429 ? HTTP_429 : HTTP_403;
  setPairs(denialHeaders(d));
  const body = denialBody(d);
  const bodyLen = utf8Length(body);
  const denied = http.length + headersSize() + 1 + varintSize(bodyLen) + bodyLen;
  const b = allocate(status.length + 1 + varintSize(denied) + denied, framed);
  let at = status.copy(b, framed ? 5 : 0) + (framed ? 5 : 0);
  b[at++] = T2_LEN;
  at = writeVarint(b, at, denied);
  at += http.copy(b, at);
  at = writeHeaders(b, at);
  b[at++] = T3_LEN; // DeniedHttpResponse.body
  at = writeVarint(b, at, bodyLen);
  b.write(body, at, bodyLen, 'utf8');
  return b;
}

/**
 * The serialized CheckResponse for a decision; forged names go to headers_to_remove on allows. `framed` puts
 * the gRPC message prefix in front (the node:http2 transport sends the buffer as it is, with no copy).
 */
export function encodeCheckResponse(d: Decision, forged: readonly string[], framed = false): Buffer {
  return d.verdict === 'allow' ? encodeAllow(d, forged, framed) : encodeDenial(d, framed);
}
