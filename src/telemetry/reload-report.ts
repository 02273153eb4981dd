import type { ReloadReport } from '../config/reloader.ts';
import { describeIssue } from '../api/objects.ts';
import type { Snapshot } from '../decide/snapshot.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** A reload's outcome as metrics and one log line. */
export function reloadObserver(d: { readonly metrics: Metrics; readonly logger: Logger; readonly nowMs: () => number; readonly current: () => Snapshot | undefined }) {
  return (r: ReloadReport): void => {
    d.metrics.reload(r.accepted ? 'success' : 'invalid');
    if (r.accepted) {
      d.metrics.lastReloadSuccess.set(d.nowMs() / 1000);
      const s = d.current()!;
      d.logger.info({ version: r.version, zones: s.zones.length, entries: s.entryCount, policy: s.policy.name, compileMs: Math.round(r.compileMs) }, 'config loaded');
    } else {
      for (const c of r.issues) d.metrics.error(c.code);
      d.logger.error({ issues: r.issues.map(describeIssue), keeping: r.version ?? null }, 'config rejected; keeping the last good snapshot');
    }
  };
}
