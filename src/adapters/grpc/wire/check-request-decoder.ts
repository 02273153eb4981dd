import { parseAddress } from '../../../net/address.ts';
import { HEADERS_READ, type RequestFacts } from '../../../decide/decision.ts';
import { isPortcullisHeader } from '../portcullis-headers.ts';

/**
 * Reads a serialized envoy.service.auth.v3.CheckRequest straight into RequestFacts, without building the
 * message tree proto-loader would (which costs several µs per Check and is mostly thrown away).
 *
 * Only what the decision reads is kept: source.address.socket_address.address, request.http method / path /
 * host / headers (map) / header_map / body / raw_body. Everything else is walked, not kept.
 *
 * The accepted language is the one proto-loader (protobufjs 7) accepts, so the facts are the ones
 * factsFromCheckRequest gives for the decoded object, and the same bytes are refused
 * (test/adapters/grpc/check-request-decoder.test.ts checks this over fuzzed input). That includes protobufjs'
 * own rules where they differ from the protobuf spec:
 *  - a known field is read by its declared type whatever wire type its tag says;
 *  - a singular message field given twice is replaced by the last one, not merged;
 *  - a string longer than its enclosing message is cut at the message end, not refused;
 *  - varints follow its reader (10-byte tags are read as 5 + 5 skipped bytes);
 *  - known fields the decision does not use are still checked as deeply as protobufjs decodes them
 *    (a metadata map key whose last entry has no value makes protobufjs' toObject throw: refused here too,
 *    unless that metadata was replaced by a later occurrence);
 *  - nesting deeper than 100 messages is refused.
 * Headers objects are plain objects, as proto-loader's are ("__proto__" is stored as an own key, like its
 * toObject does): a plain object keeps V8's fast properties with transitions shared between requests that send
 * the same headers, where a prototype-less one falls back to a slow dictionary.
 */

/** Thrown for bytes that are not a CheckRequest; the caller answers with the failure mode. */
export class MalformedCheckRequest extends Error {
  constructor(readonly at: number) {
    super('malformed CheckRequest');
  }
}

export interface DecodedCheck {
  readonly facts: RequestFacts;
  /** Client-sent x-portcullis-* header names, from whichever encoding carried the headers. */
  readonly forged: readonly string[];
}

const RECURSION_LIMIT = 100; // protobufjs util.recursionLimit (protoc's default too)
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});
const NONE: readonly string[] = Object.freeze([]);

// The cursor: the decoder is synchronous and not re-entrant, so one module-level position is the cheapest.
let p = 0;

function fail(): never {
  throw new MalformedCheckRequest(p);
}

/** protobufjs Reader.uint32, with `end` as its len. */
function u32(b: Buffer, end: number): number {
  if (end - p < 5) {
    if (p >= end) fail();
    if (b[p]! >= 128) {
      let v = 0;
      for (let i = 0; i < 4; i++) {
        if (p >= end) fail();
        const x = b[p++]!;
        v = (v | ((x & 127) << (i * 7))) >>> 0;
        if (x < 128) return v;
      }
      fail();
    }
  }
  let x = b[p++]!;
  let v = x & 127;
  if (x < 128) return v;
  x = b[p++]!;
  v |= (x & 127) << 7;
  if (x < 128) return v;
  x = b[p++]!;
  v |= (x & 127) << 14;
  if (x < 128) return v;
  x = b[p++]!;
  v |= (x & 127) << 21;
  if (x < 128) return v >>> 0;
  x = b[p++]!;
  v = (v | ((x & 15) << 28)) >>> 0;
  if (x < 128) return v;
  p += 5;
  if (p > end) {
    p = end;
    fail();
  }
  return v;
}

/** protobufjs readLongVarint (int64 fields), value discarded. Near the end it takes a 4th byte unchecked. */
function skipLong(b: Buffer, end: number): void {
  if (end - p > 4) {
    for (let i = 0; i < 5; i++) if (b[p++]! < 128) return;
    if (end - p > 4) {
      for (let i = 0; i < 5; i++) if (b[p++]! < 128) return;
    } else {
      for (let i = 0; i < 5; i++) {
        if (p >= end) fail();
        if (b[p++]! < 128) return;
      }
    }
    fail();
  }
  for (let i = 0; i < 3; i++) {
    if (p >= end) fail();
    if (b[p++]! < 128) return;
  }
  p++; // may pass `end`: every int64 field sits in a nested message, whose end check then refuses it
}

