import {
  formatV4,
  formatV6,
  isPortIn,
  isSpace,
  parseV4In,
  parseV6In,
  skipSpaceBackward,
  skipSpaceForward,
  V6_CANONICAL,
  V6_INVALID,
} from './ip-text.ts';

export type Family = 4 | 6;

/**
 * A parsed IP address. IPv4-mapped IPv6 (::ffff:a.b.c.d) is normalised to IPv4. Immutable: the fields are
 * readonly in the type; the object is not frozen at run time because freezing costs more than the parse
 * on the hot path.
 */
export interface Address {
  readonly family: Family;
  /** IPv4: the 32-bit value in w0 (unsigned, 0..2^32-1), other words 0. IPv6: four 32-bit big-endian words w0..w3. */
  readonly w0: number;
  readonly w1: number;
  readonly w2: number;
  readonly w3: number;
  /** Canonical text: dotted quad, or RFC 5952 compressed lower-case IPv6. */
  readonly text: string;
}

export interface AddressRange {
  readonly family: Family;
  readonly start: Address;
  readonly end: Address;
  /** original entry text, for messages */
  readonly source: string;
}

const DQUOTE = 34;
const COLON = 58;
const LBRACKET = 91;
const RBRACKET = 93;

// Text cut out of a longer string is rebuilt, never sliced: V8 represents longer slices as views that keep
// the whole parent alive, and a retained client address must not pin an attacker-sized header in memory.
// Input that is exactly the address is reused as is.

/** Scratch words for IPv6 parsing (synchronous use only). */
const words = new Uint32Array(4);

// One object shape for every address keeps property access monomorphic on the hot path.
function make(family: Family, w0: number, w1: number, w2: number, w3: number, text: string): Address {
  return { family, w0, w1, w2, w3, text };
}

/** @internal Builds an address from four words, normalising ::ffff:0:0/96 to IPv4. */
export function addressFromWords(w0: number, w1: number, w2: number, w3: number): Address {
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return make(4, w3, 0, 0, 0, formatV4(w3));
  return make(6, w0 >>> 0, w1 >>> 0, w2 >>> 0, w3 >>> 0, formatV6(w0, w1, w2, w3));
}

/** IPv6 text exactly filling s[start, end); the input is reused as `text` when it already is canonical. */
function v6In(s: string, start: number, end: number): Address | undefined {
  const result = parseV6In(s, start, end, words);
  if (result === V6_INVALID) return undefined;
  const w0 = words[0]!;
  const w1 = words[1]!;
  const w2 = words[2]!;
  const w3 = words[3]!;
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return make(4, w3, 0, 0, 0, formatV4(w3));
  const reuse = result === V6_CANONICAL && start === 0 && end === s.length;
  return make(6, w0, w1, w2, w3, reuse ? s : formatV6(w0, w1, w2, w3));
}

/** @internal An IPv4 address from its unsigned value. */
export function addressFromV4(value: number): Address {
  return make(4, value >>> 0, 0, 0, 0, formatV4(value));
}

/** @internal A bare IP exactly filling s[start, end) (no trimming). */
export function addressIn(s: string, start: number, end: number): Address | undefined {
  const v4 = parseV4In(s, start, end);
  if (v4 >= 0) {
    // Strict parsing means the input already is canonical text.
    return make(4, v4, 0, 0, 0, start === 0 && end === s.length ? s : formatV4(v4));
  }
  return v6In(s, start, end);
}

/**
 * @internal A forwarding-header element in s[start, end): surrounding whitespace and one pair of double
 * quotes are stripped, then a bare IP, "v4:port", "[v6]" or "[v6]:port". A bare IPv6 with a port is
 * ambiguous ("2001:db8::1:80"), so unbracketed text with two or more colons is read as IPv6 only.
 */
