// Index-based scanners for IP text. Internal to src/net: callers pass (string, start, end) so that header
// elements can be parsed in place, without substring allocation, on the request hot path.
//
// Why hand-written instead of ipaddr.js: its parser is regex-based and allocates (too slow for every
// request), and it is deliberately lenient where we must be strict: it accepts octal/hex/short IPv4
// forms ("010.1.1.1" = 8.1.1.1, "0x7f.1"), the same inside IPv6 ("::ffff:010.1.1.1"), and maps the
// IPv4-compatible "::1.2.3.4" to ::ffff:1.2.3.4, which is a different address. The tests use ipaddr.js
// as an independent oracle for the well-formed cases.

const DOT = 46;
const COLON = 58;

/** Scratch for IPv6 groups; parsing is synchronous, so one module-level buffer is safe. */
const groups = new Uint16Array(8);

/** HTTP OWS plus the other ASCII whitespace String.prototype.trim removes. */
export function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

export function skipSpaceForward(s: string, i: number, end: number): number {
  while (i < end && isSpace(s.charCodeAt(i))) i++;
  return i;
}

export function skipSpaceBackward(s: string, start: number, end: number): number {
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  return end;
}

/**
 * Strict dotted quad in s[i, end): exactly four decimal octets 0-255, no leading zeros (ambiguous octal),
 * nothing else. Returns the unsigned 32-bit value, or -1. Unrolled per octet: the hot path of every request.
 */
export function parseV4In(s: string, i: number, end: number): number {
  let value = 0;
  for (let part = 0; part < 4; part++) {
    if (i >= end) return -1;
    const first = s.charCodeAt(i++) - 48;
    if (first < 0 || first > 9) return -1;
    let octet = first;
    // A leading "0" must be the whole octet; otherwise up to two more digits.
    if (first !== 0) {
      for (let d = 0; d < 2 && i < end; d++) {
        const c = s.charCodeAt(i) - 48;
        if (c < 0 || c > 9) break;
        octet = octet * 10 + c;
        i++;
      }
      if (octet > 255) return -1;
    }
    value = value * 256 + octet; // multiply, not shift: stays unsigned
    if (part < 3) {
      if (i >= end || s.charCodeAt(i) !== DOT) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

export const V6_INVALID = 0;
export const V6_VALID = 1;
/** Valid, and the input already is the RFC 5952 text, so it can be reused instead of formatted. */
export const V6_CANONICAL = 2;

/**
 * RFC 4291 text form in s[i, end): 1-4 hex digits per group, at most one "::", optional trailing dotted
 * quad (strict, as parseV4In). Zone ids ("%eth0") are rejected. Writes four big-endian words to out.
 */
export function parseV6In(s: string, i: number, end: number, out: Uint32Array): number {
  if (end - i < 2) return V6_INVALID;
  let n = 0;
  let gap = -1;
  let canonical = true;
  if (s.charCodeAt(i) === COLON) {
    if (s.charCodeAt(i + 1) !== COLON) return V6_INVALID;
    gap = 0;
    i += 2;
  }
  while (i < end) {
    const groupStart = i;
    let value = 0;
    for (; i < end; i++) {
      let c = s.charCodeAt(i);
      if (c >= 48 && c <= 57) c -= 48;
      else if (c >= 97 && c <= 102) c -= 87;
      else if (c >= 65 && c <= 70) {
        c -= 55;
        canonical = false;
      } else break;
      value = value * 16 + c;
    }
    const digits = i - groupStart;
    if (digits === 0 || digits > 4) return V6_INVALID;
    if (digits > 1 && s.charCodeAt(groupStart) === 48) canonical = false;
    if (i < end && s.charCodeAt(i) === DOT) {
      if (n > 6) return V6_INVALID;
      const v4 = parseV4In(s, groupStart, end);
      if (v4 < 0) return V6_INVALID;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      canonical = false;
      break;
    }
    if (n === 8) return V6_INVALID;
    groups[n++] = value;
    if (i === end) break;
    if (s.charCodeAt(i) !== COLON) return V6_INVALID;
    i++;
    if (i < end && s.charCodeAt(i) === COLON) {
      if (gap >= 0) return V6_INVALID;
      gap = n;
      i++;
    } else if (i === end) {
      return V6_INVALID; // a single trailing colon
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return V6_INVALID;
  const zeros = 8 - n;
  if (gap >= 0) {
    // Slide the groups after "::" to the end and zero the hole.
    for (let k = n - 1; k >= gap; k--) groups[k + zeros] = groups[k]!;
    for (let k = gap; k < gap + zeros; k++) groups[k] = 0;
  }
  out[0] = ((groups[0]! << 16) | groups[1]!) >>> 0;
  out[1] = ((groups[2]! << 16) | groups[3]!) >>> 0;
  out[2] = ((groups[4]! << 16) | groups[5]!) >>> 0;
  out[3] = ((groups[6]! << 16) | groups[7]!) >>> 0;
  // Canonical also needs "::" to stand for exactly the leftmost longest run of two or more zero groups.
  return canonical && longestZeroRun() === (gap < 0 ? -1 : gap * 16 + zeros) ? V6_CANONICAL : V6_VALID;
}

/** The leftmost longest run (>= 2) of zero groups in `groups`, as start * 16 + length, or -1. */
function longestZeroRun(): number {
  let best = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && groups[e] === 0) e++;
    if (e - k > bestLen) {
      best = k;
      bestLen = e - k;
    }
    k = e;
  }
  return best < 0 ? -1 : best * 16 + bestLen;
}

/** Decimal port 0-65535 in s[i, end), 1-5 digits. */
export function isPortIn(s: string, i: number, end: number): boolean {
  if (i >= end || end - i > 5) return false;
  let value = 0;
  for (; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    value = value * 10 + (c - 48);
  }
  return value <= 65535;
}

const OCTETS = Array.from({ length: 256 }, (_, i) => String(i));

/** Dotted quad from pre-built octet strings: no number-to-string conversion on the hot path. */
export function formatV4(value: number): string {
  return OCTETS[value >>> 24]! + '.' + OCTETS[(value >>> 16) & 255]! + '.' + OCTETS[(value >>> 8) & 255]! + '.' + OCTETS[value & 255]!;
}

/** RFC 5952: lower case, no leading zeros, the leftmost longest run (>= 2) of zero groups as "::". */
export function formatV6(w0: number, w1: number, w2: number, w3: number): string {
  groups[0] = w0 >>> 16;
  groups[1] = w0;
  groups[2] = w1 >>> 16;
  groups[3] = w1;
  groups[4] = w2 >>> 16;
  groups[5] = w2;
  groups[6] = w3 >>> 16;
  groups[7] = w3;
  const run = longestZeroRun();
  const runStart = run < 0 ? 8 : run >> 4;
  const runEnd = run < 0 ? 8 : runStart + (run & 15);
  let out = '';
  for (let k = 0; k < 8; k++) {
    if (k === runStart) {
      out += '::';
      k = runEnd - 1;
      continue;
    }
    if (k > 0 && k !== runEnd) out += ':';
    out += groups[k]!.toString(16);
  }
  return out;
}
