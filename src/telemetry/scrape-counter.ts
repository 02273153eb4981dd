import { Counter, type Registry } from 'prom-client';

/**
 * A counter whose series are counted by the caller in `counts` (one slot per entry of `labelSets`) and handed to
 * prom-client only at scrape time: prom-client hashes the label set on every inc, even through a bound labels()
 * child, which the hot paths (every Check, every access-log entry) should not pay. A series appears once it has
 * counted something, as a bound child's does.
 */
export function counterAtScrape(
  registers: Registry[], name: string, help: string, labelNames: readonly string[],
  labelSets: ReadonlyArray<Record<string, string>>, counts: Float64Array,
): void {
  const exported = new Float64Array(counts.length);
  new Counter({
    name, help, labelNames: [...labelNames], registers,
    collect() {
      for (let i = 0; i < counts.length; i++) {
        const delta = counts[i]! - exported[i]!;
        if (delta > 0) {
          this.inc(labelSets[i]!, delta);
          exported[i] = counts[i]!;
        }
      }
    },
  });
}
