// Tor Project bulk exit list (check.torproject.org/torbulkexitlist): one bare IP per line.
import { parseList, type FeedParseResult } from './common.ts';

export function parse(text: string): FeedParseResult {
  return parseList(text, { commentChars: '#', allowCidr: false }).build();
}
