import { PortcullisError } from '../errors.ts';

/**
 * How a file's columns and values map to replay's fields (`--columns`, `--values`): sign-in logs exported from
 * an identity provider or a proxy rarely say `time,ip,username,success`.
 */
export const FIELDS = ['time', 'ip', 'username', 'success', 'reason', 'label'] as const;
export type Field = (typeof FIELDS)[number];
/** Fields a record must have; the others are optional. */
export const REQUIRED_FIELDS: readonly Field[] = ['time', 'ip', 'success'];

export const VALUE_KEYS = ['success', 'failure', 'unknown_user', 'attack', 'legit'] as const;
export type ValueKey = (typeof VALUE_KEYS)[number];

/** Values (trimmed, lower-cased) that mean one thing; `any`: every value no other set claims. */
export interface ValueSet {
  readonly values: ReadonlySet<string>;
  readonly any: boolean;
}

export interface RecordMapping {
  /** Column of each field: a CSV header name or JSONL key (dotted for nested objects), or a 1-based CSV position. */
  readonly columns: Readonly<Record<Field, string>>;
  /** Whether the columns were given by position (a CSV without a header). */
  readonly positional: boolean;
  readonly values: Readonly<Record<ValueKey, ValueSet>>;
}

const set = (...values: string[]): ValueSet => ({ values: new Set(values), any: false });

export const DEFAULT_MAPPING: RecordMapping = Object.freeze({
  columns: Object.freeze({ time: 'time', ip: 'ip', username: 'username', success: 'success', reason: 'reason', label: 'label' }),
  positional: false,
  values: Object.freeze({
    success: set('true'),
    failure: set('false'),
    unknown_user: set('unknown_user'),
    attack: set('attack', 'true', '1', 'yes', 'malicious'),
    legit: set('legit', 'legitimate', 'false', '0', 'no', 'benign'),
  }),
});

/** The one header-less layout the default accepts: time, ip, username, success. */
export const DEFAULT_POSITIONS: Readonly<Partial<Record<Field, number>>> = Object.freeze({ time: 0, ip: 1, username: 2, success: 3 });

const usage = (flag: string, msg: string) => new PortcullisError('USAGE', `${flag}: ${msg}`);

/** `--columns time=datetime,ip=source_ip,...`: every field not named keeps its default column name. */
export function withColumns(base: RecordMapping, text: string): RecordMapping {
  const columns: Record<Field, string> = { ...base.columns };
  let numbers = 0;
  let names = 0;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const field = part.slice(0, eq).trim() as Field;
    const column = part.slice(eq + 1).trim();
    if (eq <= 0 || column === '') throw usage('--columns', `expected field=column, got ${JSON.stringify(part.trim())}`);
    if (!(FIELDS as readonly string[]).includes(field)) throw usage('--columns', `unknown field ${JSON.stringify(field)}; fields: ${FIELDS.join(', ')}`);
    if (/^\d+$/.test(column)) {
      if (Number(column) < 1) throw usage('--columns', 'positions count from 1');
      numbers++;
    } else names++;
    columns[field] = column;
  }
  if (numbers > 0 && names > 0) throw usage('--columns', 'give every column by name (a header) or every one by position (no header), not both');
  if (numbers > 0) {
    for (const f of REQUIRED_FIELDS) if (!/^\d+$/.test(columns[f])) throw usage('--columns', `by position, ${REQUIRED_FIELDS.join(', ')} need a position`);
    // Optional fields not given a position are absent.
    for (const f of FIELDS) if (!/^\d+$/.test(columns[f])) columns[f] = '';
  }
  return { ...base, columns, positional: numbers > 0 };
}

/** `--values success=OK|SUCCESS,failure=*,unknown_user=USER_NOT_FOUND`: each key given replaces its default set. */
export function withValues(base: RecordMapping, text: string): RecordMapping {
  const values: Record<ValueKey, ValueSet> = { ...base.values };
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim() as ValueKey;
    if (eq <= 0) throw usage('--values', `expected key=value|value..., got ${JSON.stringify(part.trim())}`);
    if (!(VALUE_KEYS as readonly string[]).includes(key)) throw usage('--values', `unknown key ${JSON.stringify(key)}; keys: ${VALUE_KEYS.join(', ')}`);
    const list = part.slice(eq + 1).split('|').map((v) => v.trim().toLowerCase());
    const any = list.includes('*');
    if (any && (key === 'unknown_user' || key === 'legit' && values.attack.any || key === 'attack' && values.legit.any)) throw usage('--values', `* (any other value) is for success or failure, attack or legit`);
    values[key] = { values: new Set(list.filter((v) => v !== '*')), any };
  }
  if (values.success.any && values.failure.any) throw usage('--values', '* can mean success or failure, not both');
  if (values.attack.any && values.legit.any) throw usage('--values', '* can mean attack or legit, not both');
  return { ...base, values };
}

const norm = (v: unknown): string => (v === undefined || v === null ? '' : String(v).trim().toLowerCase());

function listOf(sets: readonly ValueSet[]): string {
  const all = sets.flatMap((s) => [...s.values]);
  return all.length < 2 ? all.join('') : `${all.slice(0, -1).join(', ')} or ${all.at(-1)}`;
}

/**
 * 0 success, 1 failure, 2 unknown user, or why the value is not one. A failure whose `reason` is listed as
 * unknown_user is an unknown user.
 */
export function resultOf(m: RecordMapping, success: unknown, reason: unknown): number | string {
  const v = norm(success);
  const s = m.values;
  let r: number;
  if (s.unknown_user.values.has(v)) r = 2;
  else if (s.success.values.has(v)) r = 0;
  else if (s.failure.values.has(v)) r = 1;
  else if (v !== '' && s.failure.any) r = 1;
  else if (v !== '' && s.success.any) r = 0;
  else return `${m.columns.success === 'success' ? 'success' : `success (${m.columns.success})`}: expected ${listOf([s.success, s.failure, s.unknown_user])}`;
  if (r === 1 && reason !== undefined && s.unknown_user.values.has(norm(reason))) r = 2;
  return r;
}

/** LABEL_* of a label value (-1 when empty), or why it is not one. */
export function labelOf(m: RecordMapping, label: unknown): number | string {
  const v = norm(label);
  if (v === '') return -1;
  const s = m.values;
  if (s.attack.values.has(v)) return 1;
  if (s.legit.values.has(v)) return 0;
  if (s.attack.any) return 1;
  if (s.legit.any) return 0;
  return `label: expected ${listOf([s.attack])} (an attack) or ${listOf([s.legit])} (legitimate), or empty`;
}