function skipFixed(n: number, end: number): void {
  if (p + n > end) fail();
  p += n;
}

/** protobufjs Reader.skipType. */
function skipType(b: Buffer, end: number, wireType: number, depth: number): void {
  if (depth > RECURSION_LIMIT) fail();
  switch (wireType) {
    case 0:
      do {
        if (p >= end) fail();
      } while (b[p++]! & 128);
      return;
    case 1:
      return skipFixed(8, end);
    case 2:
      return skipFixed(u32(b, end), end);
    case 3:
      for (;;) {
        const wt = u32(b, end) & 7;
        if (wt === 4) return;
        skipType(b, end, wt, depth + 1);
      }
    case 5:
      return skipFixed(4, end);
    default:
      fail();
  }
}

// Buffer's own native slice, as protobufjs calls it: toString() adds argument checks and a JS wrapper per call.
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Buffer, start: number, end: number): string }).utf8Slice;

/** BufferReader.string: the length is cut at the enclosing end (see above). */
function str(b: Buffer, end: number): string {
  const len = u32(b, end);
  const s = p;
  p = Math.min(s + len, end);
  return s === p ? '' : utf8Slice.call(b, s, p);
}

/** Sets an own property, "__proto__" included (assigning that one would set the prototype instead). */
function setOwn(o: Record<string, string>, key: string, value: string): void {
  if (key === '__proto__') Object.defineProperty(o, key, { value, enumerable: true, configurable: true, writable: true });
  else o[key] = value;
}

function skipStr(b: Buffer, end: number): void {
  const len = u32(b, end);
  p = Math.min(p + len, end);
}

/** Reader.bytes: bounds-checked. Returns the start; p is the end. */
function bytesAt(b: Buffer, end: number): number {
  const len = u32(b, end);
  const s = p;
  if (s + len > end) fail();
  p = s + len;
  return s;
}

/** Start of a nested message: returns its end, checked against ours. */
function open(b: Buffer, end: number): number {
  const c = u32(b, end) + p;
  if (c > end) fail();
  return c;
}

function close(c: number): void {
  if (p !== c) fail();
}

// ---- Messages the decision does not read: checked like protobufjs decodes them, nothing kept. ----

const K_V32 = 1; // int32, uint32, bool, enum
const K_V64 = 2; // int64
const K_F64 = 3; // double
const K_STR = 4;
const K_BYTES = 5;
const K_MSG = 6; // singular message
const K_REP_MSG = 9; // repeated message
const K_MAP_STR = 7; // map<string, string>
const K_MAP_MSG = 8; // map<string, message>

interface Shape {
  /** kind by field number (index); 0 or missing: unknown field. */
  kinds: number[];
  /** message shape by field number, for K_MSG, K_REP_MSG and K_MAP_MSG. */
  refs: Array<Shape | undefined>;
}

function shape(fields: Record<number, number | [number, () => Shape]>): Shape {
  const s: Shape = { kinds: [], refs: [] };
  for (const [n, f] of Object.entries(fields)) {
    const i = Number(n);
    if (Array.isArray(f)) {
      s.kinds[i] = f[0];
      Object.defineProperty(s.refs, i, { get: f[1], enumerable: true }); // shapes refer to each other (Struct <-> Value)
    } else s.kinds[i] = f;
  }
  for (let i = 0; i < s.kinds.length; i++) s.kinds[i] ??= 0;
  return s;
}

// Field numbers and types as in the pinned protos (test/adapters/grpc/check-request-decoder.test.ts compares
// these with proto-loader's descriptors).
const TIMESTAMP = shape({ 1: K_V64, 2: K_V32 });
const TLS_SESSION = shape({ 1: K_STR });
const ANY = shape({ 1: K_STR, 2: K_BYTES });
const STRUCT: Shape = shape({ 1: [K_MAP_MSG, () => VALUE] });
const LIST_VALUE: Shape = shape({ 1: [K_REP_MSG, () => VALUE] });
const VALUE: Shape = shape({ 1: K_V32, 2: K_F64, 3: K_STR, 4: K_V32, 5: [K_MSG, () => STRUCT], 6: [K_MSG, () => LIST_VALUE] });
const METADATA = shape({ 1: [K_MAP_MSG, () => STRUCT], 2: [K_MAP_MSG, () => ANY] });
const PIPE = shape({ 1: K_STR, 2: K_V32 });
const ENVOY_INTERNAL_ADDRESS = shape({ 1: K_STR, 2: K_STR });

