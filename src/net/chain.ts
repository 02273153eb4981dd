// Client-IP resolution from the L4 peer plus X-Forwarded-For (or RFC 7239 Forwarded via forwardedToXff).
//
// Trust model: only text appended by trusted proxies means anything. An attacker controls the peer address
// only if the peer is untrusted (then it IS the attacker), and otherwise controls just the part of the
// header left of what the first trusted proxy appended. Walking right to left and stopping at the first
// hop we cannot vouch for therefore never reads attacker text as a trusted claim:
//   - peer untrusted                  -> client = peer, header ignored               'peer-untrusted'
//   - peer trusted, no entries        -> client = peer                               'no-forwarded-header'
//   - first untrusted entry           -> client = that entry                         'first-untrusted'
//   - an entry that is not an IP      -> client = the hop just right of it, i.e. the last trusted hop we
//     ("unknown", "_hidden", junk)       reached (the peer when it is the rightmost entry). The proxy at
//                                        that hop could not name its client, and nothing beyond it is
//                                        vouched for, so we attribute the request to it. An attacker cannot
//                                        reach this case: the first trusted proxy appends the attacker's
//                                        real, untrusted address right of any junk it sent, and the walk
//                                        stops there first.                          'invalid-entry'
//   - every address trusted           -> client = the leftmost                       'all-trusted-leftmost'
//   - maxHops addresses examined (the peer counts) and more entries remain -> the walk stops; client = the
//     last examined address, a trusted hop. The cap bounds the work per request whatever the header
//     holds; a longer all-trusted chain is treated as ending at the cap.              'hop-limit'
// A trusted address is trusted wherever it appears: a client inside a trusted range can name any client.
import { hostPortIn, type Address } from './address.ts';
import { skipSpaceBackward, skipSpaceForward } from './ip-text.ts';

export interface ChainOptions {
  /**
   * Max addresses examined, counting the peer (default 10). Past the cap the walk stops and the last
   * examined address is the client: an attacker cannot make us walk further, and a chain that long through
   * trusted proxies is treated as ending at the cap.
   */
  readonly maxHops: number;
}

export const DEFAULT_CHAIN_OPTIONS: ChainOptions = Object.freeze({ maxHops: 10 });

export type ChainReason =
  | 'peer-untrusted'
  | 'first-untrusted'
  | 'all-trusted-leftmost'
  | 'invalid-entry'
  | 'hop-limit'
  | 'no-forwarded-header';

export interface ChainResult {
  readonly client: Address;
  /**
   * Hops left to right: X-Forwarded-For entries then the peer, as canonical text; entries that are not
   * IPs appear as "invalid", never as their raw (attacker-controlled) text. Only the rightmost maxHops
   * hops are listed, whatever the reason, so an event can never grow with the header. Computed on first
   * read: most requests never need it.
   */
  readonly chain: readonly string[];
  /** How the client was chosen, from a closed set. */
  readonly reason: ChainReason;
}

/** The marker for a hop that is not an IP, in `chain` and in forwardedToXff output. */
export const INVALID_HOP = 'invalid';

const COMMA = 44;

/**
 * The result, with `chain` built on first read (a getter: copy it explicitly, a spread will not). The
 * header is held only until then.
 */
class Resolved implements ChainResult {
  readonly #peer: Address;
  #header: string;
  readonly #maxHops: number;
  #chain: readonly string[] | undefined;

  constructor(
    readonly client: Address,
    readonly reason: ChainReason,
    peer: Address,
    header: string,
    maxHops: number,
  ) {
    this.#peer = peer;
    this.#header = header;
    this.#maxHops = maxHops;
  }

  get chain(): readonly string[] {
    if (this.#chain === undefined) {
      this.#chain = listHops(this.#peer, this.#header, this.#maxHops);
      this.#header = '';
    }
    return this.#chain;
  }

  toJSON(): { client: Address; chain: readonly string[]; reason: ChainReason } {
    return { client: this.client, chain: this.chain, reason: this.reason };
  }
}

