// FireHOL .netset/.ipset: '#' header with "Key : value" fields, then bare IPs and CIDRs.
import { headerField, parseList, type FeedParseResult, type ResultBuilder } from './common.ts';

// Header fields worth surfacing in status; the rest (URLs, prose) stay in the file.
const KEEP = new Set(['maintainer', 'category', 'version', 'sourceFileDate', 'thisFileDate', 'entries', 'updateFrequency']);

function onHeader(comment: string, b: ResultBuilder): void {
  const field = headerField(comment);
  if (field && KEEP.has(field[0])) b.meta[field[0]] = field[1];
  // The line after the first blank '#' names the set ("# firehol_level1").
  const name = comment.trim();
  if (b.meta.name === undefined && /^[A-Za-z0-9_.-]+$/.test(name)) b.meta.name = name;
}

export function parse(text: string): FeedParseResult {
  return parseList(text, { commentChars: '#', allowCidr: true, onHeaderComment: onHeader }).build();
}
