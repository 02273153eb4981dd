import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { usernameHash } from '../decide/username.ts';
import { parseAddress, type Address } from '../net/address.ts';
import { DEFAULT_MAPPING, DEFAULT_POSITIONS, FIELDS, labelOf, REQUIRED_FIELDS, resultOf, type RecordMapping } from './mapping.ts';
import { parseRecordTime, UTC, type TimeZone } from './times.ts';

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
  /** LABEL_ATTACK / LABEL_LEGIT / LABEL_NONE per record; undefined when no record has a label. */
  readonly label?: number[];
  readonly addresses: Address[];
  readonly bad: BadLine[];
  /** Records earlier than the record before them in the file (all are sorted before replay). */
  readonly outOfOrder: number;
  /** Records whose time named no zone, read in `timezone`. */
  readonly zoneless: number;
  readonly timezone: string;
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

/** Options of a RecordReader: the username-hash key, the column and value mapping, the zone of zone-less times. */
export interface ReadOptions {
  /** Random per run by default, so the hashes mean nothing outside this process (--seed fixes it). */
  readonly key?: Buffer;
  readonly mapping?: RecordMapping;
  readonly timezone?: TimeZone;
}

/** Builds records line by line; keeps only what the detectors need. */
export class RecordReader {
  readonly #key: Buffer;
  readonly #map: RecordMapping;
  readonly #zone: TimeZone;
  readonly #index = new Map<string, number>();
  readonly #r: { -readonly [K in keyof SignInRecords]: SignInRecords[K] };
  readonly #labels: number[] = [];
  #labelled = false;
  /** Cell index per FIELDS entry (-1: absent), for CSV. */
  #cells: number[];
  #sawHeader = false;
  #sawData = false;
  #lastTime = -Infinity;
  readonly #time = { zoneless: false };