/** The rightmost maxHops hops, left to right. */
function listHops(peer: Address, header: string, maxHops: number): readonly string[] {
  const hops: string[] = [peer.text];
  let end = header.length;
  while (end > 0 && hops.length < maxHops) {
    const comma = header.lastIndexOf(',', end - 1);
    const start = skipSpaceForward(header, comma + 1, end);
    if (skipSpaceBackward(header, start, end) > start) hops.push(hostPortIn(header, start, end)?.text ?? INVALID_HOP);
    end = comma < 0 ? 0 : comma;
  }
  return Object.freeze(hops.reverse());
}

/**
 * Okta/Envoy/nginx-style right-to-left walk over XFF entries (comma-split, trimmed, empties skipped)
 * followed by the peer; the rules are in the comment at the top of this file. The header is scanned by
 * index from the right, so the cost depends on the hops examined, not on the header's length.
 */
export function resolveClientChain(
  peer: Address,
  forwardedFor: string | undefined,
  isTrusted: (a: Address) => boolean,
  options: ChainOptions,
): ChainResult {
  const maxHops = hopsOf(options);
  const header = forwardedFor ?? '';
  const client = walk(peer, header, isTrusted, maxHops);
  return new Resolved(client, walkReason, peer, header, maxHops);
}

/**
 * The client resolveClientChain would give, without the result object: for callers that need the address only
 * (the outcome path learns every access-log entry, and a million-entry stream should leave little to collect).
 */
export function resolveClientAddress(peer: Address, forwardedFor: string | undefined, isTrusted: (a: Address) => boolean, options: ChainOptions): Address {
  return walk(peer, forwardedFor ?? '', isTrusted, hopsOf(options));
}

const hopsOf = (options: ChainOptions): number => (options.maxHops >= 1 ? Math.floor(options.maxHops) : 1);

/** How the last walk() chose its client (read at once by its caller: walks are synchronous). */
let walkReason: ChainReason = 'no-forwarded-header';

function walk(peer: Address, header: string, isTrusted: (a: Address) => boolean, maxHops: number): Address {
  if (!isTrusted(peer)) {
    walkReason = 'peer-untrusted';
    return peer;
  }
  let client = peer;
  let examined = 1;
  let reason: ChainReason = 'no-forwarded-header';
  let end = header.length;
  while (end > 0) {
    let comma = end - 1;
    while (comma >= 0 && header.charCodeAt(comma) !== COMMA) comma--;
    const start = skipSpaceForward(header, comma + 1, end);
    const entryEnd = skipSpaceBackward(header, start, end);
    end = comma < 0 ? 0 : comma;
    if (entryEnd === start) continue;
    if (examined >= maxHops) {
      reason = 'hop-limit';
      break;
    }
    examined++;
    const hop = hostPortIn(header, start, entryEnd);
    if (hop === undefined) {
      reason = 'invalid-entry';
      break;
    }
    client = hop;
    if (!isTrusted(hop)) {
      reason = 'first-untrusted';
      break;
    }
    reason = 'all-trusted-leftmost';
  }
  walkReason = reason;
  return client;
}

const DQUOTE = 34;
const SEMICOLON = 59;
const BACKSLASH = 92;

/**
 * RFC 7239 Forwarded: the for= values, in order, as an XFF-equivalent comma string of canonical IPs;
 * obfuscated identifiers, "unknown", elements without exactly one for=, and malformed elements become
 * INVALID_HOP so the walk stops there. Pass all header values joined with ',' (as Envoy merges them).
 *
 * The header is split right to left: the rightmost elements were appended by the nearest (trusted)
 * proxies and are well-formed, and a right-to-left split parses them the same whatever precedes them.
 * A left-to-right parser would let an unbalanced quote in the attacker's prefix swallow the elements the
 * proxies appended. Values need not be quoted ("for=[::1]:80" is accepted) since that costs no safety.
 */