export function hostPortIn(s: string, start: number, end: number): Address | undefined {
  start = skipSpaceForward(s, start, end);
  end = skipSpaceBackward(s, start, end);
  if (start === end) return undefined;
  const opensQuote = s.charCodeAt(start) === DQUOTE;
  if (opensQuote || s.charCodeAt(end - 1) === DQUOTE) {
    if (!opensQuote || end - start < 2 || s.charCodeAt(end - 1) !== DQUOTE) return undefined;
    start = skipSpaceForward(s, start + 1, end - 1);
    end = skipSpaceBackward(s, start, end - 1);
    if (start === end) return undefined;
  }
  if (s.charCodeAt(start) === LBRACKET) {
    const close = indexIn(s, RBRACKET, start + 1, end);
    if (close < 0) return undefined;
    if (close + 1 !== end && (s.charCodeAt(close + 1) !== COLON || !isPortIn(s, close + 2, end))) return undefined;
    // Brackets hold IPv6 text only; "[1.2.3.4]" is rejected.
    return v6In(s, start + 1, close);
  }
  const firstColon = indexIn(s, COLON, start, end);
  if (firstColon < 0 || indexIn(s, COLON, firstColon + 1, end) >= 0) return addressIn(s, start, end);
  if (!isPortIn(s, firstColon + 1, end)) return undefined;
  const v4 = parseV4In(s, start, firstColon);
  return v4 < 0 ? undefined : make(4, v4, 0, 0, 0, formatV4(v4));
}

/** indexOf bounded to [from, end), so scanning one header element never runs into the rest. */
function indexIn(s: string, code: number, from: number, end: number): number {
  for (let i = from; i < end; i++) if (s.charCodeAt(i) === code) return i;
  return -1;
}

/** Strict: a bare IP only; tolerates surrounding whitespace; an IPv6 zone id ("%eth0") gives undefined. */
export function parseAddress(input: string): Address | undefined {
  let start = 0;
  let end = input.length;
  if (end === 0) return undefined;
  if (isSpace(input.charCodeAt(0)) || isSpace(input.charCodeAt(end - 1))) {
    start = skipSpaceForward(input, 0, end);
    end = skipSpaceBackward(input, start, end);
  }
  return addressIn(input, start, end);
}

/**
 * Parses a forwarding-header element: bare IP, "ip:port", "[v6]:port", "[v6]", quoted ("\"[::1]:80\""),
 * whitespace. undefined if not an IP (e.g. "unknown", "_hidden", "").
 */
export function parseHostPort(input: string): Address | undefined {
  return hostPortIn(input, 0, input.length);
}

/** Family 4 sorts before 6, then numerically. */
export function compareAddress(a: Address, b: Address): number {
  if (a.family !== b.family) return a.family - b.family;
  if (a.w0 !== b.w0) return a.w0 < b.w0 ? -1 : 1;
  if (a.w1 !== b.w1) return a.w1 < b.w1 ? -1 : 1;
  if (a.w2 !== b.w2) return a.w2 < b.w2 ? -1 : 1;
  if (a.w3 !== b.w3) return a.w3 < b.w3 ? -1 : 1;
  return 0;
}

