import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { usernameHash } from '../decide/username.ts';
import { parseAddress, type Address } from '../net/address.ts';

export type RecordFormat = 'csv' | 'jsonl';
export type RecordResult = 'success' | 'failure' | 'unknown_user';
export const RESULT_CODES: readonly RecordResult[] = ['success', 'failure', 'unknown_user'];
/** Values of SignInRecords.label. */
export const LABEL_NONE = -1;
export const LABEL_LEGIT = 0;
export const LABEL_ATTACK = 1;

export interface BadLine {
  readonly line: number;
  readonly reason: string;
}

/**
 * Recorded sign-ins, column-wise and in time order. Addresses are interned (a key is computed per setting,
 * since the IPv6 prefix is a setting); usernames exist only as 32-bit keyed hashes.
 */
export interface SignInRecords {
  readonly format: RecordFormat;
  readonly timeMs: number[];
  /** Index into `addresses`. */
  readonly addr: number[];
  /** Keyed username hash; -1 when the record has no username. */
  readonly user: number[];
  /** Index into RESULT_CODES. */
  readonly result: number[];
  /** LABEL_ATTACK / LABEL_LEGIT / LABEL_NONE per record; undefined when the records have no label column. */
  readonly label?: number[];
  readonly addresses: Address[];
  readonly bad: BadLine[];
  /** Records earlier than the record before them in the file (all are sorted before replay). */
  readonly outOfOrder: number;
}

const MIN_EPOCH_MS = 1e11; // 1973 in ms; a smaller number is almost certainly epoch seconds

function parseTime(v: unknown): number | string {
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v.trim()))) {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) return 'time: not an integer';
    return n < MIN_EPOCH_MS ? 'time: looks like epoch seconds; expected epoch milliseconds' : n;
  }
  if (typeof v !== 'string' || !/^\d{4}-\d\d-\d\dT/.test(v.trim())) return 'time: expected ISO 8601 (2026-03-02T08:00:00Z) or epoch milliseconds';
  const ms = Date.parse(v.trim());
  return Number.isNaN(ms) ? 'time: not a valid ISO 8601 time' : ms;
}

function parseResult(v: unknown): number | string {
  const s = typeof v === 'boolean' ? String(v) : typeof v === 'string' ? v.trim().toLowerCase() : '';
  if (s === 'true') return 0;
  if (s === 'false') return 1;
  if (s === 'unknown_user') return 2;
  return 'success: expected true, false or unknown_user';
}

/** One CSV line (RFC 4180 quoting within the line); undefined on an unterminated quote. */
export function splitCsv(line: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return undefined;
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      const next = line.indexOf(',', i);
      if (line.slice(i, next < 0 ? undefined : next).trim() !== '') return undefined;
      i = next < 0 ? line.length : next;
    } else {
      const next = line.indexOf(',', i);
      field = line.slice(i, next < 0 ? undefined : next);
      i = next < 0 ? line.length : next;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

const COLUMNS = ['time', 'ip', 'username', 'success'] as const;

/** Builds records line by line; keeps only what the detectors need. */
export class RecordReader {
  readonly #key: Buffer;
  readonly #index = new Map<string, number>();
  readonly #r: { -readonly [K in keyof SignInRecords]: SignInRecords[K] };
  #columns: number[] = [0, 1, 2, 3];
  #sawData = false;
  #lastTime = -Infinity;

  /** `key`: the username-hash key; random per run by default, so the hashes mean nothing outside this process. */
  constructor(format: RecordFormat, key: Buffer = randomBytes(32)) {
    this.#key = key;
    this.#r = { format, timeMs: [], addr: [], user: [], result: [], addresses: [], bad: [], outOfOrder: 0 };
  }

  line(text: string, line: number): void {
    const t = text.trim();
    if (t === '' || t.startsWith('#')) return;
    const fields = this.#r.format === 'csv' ? this.#csv(t, line) : this.#json(t, line);
    if (!fields) return;
    this.#sawData = true;
    const [time, ip, username, success] = fields;
    const ms = parseTime(time);
    if (typeof ms === 'string') return this.#bad(line, ms);
    const a = typeof ip === 'string' ? parseAddress(ip.trim()) : undefined;
    if (!a) return this.#bad(line, 'ip: not an IP address');
    if (username !== undefined && username !== null && typeof username !== 'string') return this.#bad(line, 'username: expected a string');
    const res = parseResult(success);
    if (typeof res === 'string') return this.#bad(line, res);
    let idx = this.#index.get(a.text);
    if (idx === undefined) {
      idx = this.#r.addresses.push(a) - 1;
      this.#index.set(a.text, idx);
    }
    if (ms < this.#lastTime) this.#r.outOfOrder++;
    this.#lastTime = ms;
    this.#r.timeMs.push(ms);
    this.#r.addr.push(idx);
    this.#r.user.push(username ? usernameHash(this.#key, username) : -1);
    this.#r.result.push(res);
  }

  #bad(line: number, reason: string): void {
    this.#r.bad.push({ line, reason });
  }

  #csv(t: string, line: number): unknown[] | undefined {
    const cells = splitCsv(t);
    if (!cells) return void this.#bad(line, 'unterminated quoted field');
    const names = cells.map((c) => c.trim().toLowerCase());
    if (!this.#sawData && names.includes('time') && names.includes('ip')) {
      // A header: columns may come in any order.
      const cols = COLUMNS.map((c) => names.indexOf(c));
      if (cols.some((c) => c < 0)) return void this.#bad(line, `header must name ${COLUMNS.join(', ')}`);
      this.#columns = cols;
      return undefined;
    }
    if (cells.length < 4) return void this.#bad(line, `expected 4 fields (${COLUMNS.join(',')}), got ${cells.length}`);
    return this.#columns.map((c) => cells[c]);
  }

  #json(t: string, line: number): unknown[] | undefined {
    let doc: unknown;
    try {
      doc = JSON.parse(t);
    } catch {
      return void this.#bad(line, 'not valid JSON');
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return void this.#bad(line, 'expected a JSON object');
    const o = doc as Record<string, unknown>;
    return COLUMNS.map((c) => o[c]);
  }

  /** The records in time order (a stable sort, so equal times keep file order). */
  finish(): SignInRecords {
    const r = this.#r;
    if (r.outOfOrder > 0) {
      const order = r.timeMs.map((_, i) => i).sort((a, b) => r.timeMs[a]! - r.timeMs[b]! || a - b);
      for (const k of ['timeMs', 'addr', 'user', 'result'] as const) {
        const old = r[k];
        r[k] = order.map((i) => old[i]!);
      }
    }
    return r;
  }
}

export function formatOf(path: string, explicit: string | undefined): RecordFormat {
  if (explicit === 'csv' || explicit === 'jsonl') return explicit;
  return /\.(jsonl|ndjson|json)$/i.test(path) ? 'jsonl' : 'csv';
}

/** Streams a file through a RecordReader: bad lines are counted, never fatal. */
export async function readRecords(path: string, format: RecordFormat, key?: Buffer): Promise<SignInRecords> {
  const reader = new RecordReader(format, key);
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) reader.line(text, ++n);
  return reader.finish();
}
