/**
 * Caps on free text that reaches events, log lines and Kubernetes status. Request fields are attacker-chosen
 * (a 100 KB User-Agent, 60 KB request ids), and one reload can carry 100k issues; every copy is cut here, with
 * a marker saying how much was left out. A leaf module: config/, telemetry/ and sources/ all use it (config
 * may not import telemetry, which imports config).
 */
export const TEXT_LIMITS = Object.freeze({
  userAgent: 256,
  /** Request ids, paths, methods. */
  id: 128,
  path: 128,
  method: 32,
  /** Object names (Kubernetes allows 253). */
  name: 253,
  /** An error or issue message. */
  message: 512,
  /** Any other string in a log line. */
  logField: 1024,
});

/** Issue lists: the first this many, then how many more. */
export const LIST_LIMIT = 20;
/** Any list in a log line (above LIST_LIMIT, so a list already cut keeps its count line). */
const LOG_LIST_LIMIT = 32;

/** `text` if it is at most `max` UTF-16 units, else its start and "…(+N chars)" (a surrogate pair is not split). */
export function bounded(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = max;
  const c = text.charCodeAt(cut - 1);
  if (c >= 0xd800 && c <= 0xdbff) cut--; // a high surrogate would be left without its pair
  return `${text.slice(0, cut)}…(+${text.length - cut} chars)`;
}

/** bounded() that passes undefined through. */
export function boundedOptional(text: string | undefined, max: number): string | undefined {
  return text === undefined ? undefined : bounded(text, max);
}

/** The first `limit` items rendered, then "… and N more" when there are more. */
export function boundedList<T>(items: readonly T[], render: (item: T) => string, limit = LIST_LIMIT): string[] {
  const out = (items.length > limit ? items.slice(0, limit) : items).map(render);
  if (items.length > limit) out.push(`… and ${items.length - limit} more`);
  return out;
}

/**
 * A copy of a log line's fields with every string, array and object bounded (depth 6): strings to
 * TEXT_LIMITS.logField, arrays to 32 items plus a count, objects to 64 fields.
 */
export function boundedFields(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return bounded(value, TEXT_LIMITS.logField);
  if (value === null || typeof value !== 'object' || value instanceof Error) return value;
  if (depth >= 6) return '[too deep]';
  if (Array.isArray(value)) {
    const items = value.length > LOG_LIST_LIMIT ? value.slice(0, LOG_LIST_LIMIT) : value;
    const out: unknown[] = items.map((v) => boundedFields(v, depth + 1));
    if (value.length > LOG_LIST_LIMIT) out.push(`… and ${value.length - LOG_LIST_LIMIT} more`);
    return out;
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [k, v] of Object.entries(value)) {
    if (n++ >= 64) {
      out['…'] = `${Object.keys(value).length - 64} more fields`;
      break;
    }
    out[k] = boundedFields(v, depth + 1);
  }
  return out;
}
