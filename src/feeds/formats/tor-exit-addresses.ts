// TorDNSEL exit-addresses (check.torproject.org/exit-addresses):
//   ExitNode <fingerprint> / Published <ts> / LastStatus <ts> / ExitAddress <ip> <date> <time>
// A node can have several ExitAddress lines; every one is an entry.
import { forEachLine, ResultBuilder, type FeedParseResult } from './common.ts';
import { quote } from '../prefix.ts';

const IGNORED = new Set(['Published', 'LastStatus']);

export function parse(text: string): FeedParseResult {
  const b = new ResultBuilder();
  let nodes = 0;
  forEachLine(text, (raw, lineNo) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const keyword = fields[0] as string;
    if (keyword === 'ExitAddress') {
      const ip = fields[1];
      if (ip === undefined) return b.addBad(lineNo, 'ExitAddress line without an address');
      return b.addToken(lineNo, ip, false);
    }
    if (keyword === 'ExitNode') {
      nodes++;
      if (fields[1] === undefined) b.addBad(lineNo, 'ExitNode line without a fingerprint');
      return;
    }
    if (keyword === '@type') {
      b.meta.type = fields.slice(1).join(' ');
      return;
    }
    if (keyword === 'Downloaded') {
      b.meta.downloaded = fields.slice(1).join(' ');
      return;
    }
    if (IGNORED.has(keyword)) return;
    b.addBad(lineNo, `unknown exit-addresses keyword in ${quote(line)}`);
  });
  b.meta.nodes = nodes;
  return b.build();
}
