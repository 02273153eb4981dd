import { compile } from './compile.ts';
import type { FeedConfig } from '../feeds/config.ts';
import type { SourceBatch } from './source.ts';
import { describeIssue, type ConfigIssue } from '../api/objects.ts';
import type { SnapshotHolder } from './snapshot-holder.ts';

export interface ReloadReport {
  readonly accepted: boolean;
  readonly version: number | undefined;
  readonly issues: readonly ConfigIssue[];
  readonly compileMs: number;
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
  ) {}

  get lastReport(): ReloadReport | undefined {
    return this.#lastReport;
  }

  apply(batch: SourceBatch): ReloadReport {
    const started = performance.now();
    let report: ReloadReport;
    if (batch.issues.length > 0) {
      report = { accepted: false, version: this.holder.current?.version, issues: batch.issues, compileMs: 0 };
    } else {
      const result = compile(batch.objects, this.#version + 1, this.nowMs());
      const compileMs = performance.now() - started;
      if (result.issues.length > 0) {
        report = { accepted: false, version: this.holder.current?.version, issues: result.issues, compileMs };
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

export function formatIssues(issues: readonly ConfigIssue[]): string[] {
  return issues.map(describeIssue);
}