/**
 * A whole message of the given shape, from p to end, at nesting depth `depth`. Returns true when protobufjs'
 * toObject would throw on the decoded message: a map<string, message> key whose last entry has no value
 * (protobufjs leaves it null). Only the occurrences that survive count: a singular message given twice is
 * replaced, so an earlier bad one is harmless, as in protobufjs.
 */
function walk(b: Buffer, end: number, s: Shape, depth: number): boolean {
  if (depth > RECURSION_LIMIT) fail();
  let last: boolean[] | undefined; // singular message fields: the last occurrence's result
  let anyBad = false; // repeated message fields: every element counts
  let maps: Map<number, Map<string, boolean>> | undefined; // map<string, message>: the last entry per key
  while (p < end) {
    const t = u32(b, end);
    const f = t >>> 3;
    const kind = f < s.kinds.length ? s.kinds[f]! : 0;
    if (kind === 0) skipType(b, end, t & 7, depth);
    else if (kind === K_MSG || kind === K_REP_MSG) {
      const c = open(b, end);
      const bad = walk(b, c, s.refs[f]!, depth + 1);
      close(c);
      if (kind === K_REP_MSG) anyBad ||= bad;
      else (last ??= [])[f] = bad;
    } else if (kind === K_MAP_MSG) {
      walkMapEntry(b, end, s.refs[f], depth);
      let m = maps?.get(f);
      if (!m) (maps ??= new Map()).set(f, (m = new Map()));
      m.set(entryKey, entryBad);
    } else walkField(b, end, kind, depth);
  }
  if (anyBad) return true;
  if (last) for (const bad of last) if (bad) return true;
  if (maps) for (const m of maps.values()) for (const bad of m.values()) if (bad) return true;
  return false;
}

function walkField(b: Buffer, end: number, kind: number, depth: number): void {
  switch (kind) {
    case K_V32:
      u32(b, end);
      return;
    case K_V64:
      return skipLong(b, end);
    case K_F64:
      return skipFixed(8, end);
    case K_STR:
      return skipStr(b, end);
    case K_BYTES:
      bytesAt(b, end);
      return;
    default:
      return walkMapEntry(b, end, undefined, depth);
  }
}

// Set by walkMapEntry for map<string, message> entries: the key, and whether toObject would throw on it.
let entryKey = '';
let entryBad = false;

/** One map entry: map<string, string> when ref is undefined (nothing kept), else map<string, message>. */
function walkMapEntry(b: Buffer, end: number, ref: Shape | undefined, depth: number): void {
  const c = open(b, end);
  let key = '';
  let bad = true; // no value: null in protobufjs
  while (p < c) {
    const t = u32(b, c);
    const f = t >>> 3;
    if (f === 1) {
      if (ref === undefined) skipStr(b, c);
      else key = str(b, c);
    } else if (f === 2) {
      if (ref === undefined) skipStr(b, c);
      else {
        const c2 = open(b, c);
        bad = walk(b, c2, ref, depth + 1);
        close(c2);
      }
    } else skipType(b, c, t & 7, depth);
  }
  close(c);
  entryKey = key;
  entryBad = bad;
}

// ---- The path the decision reads. Depths: CheckRequest 0, AttributeContext 1, Peer/Request 2, ... ----

/** What one HttpRequest occurrence holds (a later occurrence replaces it whole, as in protobufjs). */
interface Http {
  method: string;
  path: string;
  host: string;
  body: string;
  rawStart: number;
  rawEnd: number;
  /** Values of the read headers from the headers map, by HEADERS_READ index (EXTRA: the username header); undefined until an entry is seen. */
  map: Array<string | undefined> | undefined;
  mapForged: string[] | undefined;
  /** header_map merged like factsFromCheckRequest merges it; undefined when it had no entries. */
  list: Array<string | undefined> | undefined;
  listForged: string[] | undefined;
}

interface Attributes {
  peer: string | undefined;
  http: Http | undefined;
  /** metadata_context / route_metadata_context (last occurrence of each) would make toObject throw. */
  badMetadata: boolean;
  badRouteMetadata: boolean;
}

