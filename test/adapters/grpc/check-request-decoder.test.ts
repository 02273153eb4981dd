import { describe, expect, it } from 'vitest';
import { loadEnvoyProtos, serviceDefinition } from '../../../src/adapters/grpc/protos.ts';
import { factsFromCheckRequest, forgedFromCheckRequest } from '../../../src/adapters/grpc/check-request.ts';
import { forgedPortcullisHeaders, isPortcullisHeader } from '../../../src/adapters/grpc/portcullis-headers.ts';
import { decodeCheckRequest, MalformedCheckRequest } from '../../../src/adapters/grpc/wire/check-request-decoder.ts';
import { HEADERS_READ } from '../../../src/decide/decision.ts';
import type { CheckRequest__Output } from '../../../src/gen/envoy/service/auth/v3/CheckRequest.ts';
import { envoyCheckRequest } from '../../helpers/envoy-request.ts';
import { CheckRequestFuzzer, mutate, seeded } from './wire-fuzz.ts';

const check = serviceDefinition(loadEnvoyProtos(), 'envoy.service.auth.v3.Authorization')['Check']!;
const serialize = (req: object): Buffer => check.requestSerialize(req);

/**
 * The reference: proto-loader deserializes, factsFromCheckRequest reads the object. Its headers are cut to the
 * ones the decoder keeps (HEADERS_READ and the username header); `forged` comes from all of them.
 */
function reference(bytes: Buffer, usernameHeader?: string) {
  let req: CheckRequest__Output;
  try {
    req = check.requestDeserialize(bytes) as CheckRequest__Output;
  } catch {
    return 'malformed' as const;
  }
  const all = factsFromCheckRequest(req);
  const forged = forgedPortcullisHeaders(all.headers);
  if (!all.headers) return { facts: all, forged };
  const kept: Record<string, string> = {};
  for (const k of Object.keys(all.headers)) {
    if (HEADERS_READ.includes(k) || k === usernameHeader) Object.defineProperty(kept, k, { value: all.headers[k], enumerable: true, configurable: true, writable: true });
  }
  return { facts: { ...all, headers: kept }, forged };
}

function decoded(bytes: Buffer, usernameHeader?: string) {
  try {
    return decodeCheckRequest(bytes, usernameHeader);
  } catch (err) {
    if (err instanceof MalformedCheckRequest) return 'malformed' as const;
    throw err; // anything else is a decoder bug
  }
}

