import { compile, isImplicitPolicy } from './compile.ts';
import { DEFAULT_DETECTION, type DetectionSettings } from '../detect/detection.ts';
import type { FeedConfig } from '../feeds/config.ts';
import type { SourceBatch } from './source.ts';
import { describeIssue, type ConfigIssue } from '../api/objects.ts';
import type { Snapshot } from '../decide/snapshot.ts';
import { PortcullisError } from '../errors.ts';
import { bounded, boundedList, LIST_LIMIT, TEXT_LIMITS } from '../bounded.ts';
import type { SnapshotHolder } from './snapshot-holder.ts';

export interface ReloadReport {
  readonly accepted: boolean;
  readonly version: number | undefined;
  readonly issues: readonly ConfigIssue[];
  readonly compileMs: number;
  /**
   * Set when a config that compiled was refused anyway: it drops the ThreatPolicy in force, and the implicit
   * Audit policy taking its place would lift every block without anyone deciding so.
   */
  readonly refusedPolicyRemoval?: { readonly policy: string; readonly action: string };
}

/**
 * Turns source batches into snapshots. File config is all-or-nothing: one bad object rejects the reload and
 * the previous snapshot keeps serving, so a typo can never silently drop a blocklist.
 */
export class Reloader {
  #version = 0;
  #lastReport: ReloadReport | undefined;

  constructor(
    private readonly holder: SnapshotHolder,
    private readonly nowMs: () => number,
    private readonly onReport: (r: ReloadReport) => void = () => undefined,
    /** The feed part of an accepted config, handed over right after the swap (same tick, before any Check). */
    private readonly onFeeds: (f: FeedConfig) => void = () => undefined,
    /** What spec.detection leaves unset. */
    private readonly detectionDefaults: DetectionSettings = DEFAULT_DETECTION,
  ) {}

  get lastReport(): ReloadReport | undefined {
    return this.#lastReport;
  }

  apply(batch: SourceBatch): ReloadReport {
    const started = performance.now();
    const current = this.holder.current;
    let report: ReloadReport;
    if (batch.issues.length > 0) {
      report = { accepted: false, version: current?.version, issues: batch.issues, compileMs: 0 };
    } else {
      const result = compile(batch.objects, this.#version + 1, this.nowMs(), this.detectionDefaults, batch.zones);
      const compileMs = performance.now() - started;
      if (result.issues.length > 0) {
        report = { accepted: false, version: current?.version, issues: result.issues, compileMs };
      } else if (current && !isImplicitPolicy(current.policy) && isImplicitPolicy(result.snapshot.policy)) {
        report = { accepted: false, version: current.version, issues: [policyRemovedIssue(current)], compileMs, refusedPolicyRemoval: { policy: current.policy.name, action: current.policy.action } };
      } else {
        this.#version += 1;
        this.holder.swap(result.snapshot);
        this.onFeeds(result.feeds);
        report = { accepted: true, version: this.#version, issues: [], compileMs };
      }
    }
    this.#lastReport = report;
    this.onReport(report);
    return report;
  }
}

function policyRemovedIssue(current: Snapshot): ConfigIssue {
  const { name, action } = current.policy;
  const object = current.objects.find((o) => o.kind === 'ThreatPolicy' && o.name === name);
  return {
    origin: object?.origin ?? { source: '(previous config)' },
    kind: 'ThreatPolicy',
    name,
    code: 'CONFIG_POLICY_REMOVED',
    message: `the ThreatPolicy in force (action ${action}) is no longer in the config; the reload is refused so its blocks are not lifted unseen. `
      + 'Restore it, or replace it with a ThreatPolicy that says what you want (action: None stops enforcing).',
  };
}

/** Issue lists in logs and error messages: the first LIMIT, then how many more (a reload can carry 100k). */
export const ISSUE_LIST_LIMIT = LIST_LIMIT;

/** One line per issue (each capped in length), the first `limit` of them and then how many more. */
export function formatIssues(issues: readonly ConfigIssue[], limit = Infinity): string[] {
  return boundedList(issues, (i) => bounded(describeIssue(i), TEXT_LIMITS.message), limit);
}

/** Start-up is fail-fast (as Envoy's is): no snapshot yet means nothing safe to serve, so the process exits. */
export function startupConfigError(report: ReloadReport | undefined): PortcullisError {
  const issues = report?.issues ?? [];
  const lines = formatIssues(issues, ISSUE_LIST_LIMIT).map((l) => `  ${l}`).join('\n');
  return new PortcullisError(issues[0]?.code ?? 'CONFIG_IO', `no valid config at start-up (${issues.length} problem(s)):\n${lines}`);
}
