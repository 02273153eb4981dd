import { closeSync, openSync, writeSync } from 'node:fs';
import type { Decision } from '../decide/decision.ts';
import { RESULT_CODES, type SignInRecords } from './records.ts';

const LABELS: Readonly<Record<number, string>> = { [-1]: '', 0: 'legit', 1: 'attack' };
/** Lines are gathered up to this many characters per write: bounded memory whatever the record count. */
const CHUNK = 1 << 16;

export const DECISION_COLUMNS = ['time', 'source', 'answer', 'reason', 'level', 'detections', 'result', 'label'] as const;

/**
 * `--decisions <file>`: one line per attempt of the selected setting, in time order: its time (UTC), the source
 * address, the answer (allowed, 429, 403), the decision reason and threat level, the detections behind it, and
 * the record's own result and label. CSV, or JSON lines when the file name ends in .jsonl/.ndjson.
 */
export class DecisionFile {
  readonly #fd: number;
  readonly #json: boolean;
  #buf = '';
  lines = 0;

  constructor(path: string) {
    this.#fd = openSync(path, 'w');
    this.#json = /\.(jsonl|ndjson)$/i.test(path);
    if (!this.#json) this.#buf = `${DECISION_COLUMNS.join(',')}\n`;
  }

  write(records: SignInRecords, i: number, d: Decision): void {
    const time = new Date(records.timeMs[i]!).toISOString();
    const source = records.addresses[records.addr[i]!]!.text;
    const answer = d.verdict === 'allow' ? 'allowed' : String(d.httpStatus);
    const level = d.threat?.level ?? 'NONE';
    const detections = d.threat ? Object.entries(d.threat.detections).map(([r, l]) => `${r}=${l}`).join(';') : '';
    const result = RESULT_CODES[records.result[i]!]!;
    const label = LABELS[records.label?.[i] ?? -1]!;
    this.#buf += this.#json
      ? `${JSON.stringify({ time, source, answer, reason: d.reason, level, detections: d.threat?.detections ?? {}, result, label: label || null })}\n`
      : `${time},${source},${answer},${d.reason},${level},${detections},${result},${label}\n`;
    this.lines++;
    if (this.#buf.length >= CHUNK) this.#flush();
  }

  close(): void {
    this.#flush();
    closeSync(this.#fd);
  }

  #flush(): void {
    if (this.#buf) writeSync(this.#fd, this.#buf);
    this.#buf = '';
  }
}
