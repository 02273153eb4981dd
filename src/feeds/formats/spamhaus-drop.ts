// Spamhaus DROP/EDROP text: "; " header lines, then "CIDR ; SBLnnnnnn".
import { headerField, parseList, type FeedParseResult, type ResultBuilder } from './common.ts';

// Spamhaus terms require keeping the credit/date/(c) line with the data: keep it as meta.
function onHeader(comment: string, b: ResultBuilder): void {
  const text = comment.trim();
  if (b.meta.title === undefined && /spamhaus/i.test(text)) {
    b.meta.title = text;
    return;
  }
  const field = headerField(text);
  if (field && (field[0] === 'lastModified' || field[0] === 'expires')) b.meta[field[0]] = field[1];
}

export function parse(text: string): FeedParseResult {
  return parseList(text, { commentChars: ';#', allowCidr: true, onHeaderComment: onHeader }).build();
}
