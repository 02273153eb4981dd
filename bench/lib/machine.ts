// This machine is shared: other people's test runs land on the same 2 cores. Each load scenario first waits
// (bounded) for the machine to go quiet, and records how busy the whole machine was during the run, so a
// disturbed figure can be recognised as such instead of being read as Portcullis's.
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

interface Ticks { busy: number; total: number }

function ticks(): Ticks {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!; // "cpu  user nice system idle iowait irq softirq steal ..."
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - (f[3] ?? 0) - (f[4] ?? 0), total };
}

/** Measures machine CPU between start() and the returned function's call, as % of one core (2 cores = 200). */
export function machineCpu(): () => number | undefined {
  let t0: Ticks;
  try {
    t0 = ticks();
  } catch {
    return () => undefined; // not Linux
  }
  return () => {
    const t1 = ticks();
    const total = t1.total - t0.total;
    return total > 0 ? Math.round(((t1.busy - t0.busy) / total) * cpus().length * 100) : undefined;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the machine used under `thresholdPercent` of one core for two 500 ms samples in a row, or
 * maxWaitMs passed. Returns the seconds waited and the last sample.
 */
export async function waitForQuiet(maxWaitMs: number, thresholdPercent = 25): Promise<{ waitedS: number; busy: number | undefined }> {
  const started = Date.now();
  let quietSamples = 0;
  let busy: number | undefined;
  while (Date.now() - started < maxWaitMs) {
    const measure = machineCpu();
    await sleep(500);
    busy = measure();
    if (busy === undefined) break;
    quietSamples = busy < thresholdPercent ? quietSamples + 1 : 0;
    if (quietSamples >= 2) break;
  }
  return { waitedS: Math.round((Date.now() - started) / 100) / 10, busy };
}
