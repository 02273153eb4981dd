/** Durations written as text ("1h30m", "10s", "2d", "500ms"), the one parser for config files and specs. */

export const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const WITH_DAYS = /([0-9]+)(ms|s|m|h|d)/y;
const WITHOUT_DAYS = /([0-9]+)(ms|s|m|h)/y;

/**
 * "1h30m" -> 5400000: one or more number+unit parts (ms, s, m, h and, unless `days` is false, d), no spaces or
 * signs. Undefined when malformed or not a safe integer.
 */
export function parseDuration(text: string, days = true): number | undefined {
  const re = days ? WITH_DAYS : WITHOUT_DAYS;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = re.lastIndex;
  }
  return at > 0 && Number.isSafeInteger(total) ? total : undefined;
}

/** ms -> the shortest exact text ("10s", "10m", "1d", "1500ms"). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