function socketAddress(b: Buffer, end: number): string | undefined {
  let address: string | undefined;
  while (p < end) {
    const t = u32(b, end);
    switch (t >>> 3) {
      case 1: case 3: case 6: u32(b, end); break;
      case 2: address = str(b, end); break;
      case 4: case 5: skipStr(b, end); break;
      default: skipType(b, end, t & 7, 4);
    }
  }
  return address;
}

function address(b: Buffer, end: number): string | undefined {
  let socket: string | undefined;
  while (p < end) {
    const t = u32(b, end);
    const f = t >>> 3;
    if (f === 1) {
      const c = open(b, end);
      socket = socketAddress(b, c);
      close(c);
    } else if (f === 2 || f === 3) {
      const c = open(b, end);
      walk(b, c, f === 2 ? PIPE : ENVOY_INTERNAL_ADDRESS, 4);
      close(c);
    } else skipType(b, end, t & 7, 3);
  }
  return socket;
}

/** Peer (source or destination): returns source.address.socket_address.address. */
function peer(b: Buffer, end: number): string | undefined {
  let addr: string | undefined;
  while (p < end) {
    const t = u32(b, end);
    switch (t >>> 3) {
      case 1: {
        const c = open(b, end);
        addr = address(b, c);
        close(c);
        break;
      }
      case 2: case 4: case 5: skipStr(b, end); break;
      case 3: walkMapEntry(b, end, undefined, 2); break;
      default: skipType(b, end, t & 7, 2);
    }
  }
  return addr;
}

// Header names whose values become strings: what decide() reads (HEADERS_READ) and, per call, the policy's
// username header. Every other header is walked, not copied: a browser request carries a dozen (cookies,
// user-agent hints, accept-*), and turning each into a key and a value string was the decoder's largest cost.
const READ = HEADERS_READ.map((n) => Buffer.from(n, 'latin1'));
/** READ by name length: most header lengths match none of them, and are passed over with one lookup. */
const READ_BY_LENGTH: Array<number[] | undefined> = [];
READ.forEach((name, i) => (READ_BY_LENGTH[name.length] ??= []).push(i));
let extra: Buffer | undefined;
let extraText: string | undefined;