/** Host-bit mask for bits [offset, offset+32) of a prefix of length len: 1 where the bit is a host bit. */
function hostMask(len: number, offset: number): number {
  const netBits = Math.min(32, Math.max(0, len - offset));
  return netBits === 32 ? 0 : 0xffffffff >>> netBits;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

function parseCidr(entry: string, slash: number): AddressRange | { error: string } {
  const ipText = entry.slice(0, slash).trim();
  const lenText = entry.slice(slash + 1).trim();
  const base = parseAddress(ipText);
  if (!base) return { error: `${quote(entry)}: ${quote(ipText)} is not an IP address` };
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) {
    return { error: `${quote(entry)}: prefix length ${quote(lenText)} is not a valid prefix length` };
  }
  let len = Number(lenText);
  // "::ffff:10.0.0.0/104" parses to IPv4 10.0.0.0, so its prefix is counted from bit 96.
  const mapped = base.family === 4 && ipText.includes(':');
  if (mapped) {
    if (len < 96 || len > 128) {
      return {
        error: `${quote(entry)}: an IPv4-mapped prefix needs a length of 96-128 (IPv4 addresses are matched as IPv4)`,
      };
    }
    len -= 96;
  }
  const bits = base.family === 4 ? 32 : 128;
  if (len > bits) return { error: `${quote(entry)}: prefix length ${len} is out of range for IPv${base.family} (0-${bits})` };
  if (base.family === 4) {
    const mask = hostMask(len, 0);
    if ((base.w0 & mask) !== 0) {
      const net = addressFromV4((base.w0 & ~mask) >>> 0);
      return { error: `${quote(entry)}: host bits are set (the network is ${net.text}/${len})` };
    }
    return { family: 4, start: base, end: addressFromV4((base.w0 | mask) >>> 0), source: entry };
  }
  const m0 = hostMask(len, 0);
  const m1 = hostMask(len, 32);
  const m2 = hostMask(len, 64);
  const m3 = hostMask(len, 96);
  if ((base.w0 & m0) !== 0 || (base.w1 & m1) !== 0 || (base.w2 & m2) !== 0 || (base.w3 & m3) !== 0) {
    const net = addressFromWords(base.w0 & ~m0, base.w1 & ~m1, base.w2 & ~m2, base.w3 & ~m3);
    return { error: `${quote(entry)}: host bits are set (the network is ${net.text}/${len})` };
  }
  // Raw IPv6 words, not addressFromWords: the end of "::/80" is ::ffff:255.255.255.255, which must stay the
  // top of an IPv6 range rather than turn into the IPv4 address 255.255.255.255.
  const e0 = (base.w0 | m0) >>> 0;
  const e1 = (base.w1 | m1) >>> 0;
  const e2 = (base.w2 | m2) >>> 0;
  const e3 = (base.w3 | m3) >>> 0;
  const end = make(6, e0, e1, e2, e3, formatV6(e0, e1, e2, e3));
  return { family: 6, start: base, end, source: entry };
}

/**
 * Zone entry syntax: a single IP, a CIDR (host bits set is an error) or a range "a-b" (same family,
 * a <= b). IPv6 entries never cover IPv4 addresses: "::/0" is all of IPv6, use "0.0.0.0/0" for IPv4.
 * Returns the range or an error message naming what is wrong.
 */
export function parseRange(entry: string): AddressRange | { error: string } {
  const text = entry.trim();
  if (text === '') return { error: 'empty entry' };
  const slash = text.indexOf('/');
  const dash = text.indexOf('-');
  if (slash >= 0 && dash >= 0) return { error: `${quote(text)}: use either a CIDR or a range "a-b", not both` };
  if (slash >= 0) {
    if (text.indexOf('/', slash + 1) >= 0) return { error: `${quote(text)}: more than one "/"` };
    return parseCidr(text, slash);
  }
  if (dash >= 0) {
    if (text.indexOf('-', dash + 1) >= 0) return { error: `${quote(text)}: more than one "-"` };
    const lowText = text.slice(0, dash).trim();
    const highText = text.slice(dash + 1).trim();
    const low = parseAddress(lowText);
    if (!low) return { error: `${quote(text)}: range start ${quote(lowText)} is not an IP address` };
    const high = parseAddress(highText);
    if (!high) return { error: `${quote(text)}: range end ${quote(highText)} is not an IP address` };
    if (low.family !== high.family) return { error: `${quote(text)}: range mixes IPv4 and IPv6` };
    if (compareAddress(low, high) > 0) {
      return { error: `${quote(text)}: range start ${low.text} is after its end ${high.text}` };
    }
    return { family: low.family, start: low, end: high, source: text };
  }
  const single = parseAddress(text);
  if (!single) return { error: `${quote(text)}: not an IP address, CIDR or range` };
  return { family: single.family, start: single, end: single, source: text };
}