export function forwardedToXff(forwarded: string): string {
  const out: string[] = [];
  const semicolons: number[] = [];
  let elementEnd = forwarded.length;
  let broken = false;
  let noOpeningLeft = false;
  for (let i = forwarded.length - 1; i >= -1; i--) {
    const c = i < 0 ? COMMA : forwarded.charCodeAt(i);
    if (c === DQUOTE) {
      const open = noOpeningLeft ? -1 : openingQuote(forwarded, i);
      if (open < 0) {
        // Unbalanced: nothing to its left can open a string either (keeps the scan linear).
        noOpeningLeft = true;
        broken = true;
      } else {
        i = open;
      }
    } else if (c === SEMICOLON) {
      semicolons.push(i);
    } else if (c === COMMA) {
      const hop = forElement(forwarded, i + 1, elementEnd, semicolons, broken);
      if (hop !== undefined) out.push(hop);
      semicolons.length = 0;
      broken = false;
      elementEnd = i;
    }
  }
  return out.reverse().join(', ');
}

/** The quote opening the quoted-string that closes at `close`: the nearest one not escaped by a backslash. */
function openingQuote(s: string, close: number): number {
  for (let j = close - 1; j >= 0; j--) {
    if (s.charCodeAt(j) !== DQUOTE) continue;
    let k = j - 1;
    while (k >= 0 && s.charCodeAt(k) === BACKSLASH) k--;
    if ((j - 1 - k) % 2 === 0) return j;
  }
  return -1;
}

/** One element's hop text; undefined for an empty element (skipped, as empty XFF entries are). */
function forElement(s: string, start: number, end: number, semicolonsDesc: number[], broken: boolean): string | undefined {
  start = skipSpaceForward(s, start, end);
  end = skipSpaceBackward(s, start, end);
  if (start === end) return undefined;
  if (broken) return INVALID_HOP;
  let valueStart = -1;
  let valueEnd = -1;
  for (let p = semicolonsDesc.length; p >= 0; p--) {
    const pairStart = skipSpaceForward(s, p === semicolonsDesc.length ? start : semicolonsDesc[p]! + 1, end);
    const pairEnd = skipSpaceBackward(s, pairStart, p === 0 ? end : semicolonsDesc[p - 1]!);
    if (pairStart === pairEnd) continue;
    let eq = pairStart;
    while (eq < pairEnd && isTokenChar(s.charCodeAt(eq))) eq++;
    if (eq === pairStart || eq === pairEnd || s.charCodeAt(eq) !== 61) return INVALID_HOP;
    if (eq - pairStart === 3 && (s.charCodeAt(pairStart) | 0x20) === 102 && (s.charCodeAt(pairStart + 1) | 0x20) === 111 && (s.charCodeAt(pairStart + 2) | 0x20) === 114) {
      if (valueStart >= 0) return INVALID_HOP; // a parameter may occur once per element
      valueStart = eq + 1;
      valueEnd = pairEnd;
    }
  }
  if (valueStart < 0 || valueStart === valueEnd) return INVALID_HOP;
  if (s.charCodeAt(valueStart) !== DQUOTE) return hostPortIn(s, valueStart, valueEnd)?.text ?? INVALID_HOP;
  const text = unquote(s, valueStart, valueEnd);
  return (text === undefined ? undefined : hostPortIn(text, 0, text.length)?.text) ?? INVALID_HOP;
}

/** The content of the quoted-string exactly filling s[start, end), escapes resolved; undefined if malformed. */
function unquote(s: string, start: number, end: number): string | undefined {
  if (end - start < 2 || s.charCodeAt(end - 1) !== DQUOTE) return undefined;
  let out = '';
  for (let i = start + 1; i < end - 1; i++) {
    const c = s.charCodeAt(i);
    if (c === DQUOTE) return undefined;
    if (c === BACKSLASH) {
      if (++i >= end - 1) return undefined;
    }
    out += s[i];
  }
  return out;
}

/** RFC 9110 tchar. */
function isTokenChar(c: number): boolean {
  if ((c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122)) return true;
  return c < 127 && c > 32 && "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c));
}
