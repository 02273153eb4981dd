// Feed-side IP/CIDR validation and canonical text. Feeds are untrusted text, so this
// is stricter than ipaddr.js alone: no zone ids, no octal/hex/short IPv4 forms.
import ipaddr from 'ipaddr.js';

export type Addr = ipaddr.IPv4 | ipaddr.IPv6;

export interface Prefix {
  addr: Addr; // network address (host bits cleared)
  bits: number;
  text: string; // canonical: "1.2.3.4", "1.2.3.0/24", "2001:db8::/32"
  hostBitsMasked: boolean;
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

/** Parse "ip" or "ip/bits"; a bare IP keeps bare-IP text but gets bits 32/128. */
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

  let addr: Addr;
  let dotted: RegExpExecArray | null = null;
  if (addrText.includes(':')) {
    if (addrText.includes('%')) return fail(`IPv6 zone id not allowed in ${quote(token)}`);
    if (!ipaddr.IPv6.isValid(addrText)) return fail(`invalid IPv6 address ${quote(addrText)}`);
    addr = ipaddr.IPv6.parse(addrText);
  } else if ((dotted = DOTTED.exec(addrText)) !== null) {
    const octets: number[] = [];
    for (let i = 1; i <= 4; i++) {
      const part = dotted[i] as string;
      // inet_aton would read 010 as octal; refuse rather than guess.
      if (part.length > 1 && part.charCodeAt(0) === 48) return fail(`IPv4 octet with leading zero in ${quote(addrText)}`);
      const n = Number(part);
      if (n > 255) return fail(`IPv4 octet out of range in ${quote(addrText)}`);
      octets.push(n);
    }
    addr = new ipaddr.IPv4(octets);
  } else if (/^[\d.]+-[\d.]+$/.test(addrText)) {
    return fail(`address ranges are not supported, use CIDRs: ${quote(token)}`);
  } else {
    return fail(`not an IP address or CIDR: ${quote(token)}`);
  }

  // IPv4-mapped IPv6 is the same host as the IPv4 address the request path sees.
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && (bits === undefined || bits >= 96)) {
    addr = (addr as ipaddr.IPv6).toIPv4Address();
    if (bits !== undefined) bits -= 96;
  }

  const max = addr.kind() === 'ipv4' ? 32 : 128;
  if (bits !== undefined && bits > max) return fail(`prefix length /${bits} too long for ${addr.kind()} in ${quote(token)}`);
  if (bits === undefined) {
    // Dotted-quad text without leading zeros is already canonical: skip re-serialising.
    const text = dotted !== null && addr.kind() === 'ipv4' ? addrText : addr.toString();
    return { ok: true, prefix: { addr, bits: max, text, hostBitsMasked: false } };
  }
  const net = maskAddr(addr, bits);
  return { ok: true, prefix: { addr: net, bits, text: `${net.toString()}/${bits}`, hostBitsMasked: net !== addr } };
}

/** Clear host bits; returns the same object when nothing changed. */
function maskAddr(addr: Addr, bits: number): Addr {
  const bytes = addr.toByteArray();
  let changed = false;
  for (let i = 0; i < bytes.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    const b = bytes[i] as number;
    if ((b & mask) !== b) {
      bytes[i] = b & mask;
      changed = true;
    }
  }
  return changed ? ipaddr.fromByteArray(bytes) : addr;
}

/** Two prefixes overlap iff they agree on the shorter prefix's bits. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.addr.kind() !== b.addr.kind()) return false;
  return a.addr.match(b.addr, Math.min(a.bits, b.bits));
}
