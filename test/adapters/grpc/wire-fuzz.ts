// Fuzzed CheckRequest bytes for the decoder's differential test. Messages are built field by field from the
// protos' own reflection (so every known field of every nested type is exercised, and a proto change is
// picked up), with unknown fields, repeated singular fields, unicode and huge values mixed in.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const INCLUDE = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d));

let root: protobuf.Root | undefined;
export function reflection(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin, target) => {
    if (target in protobuf.common) return target;
    return INCLUDE.map((d) => join(d, target)).find(existsSync) ?? target;
  };
  r.loadSync('envoy/service/auth/v3/external_auth.proto', { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

export type Rand = () => number;

/** mulberry32: seeded, so a failure names a reproducible case. */
export function seeded(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

function varint(n: bigint): number[] {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

const tag = (field: number, wire: number): number[] => varint(BigInt((field << 3) | wire) & 0xffffffffn);
const lenDelimited = (field: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([...tag(field, 2), ...varint(BigInt(payload.length))]), payload]);

const HEADER_NAMES = [
  'x-forwarded-for', 'forwarded', 'x-envoy-external-address', ':method', ':path', ':authority', 'host', 'x-request-id',
  'user-agent', 'content-type', 'cookie', 'x-portcullis-client-ip', 'x-portcullis-threat-level', 'X-Portcullis-Decision-Id',
  'x-portcullis-', 'x-portcullisx', 'x-portcullis-é', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', 'X-Forwarded-For',
  'Content-Type', 'x-envoy-auth-partial-body', '0', '123', 'x-key', 'X-KEY', 'X-\u212Aey',
];
const ADDRESSES = ['10.0.0.5', '192.0.2.44', '2001:db8::1', '::ffff:198.51.100.7', ' 10.1.2.3 ', 'not-an-ip', '', '999.1.1.1', '[::1]', 'fe80::1%eth0'];
const METHODS = ['GET', 'POST', 'post', 'PUT', '', 'PATCH', 'ÜBER'];
const PATHS = ['/login', '/login?next=/x', '/app/dashboard?tab=activity', '', '/', '/oauth/token', '/%2e%2e/login'];
const XFF = ['198.51.100.23, 10.0.7.7', '192.0.2.44', 'unknown, 10.1.2.3', '', '2001:db8:bad::7, 2001:db8:ffff::2', ' , ,', '1.2.3.4,5.6.7.8,9.9.9.9'];
const BODIES = ['username=alice%40example.com&password=x', '{"username":"bob","password":"y"}', '', '{"user":"ü"}', 'a=b'];

export interface FuzzOptions {
  /** Chance a field is present at all. */
  readonly presence: number;
  /** Chance of an unknown field between known ones. */
  readonly unknown: number;
  /** Chance a singular field is sent twice (protobufjs keeps the last). */
  readonly duplicate: number;
  /** Chance a string is huge (tens of kB). */
  readonly huge: number;
}

export const DEFAULT_FUZZ: FuzzOptions = { presence: 0.7, unknown: 0.08, duplicate: 0.1, huge: 0.005 };

export class CheckRequestFuzzer {
  readonly #checkRequest: protobuf.Type;

  constructor(private readonly rand: Rand, private readonly o: FuzzOptions = DEFAULT_FUZZ) {
    this.#checkRequest = reflection().lookupType('envoy.service.auth.v3.CheckRequest');
  }

  /** One CheckRequest, as bytes a protobuf encoder could have written (plus unknown fields). */
  next(): Buffer {
    return this.#message(this.#checkRequest, 0);
  }

  #string(context: string): string {
    const r = this.rand;
    if (r() < this.o.huge) return pick(r, ['a', 'é', '𝄞', ', 10.0.0.1']).repeat(5000 + Math.floor(r() * 30000));
    switch (context) {
      case 'envoy.config.core.v3.SocketAddress.address': return pick(r, ADDRESSES);
      case 'envoy.service.auth.v3.AttributeContext.HttpRequest.method': return pick(r, METHODS);
      case 'envoy.service.auth.v3.AttributeContext.HttpRequest.path': return pick(r, PATHS);
      case 'envoy.service.auth.v3.AttributeContext.HttpRequest.body': return pick(r, BODIES);
      case 'envoy.config.core.v3.HeaderValue.key':
      case 'header-key': return r() < 0.85 ? pick(r, HEADER_NAMES) : this.#text();
      case 'header-value': return r() < 0.3 ? pick(r, [...XFF, ...ADDRESSES, ...METHODS, ...PATHS]) : this.#text();
      default: return this.#text();
    }
  }

  #text(): string {
    const r = this.rand;
    const n = Math.floor(r() * 24);
    let s = '';
    for (let i = 0; i < n; i++) {
      const k = r();
      if (k < 0.7) s += String.fromCharCode(32 + Math.floor(r() * 95));
      else if (k < 0.8) s += pick(r, ['é', 'ß', '中', '\u0000', '\u007f', '\n', ',']);
      else if (k < 0.9) s += pick(r, ['😀', '𝄞']);
      else s += String.fromCharCode(0xd800 + Math.floor(r() * 0x800)); // lone surrogates: encoded as U+FFFD
    }
    return s;
  }

  #bytes(context: string): Buffer {
    const r = this.rand;
    if (r() < 0.5) return Buffer.from(this.#string(context), 'utf8');
    const b = Buffer.alloc(Math.floor(r() * 16));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
    return b; // invalid UTF-8 included
  }

  #scalar(type: string, field: number, context: string): Buffer {
    const r = this.rand;
    switch (type) {
      case 'string': return lenDelimited(field, Buffer.from(this.#string(context), 'utf8'));
      case 'bytes': return lenDelimited(field, this.#bytes(context));
      case 'double': {
        const b = Buffer.alloc(8);
        b.writeDoubleLE((r() - 0.5) * 1e6);
        return Buffer.concat([Buffer.from(tag(field, 1)), b]);
      }
      case 'float': {
        const b = Buffer.alloc(4);
        b.writeFloatLE(r());
        return Buffer.concat([Buffer.from(tag(field, 5)), b]);
      }
      case 'int64': case 'uint64': case 'sint64':
        return Buffer.from([...tag(field, 0), ...varint(r() < 0.2 ? -1n : BigInt(Math.floor(r() * 2 ** 40)))]);
      default: // int32, uint32, bool, enum
        return Buffer.from([...tag(field, 0), ...varint(r() < 0.1 ? -5n : BigInt(Math.floor(r() * (r() < 0.5 ? 3 : 70000))))]);
    }
  }

  #unknown(): Buffer {
    const r = this.rand;
    const field = 14 + Math.floor(r() * (r() < 0.9 ? 100 : 2 ** 20));
    switch (Math.floor(r() * 5)) {
      case 0: return Buffer.from([...tag(field, 0), ...varint(BigInt(Math.floor(r() * 2 ** 50)))]);
      case 1: return Buffer.concat([Buffer.from(tag(field, 1)), Buffer.alloc(8, 7)]);
      case 2: return lenDelimited(field, Buffer.from(this.#text(), 'utf8'));
      case 3: return Buffer.concat([Buffer.from(tag(field, 5)), Buffer.alloc(4, 9)]);
      default: // a group with a varint inside
        return Buffer.from([...tag(field, 3), ...tag(1, 0), 5, ...tag(field, 4)]);
    }
  }

  #field(f: protobuf.Field, depth: number): Buffer {
    const context = `${f.parent!.fullName.slice(1)}.${f.name}`;
    if (f.map) {
      const entry: Buffer[] = [];
      const header = context.endsWith('HttpRequest.headers');
      if (this.rand() < 0.95) entry.push(lenDelimited(1, Buffer.from(this.#string(header ? 'header-key' : 'map-key'), 'utf8')));
      if (this.rand() < 0.95) {
        if (f.resolvedType instanceof protobuf.Type) entry.push(lenDelimited(2, this.#message(f.resolvedType, depth + 1)));
        else entry.push(lenDelimited(2, Buffer.from(this.#string(header ? 'header-value' : 'map-value'), 'utf8')));
      }
      if (this.rand() < 0.3) entry.reverse();
      return lenDelimited(f.id, Buffer.concat(entry));
    }
    if (f.resolvedType instanceof protobuf.Type) return lenDelimited(f.id, this.#message(f.resolvedType, depth + 1));
    if (f.resolvedType instanceof protobuf.Enum) return this.#scalar('enum', f.id, context);
    if (context === 'envoy.config.core.v3.HeaderValue.value' || context === 'envoy.config.core.v3.HeaderValue.raw_value') {
      const v = Buffer.from(this.#string('header-value'), 'utf8');
      return f.type === 'bytes' && this.rand() < 0.3 ? lenDelimited(f.id, Buffer.alloc(0)) : lenDelimited(f.id, v);
    }
    return this.#scalar(f.type, f.id, context);
  }

  #message(type: protobuf.Type, depth: number): Buffer {
    const r = this.rand;
    const parts: Buffer[] = [];
    if (depth > 7) return Buffer.alloc(0); // Struct / Value recurse; keep messages finite
    const fields = [...type.fieldsArray].sort(() => r() - 0.5);
    for (const f of fields) {
      // The fields the decision reads are present more often.
      const hot = /HttpRequest\.(headers|header_map|method|path|host)|AttributeContext\.(source|request)|CheckRequest\.attributes|Peer\.address|Address\.socket_address|SocketAddress\.address|Request\.http|HeaderMap\.headers|HeaderValue\./.test(`${type.fullName}.${f.name}`);
      if (r() > (hot ? 0.9 : this.o.presence * 0.5)) continue;
      const count = f.repeated || f.map ? Math.floor(r() * 5) : r() < this.o.duplicate ? 2 : 1;
      for (let i = 0; i < count; i++) {
        if (r() < this.o.unknown) parts.push(this.#unknown());
        parts.push(this.#field(f, depth));
      }
    }
    if (r() < this.o.unknown) parts.push(this.#unknown());
    return Buffer.concat(parts);
  }
}

/** Damages valid bytes the ways a broken or hostile client could: cut, flipped, spliced, or plain noise. */
export function mutate(rand: Rand, b: Buffer): Buffer {
  const at = (n: number): number => Math.floor(rand() * (n + 1));
  switch (Math.floor(rand() * 7)) {
    case 0: return b.subarray(0, at(b.length)); // truncated
    case 1: { // bit flips
      const c = Buffer.from(b);
      for (let i = 0, n = 1 + at(3); i < n && c.length > 0; i++) c[at(c.length - 1)]! ^= 1 << at(7);
      return c;
    }
    case 2: { // one random byte replaced
      const c = Buffer.from(b);
      if (c.length > 0) c[at(c.length - 1)] = at(255);
      return c;
    }
    case 3: { // random bytes inserted
      const i = at(b.length);
      const noise = Buffer.from(Array.from({ length: 1 + at(6) }, () => at(255)));
      return Buffer.concat([b.subarray(0, i), noise, b.subarray(i)]);
    }
    case 4: { // a range deleted
      const i = at(b.length);
      return Buffer.concat([b.subarray(0, i), b.subarray(Math.min(b.length, i + 1 + at(8)))]);
    }
    case 5: // the length of a nested message made larger (lengths sit right after 0x0a / 0x12 / 0x1a tags)
    {
      const c = Buffer.from(b);
      const i = c.indexOf(pick(rand, [0x0a, 0x12, 0x1a, 0x22, 0x6a]), at(c.length));
      if (i >= 0 && i + 1 < c.length) c[i + 1] = (c[i + 1]! + 1 + at(3)) & 0xff;
      return c;
    }
    default: // noise
      return Buffer.from(Array.from({ length: at(64) }, () => at(255)));
  }
}