describe('byte-level CheckRequest decoder vs proto-loader + factsFromCheckRequest', () => {
  it('reads a request as Envoy sends it, both header encodings', () => {
    const plain = serialize(envoyCheckRequest({ peer: '10.0.1.5', method: 'POST', path: '/login', body: 'username=a', headers: { 'x-forwarded-for': '192.0.2.44', 'x-request-id': 'r-1' } }));
    const facts = decodeCheckRequest(plain).facts;
    expect(facts).toMatchObject({ peer: { text: '10.0.1.5' }, method: 'POST', path: '/login', xForwardedFor: '192.0.2.44', requestId: 'r-1', body: 'username=a' });
    expect(decodeCheckRequest(plain)).toEqual(reference(plain));

    const raw = serialize({
      attributes: {
        source: { address: { socketAddress: { address: '10.0.1.5', portValue: 5555 } } },
        request: { http: { method: 'GET', path: '/', headerMap: { headers: [
          { key: 'X-Forwarded-For', rawValue: Buffer.from('192.0.2.1') },
          { key: 'x-forwarded-for', rawValue: Buffer.from('10.0.0.9') },
          { key: 'Host', value: 'example.com' },
        ] } } },
      },
    });
    expect(decodeCheckRequest(raw).facts).toMatchObject({ xForwardedFor: '192.0.2.1,10.0.0.9', host: 'example.com' });
    expect(decodeCheckRequest(raw)).toEqual(reference(raw));
  });

  it('turns only the headers decide() reads into strings, and the username header when the policy names one', () => {
    const bytes = serialize(envoyCheckRequest({ peer: '10.0.1.5', method: 'POST', path: '/login', headers: { 'x-forwarded-for': '192.0.2.44', 'content-type': 'application/json', cookie: 'sid=secret', 'x-user': 'alice', 'x-portcullis-client-ip': '1.2.3.4' } }));
    const plain = decodeCheckRequest(bytes).facts.headers!;
    expect(plain).toMatchObject({ 'x-forwarded-for': '192.0.2.44', 'content-type': 'application/json' });
    expect(Object.keys(plain).filter((k) => !HEADERS_READ.includes(k))).toEqual([]);
    expect(plain['cookie']).toBeUndefined();
    expect(decodeCheckRequest(bytes, 'x-user').facts.headers).toEqual({ ...plain, 'x-user': 'alice' });
    expect(decodeCheckRequest(bytes).forged).toEqual(['x-portcullis-client-ip']);
    const list = serialize({
      attributes: { source: { address: { socketAddress: { address: '10.0.1.5' } } }, request: { http: { headerMap: { headers: [
        { key: 'X-User', rawValue: Buffer.from('bob') }, { key: 'Cookie', rawValue: Buffer.from('sid=1') }, { key: 'x-user', value: 'carol' },
        // U+212A KELVIN SIGN lower-cases to an ASCII "k", as the reference's toLowerCase() does.
        { key: 'X-\u212Aey', rawValue: Buffer.from('dave') },
      ] } } } },
    });
    expect(decodeCheckRequest(list, 'x-user').facts.headers).toEqual({ 'x-user': 'bob,carol' });
    expect(decodeCheckRequest(list, 'x-key').facts.headers).toEqual({ 'x-key': 'dave' });
    expect(decodeCheckRequest(list, 'x-key')).toEqual(reference(list, 'x-key'));
  });

  it('lists client-sent x-portcullis-* headers from the headers map and from header_map (issue 11 item 5)', () => {
    const map = serialize(envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-portcullis-client-ip': '1.2.3.4', 'x-portcullis-threat-level': 'NONE', 'x-other': '1' } }));
    expect(decodeCheckRequest(map).forged).toEqual(['x-portcullis-client-ip', 'x-portcullis-threat-level']);
    const list = serialize({
      attributes: {
        source: { address: { socketAddress: { address: '10.0.1.5' } } },
        request: { http: { headerMap: { headers: [
          { key: 'X-Portcullis-Client-Ip', rawValue: Buffer.from('1.2.3.4') },
          { key: 'x-portcullis-client-ip', rawValue: Buffer.from('5.6.7.8') },
          { key: 'x-portcullis-decision-id', value: 'forged' },
          { key: 'x-request-id', value: 'r' },
        ] } } },
      },
    });
    expect(decodeCheckRequest(list).forged).toEqual(['x-portcullis-client-ip', 'x-portcullis-decision-id']);
    // The reference path agrees for both encodings (it only looked at the map before).
    expect(forgedFromCheckRequest(check.requestDeserialize(list) as CheckRequest__Output)).toEqual(['x-portcullis-client-ip', 'x-portcullis-decision-id']);
    expect(isPortcullisHeader('x-portcullis-')).toBe(false);
    expect(isPortcullisHeader('X-PORTCULLIS-A')).toBe(true);
    expect(isPortcullisHeader('x-portcullis_a')).toBe(false);
    expect(isPortcullisHeader('x-portcullisMa')).toBe(false);
  });

  it('gives equal facts for thousands of fuzzed requests (every field of every nested type, unknown fields, unicode, huge values)', () => {
    const rand = seeded(20261215);
    const fuzz = new CheckRequestFuzzer(rand);
    let accepted = 0;
    let withHeaderMap = 0;
    let withMap = 0;
    // Usernames from no header, an ordinary one, a forged-looking one, and one an object prototype also names.
    const usernameHeaders = [undefined, 'x-key', 'cookie', 'x-portcullis-client-ip', 'constructor'];
    for (let i = 0; i < 4000; i++) {
      const bytes = fuzz.next();
      const header = usernameHeaders[i % usernameHeaders.length];
      const want = reference(bytes, header);
      const got = decoded(bytes, header);
      // In place inside a larger buffer (the gRPC frame the node:http2 transport passes), junk around it.
      if (i % 4 === 0) {
        const framed = Buffer.concat([Buffer.from([0, 1, 2, 3, 4]), bytes, Buffer.from([0x0a, 0xff, 0x7f])]);
        let inPlace: ReturnType<typeof decoded>;
        try {
          inPlace = decodeCheckRequest(framed, header, 5, 5 + bytes.length);
        } catch (err) {
          if (!(err instanceof MalformedCheckRequest)) throw err;
          inPlace = 'malformed';
        }
        expect(inPlace, `case ${i} in place`).toEqual(got);
      }
      expect(got, `case ${i}: ${bytes.toString('base64').slice(0, 2000)}`).toEqual(want);
      if (want !== 'malformed') {
        accepted++;
        if (want.facts.headers && Object.keys(want.facts.headers).length > 0) {
          if (bytes.includes(Buffer.from([0x6a]))) withHeaderMap++;
          else withMap++;
        }
      }
    }
    // The fuzzer must mostly produce requests protobufjs accepts, with headers in either encoding.
    expect(accepted).toBeGreaterThan(3000);
    expect(withMap + withHeaderMap).toBeGreaterThan(1000);
  }, 120_000);

  it('refuses exactly the damaged bytes proto-loader refuses, and reads the rest alike (truncated, flipped, spliced, noise)', () => {
    const rand = seeded(7);
    const fuzz = new CheckRequestFuzzer(rand, { presence: 0.6, unknown: 0.05, duplicate: 0.05, huge: 0 });
    let malformed = 0;
    for (let i = 0; i < 6000; i++) {
      const bytes = mutate(rand, fuzz.next());
      const want = reference(bytes);
      if (want === 'malformed') malformed++;
      expect(decoded(bytes), `case ${i}: ${bytes.toString('base64')}`).toEqual(want);
    }
    expect(malformed).toBeGreaterThan(1000);
    expect(malformed).toBeLessThan(5500);
  }, 120_000);

  it('follows protobufjs on the edge cases it handles its own way', () => {
    const cases: Array<[string, number[]]> = [
      ['empty message', []],
      ['attributes given twice: the last replaces the first', [0x0a, 0x0e, 0x0a, 0x0c, 0x0a, 0x0a, 0x0a, 0x08, 0x12, 0x06, ...Buffer.from('1.2.3.4').subarray(0, 6), 0x0a, 0x00]],
      ['a string longer than its message is cut at the message end', [0x0a, 0x0b, 0x0a, 0x09, 0x0a, 0x07, 0x0a, 0x05, 0x12, 0x09, ...Buffer.from('1.2.3')]],
      ['a known field with the wrong wire type is read by its declared type', [0x08, 0x00]],
      ['wire type 4 at message level', [0x0c]],
      ['wire types 6 and 7', [0x0e, 0x00]],
      ['a 10-byte tag', [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]],
      ['a metadata entry without its value', [0x0a, 0x07, 0x5a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0x6b]],
      ['a metadata entry with an empty value', [0x0a, 0x09, 0x5a, 0x07, 0x0a, 0x05, 0x0a, 0x01, 0x6b, 0x12, 0x00]],
      ['nesting 101 deep', nestedStruct(60)],
      ['nesting 99 deep', nestedStruct(47)],
    ];
    for (const [name, bytes] of cases) expect(decoded(Buffer.from(bytes)), name).toEqual(reference(Buffer.from(bytes)));
  });
});

/** attributes.metadata_context.filter_metadata["k"] = Struct{ fields["k"] = Value{ struct_value: ... } } n times. */
function nestedStruct(n: number): number[] {
  let inner = Buffer.alloc(0); // innermost Struct
  for (let i = 0; i < n; i++) {
    const value = Buffer.concat([Buffer.from([0x2a, ...len(inner.length)]), inner]); // Value.struct_value (5)
    const entry = Buffer.concat([Buffer.from([0x0a, 0x01, 0x6b, 0x12, ...len(value.length)]), value]);
    inner = Buffer.concat([Buffer.from([0x0a, ...len(entry.length)]), entry]); // Struct.fields entry
  }
  const mdEntry = Buffer.concat([Buffer.from([0x0a, 0x01, 0x6b, 0x12, ...len(inner.length)]), inner]);
  const metadata = Buffer.concat([Buffer.from([0x0a, ...len(mdEntry.length)]), mdEntry]);
  const attrs = Buffer.concat([Buffer.from([0x5a, ...len(metadata.length)]), metadata]);
  return [...Buffer.concat([Buffer.from([0x0a, ...len(attrs.length)]), attrs])];
}

function len(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