/** b[s, s + len) equals the lower-case ASCII name; `fold` lower-cases ASCII letters of b first. */
function sameName(b: Buffer, s: number, len: number, name: Buffer, fold: boolean): boolean {
  if (name.length !== len) return false;
  for (let i = 0; i < len; i++) {
    let c = b[s + i]!;
    if (fold && c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (c !== name[i]) return false;
  }
  return true;
}

/** Index of the read header b[s, e) names (EXTRA for the username header), or -1. */
function readIndex(b: Buffer, s: number, e: number, fold: boolean): number {
  const len = e - s;
  const names = len < READ_BY_LENGTH.length ? READ_BY_LENGTH[len] : undefined;
  if (names !== undefined) for (let i = 0; i < names.length; i++) if (sameName(b, s, len, READ[names[i]!]!, fold)) return names[i]!;
  return extra !== undefined && sameName(b, s, len, extra, fold) ? EXTRA : -1;
}

function readIndexText(k: string): number {
  const i = HEADERS_READ.indexOf(k);
  return i !== -1 ? i : k === extraText ? EXTRA : -1;
}

/** Slot of the username header in the values array, after HEADERS_READ's. */
const EXTRA = HEADERS_READ.length;

/**
 * The headers object: one literal with HEADERS_READ's keys (absent ones undefined), so it is made with one
 * shape in one allocation rather than grown key by key; the username header is added to it when present.
 */
function headersObject(v: Array<string | undefined>): Record<string, string> {
  const o = {
    'x-forwarded-for': v[0], forwarded: v[1], 'x-envoy-external-address': v[2], ':method': v[3], ':path': v[4],
    ':authority': v[5], host: v[6], 'x-request-id': v[7], 'user-agent': v[8], 'content-type': v[9],
  } as Record<string, string>;
  if (v[EXTRA] !== undefined) setOwn(o, extraText!, v[EXTRA]);
  return o;
}
if (HEADERS_READ.join() !== Object.keys(headersObject([])).join()) throw new Error('headersObject() must list HEADERS_READ in order');

const PORTCULLIS = Buffer.from('x-portcullis-', 'latin1');

/** isPortcullisHeader over the key's bytes (ASCII prefix, any case). */
function isPortcullisKey(b: Buffer, s: number, e: number): boolean {
  if (e - s <= PORTCULLIS.length) return false;
  for (let i = 0; i < PORTCULLIS.length; i++) {
    const c = b[s + i]!;
    if ((c === 0x2d ? c : c | 0x20) !== PORTCULLIS[i]) return false;
  }
  return true;
}

function ascii(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/** String field at p: its bounds into sStart/sEnd (cut at the enclosing end, as str() does). */
let sStart = 0;
let sEnd = 0;
function strBounds(b: Buffer, end: number): void {
  const len = u32(b, end);
  sStart = p;
  p = Math.min(p + len, end);
  sEnd = p;
}

function headerMapEntry(b: Buffer, end: number, h: Http): void {
  const c = open(b, end);
  let ks = 0;
  let ke = 0;
  let vs = 0;
  let ve = 0;
  while (p < c) {
    const t = u32(b, c);
    const f = t >>> 3;
    if (f === 1) {
      strBounds(b, c);
      ks = sStart;
      ke = sEnd;
    } else if (f === 2) {
      strBounds(b, c);
      vs = sStart;
      ve = sEnd;
    } else skipType(b, c, t & 7, 3);
  }
  close(c);
  const values = (h.map ??= []);
  // Map keys are compared as sent (Envoy lower-cases them); a non-ASCII key can equal no ASCII name. A later
  // entry for a key replaces the earlier one, as in protobufjs.
  if (isPortcullisKey(b, ks, ke)) {
    const key = utf8Slice.call(b, ks, ke);
    if (!(h.mapForged ??= []).includes(key)) h.mapForged.push(key);
  }
  const i = readIndex(b, ks, ke, false);
  if (i !== -1) values[i] = ve > vs ? utf8Slice.call(b, vs, ve) : '';
}

function headerValue(b: Buffer, end: number, h: Http): void {
  let ks = 0;
  let ke = 0;
  let vs = 0;
  let ve = 0;
  let rawStart = 0;
  let rawEnd = 0;
  while (p < end) {
    const t = u32(b, end);
    switch (t >>> 3) {
      case 1: strBounds(b, end); ks = sStart; ke = sEnd; break;
      case 2: strBounds(b, end); vs = sStart; ve = sEnd; break;
      case 3: rawStart = bytesAt(b, end); rawEnd = p; break;
      default: skipType(b, end, t & 7, 5);
    }
  }
  const values = (h.list ??= []);
  if (ke === ks) return;
  let i: number;
  if (ascii(b, ks, ke)) {
    if (isPortcullisKey(b, ks, ke)) {
      const k = utf8Slice.call(b, ks, ke).toLowerCase();
      if (!(h.listForged ??= []).includes(k)) h.listForged.push(k);
    }
    i = readIndex(b, ks, ke, true);
  } else {
    // Full Unicode lower-casing, as the reference does ("\u212a" becomes an ASCII "k").
    const k = utf8Slice.call(b, ks, ke).toLowerCase();
    if (isPortcullisHeader(k) && !(h.listForged ??= []).includes(k)) h.listForged.push(k);
    i = readIndexText(k);
  }
  if (i === -1) return;
  const v = rawEnd > rawStart ? utf8Slice.call(b, rawStart, rawEnd) : ve > vs ? utf8Slice.call(b, vs, ve) : '';
  // Repeated header_map keys are joined with ",", as the plain map would carry them.
  values[i] = values[i] === undefined ? v : `${values[i]},${v}`;
}

function headerMap(b: Buffer, end: number, h: Http): void {
  // A later header_map replaces an earlier one.
  h.list = undefined;
  h.listForged = undefined;
  while (p < end) {
    const t = u32(b, end);
    if (t >>> 3 === 1) {
      const c = open(b, end);
      headerValue(b, c, h);
      close(c);
    } else skipType(b, end, t & 7, 4);
  }
  // No HeaderValue at all: factsFromCheckRequest treats it as absent; entries with empty keys still count.
}

function httpRequest(b: Buffer, end: number): Http {
  const h: Http = { method: '', path: '', host: '', body: '', rawStart: 0, rawEnd: 0, map: undefined, mapForged: undefined, list: undefined, listForged: undefined };
  while (p < end) {
    const t = u32(b, end);
    switch (t >>> 3) {
      case 2: h.method = str(b, end); break;
      case 3: headerMapEntry(b, end, h); break;
      case 4: h.path = str(b, end); break;
      case 5: h.host = str(b, end); break;
      case 11: h.body = str(b, end); break;
      case 12: h.rawStart = bytesAt(b, end); h.rawEnd = p; break;
      case 13: {
        const c = open(b, end);
        headerMap(b, c, h);
        close(c);
        break;
      }
      case 1: case 6: case 7: case 8: case 10: skipStr(b, end); break;
      case 9: skipLong(b, end); break;
      default: skipType(b, end, t & 7, 3);
    }
  }
  return h;
}

function request(b: Buffer, end: number): Http | undefined {
  let http: Http | undefined;
  while (p < end) {
    const t = u32(b, end);
    const f = t >>> 3;
    if (f === 2) {
      const c = open(b, end);
      http = httpRequest(b, c);
      close(c);
    } else if (f === 1) {
      const c = open(b, end);
      walk(b, c, TIMESTAMP, 3);
      close(c);
    } else skipType(b, end, t & 7, 2);
  }
  return http;
}

function attributes(b: Buffer, end: number): Attributes {
  const a: Attributes = { peer: undefined, http: undefined, badMetadata: false, badRouteMetadata: false };
  while (p < end) {
    const t = u32(b, end);
    switch (t >>> 3) {
      case 1: case 2: {
        const c = open(b, end);
        const addr = peer(b, c);
        close(c);
        if (t >>> 3 === 1) a.peer = addr;
        break;
      }
      case 4: {
        const c = open(b, end);
        a.http = request(b, c);
        close(c);
        break;
      }
      case 10: walkMapEntry(b, end, undefined, 1); break;
      case 11: case 13: {
        const c = open(b, end);
        const bad = walk(b, c, METADATA, 2);
        close(c);
        if (t >>> 3 === 11) a.badMetadata = bad;
        else a.badRouteMetadata = bad;
        break;
      }
      case 12: {
        const c = open(b, end);
        walk(b, c, TLS_SESSION, 2);
        close(c);
        break;
      }
      default: skipType(b, end, t & 7, 1);
    }
  }
  return a;
}

/**
 * Decodes one CheckRequest message (no gRPC frame). Throws MalformedCheckRequest for bytes protobufjs refuses.
 * facts.headers holds the headers decide() reads (HEADERS_READ, and `usernameHeader` when the policy names one);
 * `forged` lists every client-sent x-portcullis-* header. The message is b[start, end) (a gRPC frame's bytes
 * are read in place: Buffer.subarray costs ~0.1 µs).
 */
export function decodeCheckRequest(b: Buffer, usernameHeader?: string, start = 0, end = b.length): DecodedCheck {
  if (usernameHeader !== extraText) {
    extraText = usernameHeader;
    extra = usernameHeader === undefined ? undefined : Buffer.from(usernameHeader, 'latin1');
  }
  p = start;
  let attrs: Attributes | undefined;
  while (p < end) {
    const t = u32(b, end);
    if (t >>> 3 === 1) {
      const c = open(b, end);
      attrs = attributes(b, c);
      close(c);
    } else skipType(b, end, t & 7, 0);
  }
  if (attrs?.badMetadata || attrs?.badRouteMetadata) fail();
  const http = attrs?.http;
  let headers: Readonly<Record<string, string>> = NO_HEADERS;
  let forged: readonly string[] = NONE;
  if (http?.map !== undefined) {
    headers = headersObject(http.map);
    forged = http.mapForged ?? NONE;
  } else if (http?.list !== undefined) {
    headers = headersObject(http.list);
    forged = http.listForged ?? NONE;
  }
  const peerText = attrs?.peer;
  const facts: RequestFacts = {
    peer: peerText ? parseAddress(peerText) : undefined,
    xForwardedFor: headers['x-forwarded-for'],
    forwarded: headers['forwarded'],
    envoyExternalAddress: headers['x-envoy-external-address'],
    method: http?.method || headers[':method'] || '',
    path: http?.path || headers[':path'] || '',
    host: http?.host || headers[':authority'] || headers['host'] || '',
    requestId: headers['x-request-id'],
    userAgent: headers['user-agent'],
    headers,
    body: http === undefined ? undefined : http.body || (http.rawEnd > http.rawStart ? utf8Slice.call(b, http.rawStart, http.rawEnd) : undefined),
  };
  return { facts, forged };
}