  constructor(format: RecordFormat, options: ReadOptions | Buffer = {}) {
    const o: ReadOptions = Buffer.isBuffer(options) ? { key: options } : options;
    this.#key = o.key ?? randomBytes(32);
    this.#map = o.mapping ?? DEFAULT_MAPPING;
    this.#zone = o.timezone ?? UTC;
    this.#r = { format, timeMs: [], addr: [], user: [], result: [], addresses: [], bad: [], outOfOrder: 0, zoneless: 0, timezone: this.#zone.name };
    this.#cells = this.#map.positional
      ? FIELDS.map((f) => (this.#map.columns[f] === '' ? -1 : Number(this.#map.columns[f]) - 1))
      : FIELDS.map((f) => DEFAULT_POSITIONS[f] ?? -1);
  }

  line(text: string, line: number): void {
    const t = text.trim();
    if (t === '' || t.startsWith('#')) return;
    const fields = this.#r.format === 'csv' ? this.#csv(t, line) : this.#json(t, line);
    if (!fields) return;
    this.#sawData = true;
    const [time, ip, username, success, reason, label] = fields;
    const ms = parseRecordTime(time, this.#zone, this.#time);
    if (typeof ms === 'string') return this.#bad(line, ms);
    const a = typeof ip === 'string' ? parseAddress(ip.trim()) : undefined;
    if (!a) return this.#bad(line, 'ip: not an IP address');
    if (username !== undefined && username !== null && typeof username !== 'string') return this.#bad(line, 'username: expected a string');
    const res = resultOf(this.#map, success, reason);
    if (typeof res === 'string') return this.#bad(line, res);
    const lab = labelOf(this.#map, label);
    if (typeof lab === 'string') return this.#bad(line, lab);
    let idx = this.#index.get(a.text);
    if (idx === undefined) {
      idx = this.#r.addresses.push(a) - 1;
      this.#index.set(a.text, idx);
    }
    if (ms < this.#lastTime) this.#r.outOfOrder++;
    this.#lastTime = ms;
    if (this.#time.zoneless) this.#r.zoneless++;
    this.#r.timeMs.push(ms);
    this.#r.addr.push(idx);
    this.#r.user.push(username ? usernameHash(this.#key, username) : -1);
    this.#r.result.push(res);
    this.#labels.push(lab);
    if (lab !== LABEL_NONE) this.#labelled = true;
  }

  #bad(line: number, reason: string): void {
    this.#r.bad.push({ line, reason });
  }

  #csv(t: string, line: number): unknown[] | undefined {
    const cells = splitCsv(t);
    if (!cells) return void this.#bad(line, 'unterminated quoted field');
    const cols = this.#map.columns;
    if (!this.#map.positional && !this.#sawData && !this.#sawHeader) {
      const names = cells.map((c) => c.trim().toLowerCase());
      if (names.includes(cols.time.toLowerCase()) && names.includes(cols.ip.toLowerCase())) {
        // A header: columns may come in any order; username, reason and label are optional.
        const missing = REQUIRED_FIELDS.filter((f) => !names.includes(cols[f].toLowerCase()));
        if (missing.length > 0) return void this.#bad(line, `header must name ${missing.map((f) => (cols[f] === f ? f : `${cols[f]} (${f})`)).join(', ')}`);
        this.#cells = FIELDS.map((f) => names.indexOf(cols[f].toLowerCase()));
        this.#sawHeader = true;
        return undefined;
      }
      if (cols !== DEFAULT_MAPPING.columns) return void this.#bad(line, `no header naming the --columns (${cols.time}, ${cols.ip}, ...) before this line`);
    }
    const need = Math.max(...this.#cells) + 1;
    if (cells.length < need) {
      const named = FIELDS.map((f, i) => [this.#cells[i]!, cols[f]] as const).filter(([c]) => c >= 0).sort((a, b) => a[0] - b[0]);
      const layout = this.#map.positional ? `${need} fields` : `${need} fields (${named.map(([, n]) => n).join(',')})`;
      return void this.#bad(line, `expected ${layout}, got ${cells.length}`);
    }
    return this.#cells.map((c) => (c < 0 ? undefined : cells[c]));
  }

  #json(t: string, line: number): unknown[] | undefined {
    let doc: unknown;
    try {
      doc = JSON.parse(t);
    } catch {
      return void this.#bad(line, 'not valid JSON');
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return void this.#bad(line, 'expected a JSON object');
    return FIELDS.map((f) => pathValue(doc, this.#map.columns[f]));
  }

  /** The records in time order (a stable sort, so equal times keep file order). */
  finish(): SignInRecords {
    const r = this.#r;
    if (this.#labelled) r.label = this.#labels;
    if (r.outOfOrder > 0) {
      const order = r.timeMs.map((_, i) => i).sort((a, b) => r.timeMs[a]! - r.timeMs[b]! || a - b);
      for (const k of ['timeMs', 'addr', 'user', 'result', 'label'] as const) {
        const old = r[k];
        if (old) r[k] = order.map((i) => old[i]!);
      }
    }
    return r;
  }
}

/** A JSONL field: a key, or a dotted path into nested objects ("outcome.result") when no key has the dots. */
function pathValue(doc: object, path: string): unknown {
  if (path === '') return undefined;
  const o = doc as Record<string, unknown>;
  if (Object.hasOwn(o, path) || !path.includes('.')) return o[path];
  let v: unknown = o;
  for (const k of path.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

export function formatOf(path: string, explicit: string | undefined): RecordFormat {
  if (explicit === 'csv' || explicit === 'jsonl') return explicit;
  return /\.(jsonl|ndjson|json)$/i.test(path) ? 'jsonl' : 'csv';
}

/** Streams a file through a RecordReader: bad lines are counted, never fatal. */
export async function readRecords(path: string, format: RecordFormat, options: ReadOptions | Buffer = {}): Promise<SignInRecords> {
  const reader = new RecordReader(format, options);
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) reader.line(text, ++n);
  return reader.finish();
}
