import { randomUUID } from 'node:crypto';
import { formatIssues, ISSUE_LIST_LIMIT, type ReloadReport } from '../config/reloader.ts';
import type { Snapshot } from '../decide/snapshot.ts';
import { policyRemovalRefusedEvent, type EventSink } from './events.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/** A reload's outcome as metrics, one log line and, when a policy removal is refused, a security event. */
export function reloadObserver(d: {
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly current: () => Snapshot | undefined;
  readonly events?: EventSink;
  readonly newId?: () => string;
}) {
  return (r: ReloadReport): void => {
    d.metrics.reload(r.accepted ? 'success' : 'invalid');
    if (r.accepted) {
      d.metrics.lastReloadSuccess.set(d.nowMs() / 1000);
      const s = d.current()!;
      d.logger.info({ version: r.version, zones: s.zones.length, entries: s.entryCount, policy: s.policy.name, compileMs: Math.round(r.compileMs) }, 'config loaded');
      return;
    }
    for (const c of r.issues) d.metrics.error(c.code);
    // A reload can carry 100k issues: the line names the first few and counts the rest.
    const issues = formatIssues(r.issues, ISSUE_LIST_LIMIT);
    if (r.refusedPolicyRemoval) {
      const { policy, action } = r.refusedPolicyRemoval;
      d.logger.error({ code: 'CONFIG_POLICY_REMOVED', policy, action, keeping: r.version ?? null }, 'config refused: it removes the ThreatPolicy in force; keeping the last good snapshot (restore the policy, or set action: None to stop enforcing)');
      d.events?.emit(policyRemovalRefusedEvent((d.newId ?? randomUUID)(), d.nowMs(), { policy, action, keepingVersion: r.version }));
    } else if (r.version === undefined) {
      d.logger.error({ issues, issueCount: r.issues.length }, 'config rejected; no snapshot to keep');
    } else {
      d.logger.error({ issues, issueCount: r.issues.length, keeping: r.version }, 'config rejected; keeping the last good snapshot');
    }
  };
}
