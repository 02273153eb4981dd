// Spamhaus DROP JSON lines: {"cidr":"1.10.16.0/20","sblid":"SBL256894","rir":"apnic"} per line,
// closed by {"type":"metadata",...}. A missing metadata line means a truncated download.
import { forEachLine, ResultBuilder, type FeedParseResult } from './common.ts';
import { quote } from '../prefix.ts';

export function parse(text: string): FeedParseResult {
  const b = new ResultBuilder();
  let dataLines = 0;
  let lastLine = 0;
  let metaLine = 0;
  let records: number | undefined;
  forEachLine(text, (raw, lineNo) => {
    lastLine = lineNo;
    const line = raw.trim();
    if (line === '') return;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      return b.addBad(lineNo, `not valid JSON: ${quote(line)}`);
    }
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      return b.addBad(lineNo, `expected a JSON object: ${quote(line)}`);
    }
    const rec = obj as Record<string, unknown>;
    if (rec.type === 'metadata') {
      metaLine = lineNo;
      for (const key of ['timestamp', 'size', 'records', 'copyright', 'terms']) {
        const v = rec[key];
        if (typeof v === 'string' || typeof v === 'number') b.meta[key] = v;
      }
      if (typeof rec.records === 'number') records = rec.records;
      return;
    }
    dataLines++;
    if (typeof rec.cidr !== 'string') return b.addBad(lineNo, `object has no "cidr" string: ${quote(line)}`);
    b.addToken(lineNo, rec.cidr.trim(), true);
  });
  if (metaLine === 0) {
    b.addBad(lastLine + 1, 'missing {"type":"metadata"} line (truncated download?)');
  } else if (records !== undefined && records !== dataLines) {
    b.addBad(metaLine, `metadata says ${records} records but ${dataLines} data lines were found`);
  }
  return b.build();
}
