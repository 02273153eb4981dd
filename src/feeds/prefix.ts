// Feed-side IP/CIDR validation and canonical text, on top of src/net's strict parser (no zone ids, no
// octal/hex/short IPv4). Unlike zone entries, a feed CIDR with host bits set is masked, not refused:
// feeds are third-party text and one sloppy row must not cost the whole list.
import { addressFromV4, parseAddress, type Address, type AddressRange } from '../net/address.ts';
import { formatV6 } from '../net/ip-text.ts';

export interface Prefix {
  /** The covered addresses; `source` is the canonical text. */
  readonly range: AddressRange;
  readonly bits: number;
  /** Canonical: "1.2.3.4", "1.2.3.0/24", "2001:db8::/32". */
  readonly text: string;
  readonly hostBitsMasked: boolean;
}

export type PrefixResult = { ok: true; prefix: Prefix } | { ok: false; reason: string };

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const DIGITS = /^\d{1,3}$/;

/** Reasons quote at most this much of the offending text (status conditions stay small). */
export function quote(s: string): string {
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s);
}

function fail(reason: string): PrefixResult {
  return { ok: false, reason };
}

/** Why text that src/net refused is not an address: the parser only says no, operators need to know why. */
function whyNotAddress(addrText: string, token: string): string {
  if (addrText.includes(':')) {
    return addrText.includes('%') ? `IPv6 zone id not allowed in ${quote(token)}` : `invalid IPv6 address ${quote(addrText)}`;
  }
  const dotted = DOTTED.exec(addrText);
  if (dotted) {
    for (let i = 1; i <= 4; i++) {
      const part = dotted[i]!;
      // inet_aton would read 010 as octal; refuse rather than guess.
      if (part.length > 1 && part.charCodeAt(0) === 48) return `IPv4 octet with leading zero in ${quote(addrText)}`;
    }
    return `IPv4 octet out of range in ${quote(addrText)}`;
  }
  if (/^[\d.]+-[\d.]+$/.test(addrText)) return `address ranges are not supported, use CIDRs: ${quote(token)}`;
  return `not an IP address or CIDR: ${quote(token)}`;
}

/**
 * An IPv6 bound. addressFromWords() would turn ::ffff:x:y into IPv4, which is right for a client address
 * but wrong for the end of, say, ::/80, whose last address happens to be ::ffff:ffff:ffff.
 */
function v6(w0: number, w1: number, w2: number, w3: number): Address {
  return { family: 6, w0: w0 >>> 0, w1: w1 >>> 0, w2: w2 >>> 0, w3: w3 >>> 0, text: formatV6(w0, w1, w2, w3) };
}

/** 1 where a bit of word `offset..offset+31` is a host bit of a /len prefix. */
function hostMask(len: number, offset: number): number {
  const netBits = Math.min(32, Math.max(0, len - offset));
  return netBits === 32 ? 0 : 0xffffffff >>> netBits;
}

/** Parse "ip" or "ip/bits"; a bare IP keeps bare-IP text. IPv4-mapped IPv6 (/96 or longer) becomes IPv4. */
export function parsePrefix(token: string, allowCidr = true): PrefixResult {
  const slash = token.indexOf('/');
  const addrText = slash < 0 ? token : token.slice(0, slash);
  let bits: number | undefined;
  if (slash >= 0) {
    if (!allowCidr) return fail(`expected a single IP address, got CIDR ${quote(token)}`);
    const bitsText = token.slice(slash + 1);
    if (!DIGITS.test(bitsText)) return fail(`invalid prefix length in ${quote(token)}`);
    bits = Number(bitsText);
  }
  const addr = addrText.length > 0 && addrText.trim() === addrText ? parseAddress(addrText) : undefined;
  if (!addr) return fail(whyNotAddress(addrText, token));
  if (bits === undefined) {
    const range: AddressRange = { family: addr.family, start: addr, end: addr, source: addr.text };
    return { ok: true, prefix: { range, bits: addr.family === 4 ? 32 : 128, text: addr.text, hostBitsMasked: false } };
  }
  if (addr.family === 4 && addrText.includes(':')) {
    // The request path sees ::ffff:a.b.c.d as IPv4, so the prefix is counted from bit 96.
    if (bits < 96) return fail(`an IPv4-mapped prefix needs a length of 96-128 in ${quote(token)}`);
    bits -= 96;
  }
  const max = addr.family === 4 ? 32 : 128;
  if (bits > max) return fail(`prefix length /${bits} too long for ipv${addr.family} in ${quote(token)}`);
  let start: Address;
  let end: Address;
  let masked: boolean;
  if (addr.family === 4) {
    const m = hostMask(bits, 0);
    masked = (addr.w0 & m) !== 0;
    start = masked ? addressFromV4((addr.w0 & ~m) >>> 0) : addr;
    end = addressFromV4((addr.w0 | m) >>> 0);
  } else {
    const m0 = hostMask(bits, 0);
    const m1 = hostMask(bits, 32);
    const m2 = hostMask(bits, 64);
    const m3 = hostMask(bits, 96);
    masked = (addr.w0 & m0) !== 0 || (addr.w1 & m1) !== 0 || (addr.w2 & m2) !== 0 || (addr.w3 & m3) !== 0;
    start = masked ? v6(addr.w0 & ~m0, addr.w1 & ~m1, addr.w2 & ~m2, addr.w3 & ~m3) : addr;
    end = v6(addr.w0 | m0, addr.w1 | m1, addr.w2 | m2, addr.w3 | m3);
  }
  const text = `${start.text}/${bits}`;
  return { ok: true, prefix: { range: { family: addr.family, start, end, source: text }, bits, text, hostBitsMasked: masked } };
}
