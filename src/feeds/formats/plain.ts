// Plain list: one IP or CIDR per line, '#' or ';' comments (whole-line or trailing).
import { parseList, type FeedParseResult } from './common.ts';

export function parse(text: string): FeedParseResult {
  return parseList(text, { commentChars: '#;', allowCidr: true, allowPort: true }).build();
}
