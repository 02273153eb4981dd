// AbuseIPDB blacklist in plaintext form: one IP per line (mirrors may add '#' headers).
import { parseList, type FeedParseResult } from './common.ts';

export function parse(text: string): FeedParseResult {
  return parseList(text, { commentChars: '#', allowCidr: false }).build();
}
