import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * CPUs this process may use: the cgroup v2 quota (/sys/fs/cgroup/cpu.max, "quota period", rounded up; "max"
 * is no quota), else os.availableParallelism(). A container limited to 1.5 CPUs gets 2 workers: the second
 * one still runs when the first waits on I/O, and the kernel enforces the quota either way.
 */
export function cpuLimit(read: (path: string) => string = (p) => readFileSync(p, 'utf8'), cores: () => number = availableParallelism): number {
  const all = Math.max(1, cores());
  let text: string;
  try {
    text = read('/sys/fs/cgroup/cpu.max');
  } catch {
    return all;
  }
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return all;
  const q = Number(quota);
  const p = Number(period ?? '100000');
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return all;
  return Math.max(1, Math.min(all, Math.ceil(q / p)));
}
