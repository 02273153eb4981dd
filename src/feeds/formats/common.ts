// Shared plumbing for the feed parsers: result building, line splitting, the
// one-entry-per-line list format most feeds share. All linear in input size.
import { parsePrefix, quote } from '../prefix.ts';

export interface FeedParseResult {
  /** Canonical IP or CIDR text, in file order (duplicates kept; the index dedupes). */
  entries: string[];
  /** First MAX_BAD_STORED bad lines; badCount counts them all. */
  bad: { line: number; reason: string }[];
  badCount: number;
  meta?: Record<string, string | number>;
}

export const MAX_BAD_STORED = 100;

export class ResultBuilder {
  readonly entries: string[] = [];
  readonly bad: { line: number; reason: string }[] = [];
  badCount = 0;
  hostBitsMasked = 0;
  readonly meta: Record<string, string | number> = {};

  addBad(line: number, reason: string): void {
    this.badCount++;
    if (this.bad.length < MAX_BAD_STORED) this.bad.push({ line, reason });
  }

  /** Validate one token and record it as an entry or a bad line. */
  addToken(line: number, token: string, allowCidr: boolean): void {
    const r = parsePrefix(token, allowCidr);
    if (!r.ok) return this.addBad(line, r.reason);
    if (r.prefix.hostBitsMasked) this.hostBitsMasked++;
    this.entries.push(r.prefix.text);
  }

  build(): FeedParseResult {
    if (this.hostBitsMasked > 0) this.meta.hostBitsMasked = this.hostBitsMasked;
    const result: FeedParseResult = { entries: this.entries, bad: this.bad, badCount: this.badCount };
    if (Object.keys(this.meta).length > 0) result.meta = this.meta;
    return result;
  }
}

/** Calls fn for each line (1-based numbers); handles BOM, LF, CRLF and bare CR. */
export function forEachLine(text: string, fn: (line: string, lineNo: number) => void): void {
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let lineNo = 1;
  const n = text.length;
  for (let i = start; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c !== 10 && c !== 13) continue;
    fn(text.slice(start, i), lineNo++);
    if (c === 13 && text.charCodeAt(i + 1) === 10) i++;
    start = i + 1;
  }
  if (start < n) fn(text.slice(start), lineNo);
}

export interface ListOptions {
  /** Characters that start a comment anywhere on a line. */
  commentChars: string;
  allowCidr: boolean;
  /** Accept "1.2.3.4:443" / "[2001:db8::1]:443" and drop the port (abuse.ch style rows). */
  allowPort?: boolean;
  /** Sees every full-line comment (without the comment char) before any entry. */
  onHeaderComment?: (comment: string, b: ResultBuilder) => void;
}

const PORT_V4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const PORT_V6 = /^\[([0-9A-Fa-f:.]+)\]:\d{1,5}$/;

/** One IP/CIDR per line, optional inline comments; the shape of most feeds. */
export function parseList(text: string, opts: ListOptions): ResultBuilder {
  const b = new ResultBuilder();
  let inHeader = true;
  forEachLine(text, (raw, lineNo) => {
    let line = raw;
    const cut = firstIndexOfAny(line, opts.commentChars);
    if (cut >= 0) {
      if (inHeader && opts.onHeaderComment && line.slice(0, cut).trim() === '') {
        opts.onHeaderComment(line.slice(cut + 1), b);
      }
      line = line.slice(0, cut);
    }
    line = line.trim();
    if (line === '') return;
    inHeader = false;
    const space = line.search(/\s/);
    if (space >= 0) return b.addBad(lineNo, `unexpected text after address: ${quote(line)}`);
    if (opts.allowPort && line.includes(':')) line = stripPort(line, b);
    b.addToken(lineNo, line, opts.allowCidr);
  });
  return b;
}

function stripPort(token: string, b: ResultBuilder): string {
  const m = PORT_V4.exec(token) ?? PORT_V6.exec(token);
  if (!m) return token;
  b.meta.portsStripped = Number(b.meta.portsStripped ?? 0) + 1;
  return m[1] as string;
}

function firstIndexOfAny(s: string, chars: string): number {
  let best = -1;
  for (const ch of chars) {
    const i = s.indexOf(ch);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** "Key Name  : value" -> ["keyName", "value"]; used for FireHOL/Spamhaus headers. */
export function headerField(comment: string): [string, string] | undefined {
  const m = /^\s*([A-Za-z][A-Za-z -]*?)\s*:\s+(.*?)\s*$/.exec(comment);
  if (!m || m[2] === '') return undefined;
  const words = (m[1] as string).toLowerCase().split(/[\s-]+/);
  const key = words.map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
  return [key, m[2] as string];
}
