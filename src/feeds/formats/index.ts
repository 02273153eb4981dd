// Feed format registry: parseFeed() never throws; bad lines are counted in the result.
import type { FeedParseResult } from './common.ts';
import { parse as abuseipdb } from './abuseipdb.ts';
import { parse as firehol } from './firehol.ts';
import { parse as plain } from './plain.ts';
import { parse as spamhausDrop } from './spamhaus-drop.ts';
import { parse as spamhausDropJson } from './spamhaus-drop-json.ts';
import { parse as torBulk } from './tor-bulk.ts';
import { parse as torExitAddresses } from './tor-exit-addresses.ts';

export type { FeedParseResult } from './common.ts';
export { MAX_BAD_STORED } from './common.ts';

export const FEED_FORMATS = [
  'plain',
  'firehol',
  'spamhaus-drop',
  'spamhaus-drop-json',
  'tor-bulk',
  'tor-exit-addresses',
  'abuseipdb',
] as const;

export type FeedFormat = (typeof FEED_FORMATS)[number];

const PARSERS: Record<FeedFormat, (text: string) => FeedParseResult> = {
  plain,
  firehol,
  'spamhaus-drop': spamhausDrop,
  'spamhaus-drop-json': spamhausDropJson,
  'tor-bulk': torBulk,
  'tor-exit-addresses': torExitAddresses,
  abuseipdb,
};

export function isFeedFormat(s: string): s is FeedFormat {
  return Object.hasOwn(PARSERS, s);
}

export function parseFeed(format: FeedFormat, text: string): FeedParseResult {
  const parser = PARSERS[format];
  // Config is validated upstream, but an unknown format must not crash a refresh loop.
  if (parser === undefined) return { entries: [], bad: [{ line: 0, reason: `unknown feed format ${JSON.stringify(format)}` }], badCount: 1 };
  return parser(text);
}
