import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * Lowest CPU priority (nice 19) for the calling thread alone: on Linux, setpriority on a thread id affects that
 * thread only. The reload worker calls it: on a sidecar with one or two cores, a 100k-line parse at full
 * priority takes the core from the thread answering Checks, which then stall for tens of ms. Raising nice needs
 * no privilege. Returns the thread id, or undefined where there is no /proc/thread-self (not Linux).
 */
export function lowerThreadPriority(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0) return undefined;
    setPriority(tid, 19);
    return tid;
  } catch {
    return undefined; // not Linux, or /proc not mounted: the thread keeps the process's priority
  }
}
