/**
 * Record times: ISO 8601 / RFC 3339 (`2026-03-02T09:00:00Z`), the same with a space and no zone as SQL and
 * most log exports write it (`2018-11-01 00:00:00`), or epoch milliseconds. A time without a zone is read in
 * the --timezone zone (UTC by default): a fixed offset or an IANA name, converted with the platform's Intl data.
 */
export interface TimeZone {
  readonly name: string;
  /** A wall-clock time in this zone (as if it were UTC) -> the UTC instant. */
  toUtc(localMs: number): number;
}

const HOUR = 3_600_000;
const MIN_EPOCH_MS = 1e11; // 1973 in ms; a smaller number is almost certainly epoch seconds

export const UTC: TimeZone = Object.freeze({ name: 'UTC', toUtc: (ms: number) => ms });

/** "UTC", "+02:00" / "-0530" / "+02", or an IANA name ("Europe/Paris"); undefined when none of them. */
export function timeZone(name: string): TimeZone | undefined {
  const n = name.trim();
  if (/^(utc|z|gmt)$/i.test(n)) return UTC;
  const off = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(n);
  if (off) {
    const mins = Number(off[2]) * 60 + Number(off[3] ?? 0);
    if (Number(off[2]) > 23 || Number(off[3] ?? 0) > 59) return undefined;
    const ms = (off[1] === '-' ? -1 : 1) * mins * 60_000;
    return { name: n, toUtc: (local) => local - ms };
  }
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: n, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
  } catch {
    return undefined;
  }
  const zone = fmt.resolvedOptions().timeZone;
  /** Offset of the zone from UTC at a UTC instant (ms). */
  const offsetAt = (utc: number): number => {
    const p: Record<string, number> = {};
    for (const part of fmt.formatToParts(utc)) if (part.type !== 'literal') p[part.type] = Number(part.value);
    return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(utc / 1000) * 1000;
  };
  // Offsets change on the hour in every zone: one conversion per local hour serves every record in it. A local
  // time in a change hour is read the first way it could be: a repeated hour as its first occurrence, a skipped
  // one as if the clock had not changed yet.
  const toUtc = (local: number): number => {
    const near = local - offsetAt(local);
    const before = offsetAt(near - 3 * HOUR);
    const after = offsetAt(near + 3 * HOUR);
    if (before === after) return local - before;
    if (offsetAt(local - before) === before) return local - before;
    if (offsetAt(local - after) === after) return local - after;
    return local - before;
  };
  const cache = new Map<number, number>();
  return {
    name: zone,
    toUtc(local: number): number {
      const hour = Math.floor(local / HOUR);
      let delta = cache.get(hour);
      if (delta === undefined) {
        delta = toUtc(hour * HOUR) - hour * HOUR;
        if (cache.size >= 100_000) cache.clear();
        cache.set(hour, delta);
      }
      return local + delta;
    },
  };
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(z|utc|gmt|[+-]\d{2}(?::?\d{2})?)?$/i;

/** Epoch ms of a record's time, or why it is not one. `zoneless` is set when the text named no zone. */
export function parseRecordTime(v: unknown, zone: TimeZone, out: { zoneless: boolean }): number | string {
  out.zoneless = false;
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v.trim()))) {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) return 'time: not an integer';
    return n < MIN_EPOCH_MS ? 'time: looks like epoch seconds; expected epoch milliseconds' : n;
  }
  const m = typeof v === 'string' ? ISO.exec(v.trim()) : null;
  if (!m) return 'time: expected ISO 8601 (2026-03-02T08:00:00Z, 2026-03-02 08:00:00) or epoch milliseconds';
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0)) as [number, number, number, number, number, number];
  const frac = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const local = Date.UTC(y, mo - 1, d, h, mi, s, frac);
  const check = new Date(local);
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return 'time: not a valid ISO 8601 time';
  const z = m[8]?.toLowerCase();
  if (z === undefined) {
    out.zoneless = true;
    return zone.toUtc(local);
  }
  if (z === 'z' || z === 'utc' || z === 'gmt') return local;
  const tz = timeZone(z);
  return tz ? tz.toUtc(local) : 'time: not a valid ISO 8601 time';
}
