import { ALLOWED, type Action, type DriveResult } from './driver.ts';
import type { Scenario } from './scenarios.ts';

/** The issue's targets. */
export const TARGETS = Object.freeze({ blockedBy10thShare: 0.95, attemptLimit: 10, legitDeniedShare: 0.001, declareWithinS: 60, clearSlackS: 60 });

export interface TargetResult {
  readonly label: string;
  readonly value: string;
  /** undefined: does not apply to this scenario. */
  readonly met: boolean | undefined;
}

export interface GroupFigures {
  readonly group: string;
  readonly sources: number;
  readonly attempts: number;
  readonly sourcesBlocked: number;
  /** Attempts that reached the app before the source's first denial; null: never denied (median over sources). */
  readonly beforeFirstBlockMedian: number | null;
}

export interface Figures {
  readonly name: string;
  readonly title: string;
  readonly action: Action;
  readonly events: number;
  readonly wallMs: number;
  readonly legit: { readonly signIns: number; readonly failureShare: number; readonly denied: number; readonly deniedShare: number };
  readonly attack?: {
    readonly sources: number;
    readonly attempts: number;
    readonly denied: number;
    readonly deniedShare: number;
    readonly sourcesBlocked: number;
    readonly sourcesBlockedShare: number;
    /** Over every source; null where that rank was never denied. */
    readonly beforeFirstBlock: { readonly median: number | null; readonly p95: number | null };
    /** Sources that made at least 10 attempts, and how many of them were denied by their 10th. */
    readonly withTenAttempts: number;
    readonly blockedByTenth: number;
    /** Attack sign-ins that reached the app and succeeded (accounts taken over). */
    readonly successesReached: number;
    readonly groups: readonly GroupFigures[];
  };
  readonly org: {
    /** Seconds from the scenario start. */
    readonly starts: readonly number[];
    readonly ends: readonly number[];
    /** Seconds from the attack traffic's start to the declaration, and from its end to the clear. */
    readonly declaredAfterS: number | null;
    readonly clearedAfterS: number | null;
    readonly cooldownS: number;
  };
  readonly blocksStarted: number;
  readonly blockReasons: Readonly<Record<string, number>>;
  readonly targets: readonly TargetResult[];
}

/** nearest-rank percentile; Infinity stands for "never denied". */
function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const v = sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  return Number.isFinite(v) ? v : null;
}

interface SourceTally { attempts: number; before: number; firstStopped: number; group: string }

/** Whether event i was stopped: denied (Block), or flagged MEDIUM or HIGH (Audit: what Block would enforce). */
export function stoppedBy(run: DriveResult, action: Action): (i: number) => boolean {
  return (i) => (action === 'Block' ? run.answers[i] !== ALLOWED : run.levels[i]! >= 2);
}

/**
 * Figures of one run. "Denied" in Block mode is a 403 or 429 from Portcullis (the attempt never reached the
 * app); in Audit mode nothing is denied, so it means "flagged MEDIUM or HIGH" (what Block would enforce).
 */
export function summarize(scenario: Scenario, run: DriveResult, action: Action): Figures {
  const stopped = stoppedBy(run, action);
  let legit = 0;
  let legitFailed = 0;
  let legitDenied = 0;
  let attempts = 0;
  let attackDenied = 0;
  let successesReached = 0;
  const sources = new Map<string, SourceTally>();
  scenario.events.forEach((e, i) => {
    const s = stopped(i);
    if (e.actor === 'legit') {
      legit++;
      if (e.result !== 'success') legitFailed++;
      if (s) legitDenied++;
      return;
    }
    attempts++;
    if (s) attackDenied++;
    else if (e.result === 'success') successesReached++;
    let t = sources.get(e.source);
    if (!t) sources.set(e.source, (t = { attempts: 0, before: 0, firstStopped: 0, group: e.group ?? '' }));
    t.attempts++;
    if (t.firstStopped === 0) {
      if (s) t.firstStopped = t.attempts;
      else t.before++;
    }
  });
  const tallies = [...sources.values()];
  const beforeOf = (t: SourceTally): number => (t.firstStopped > 0 ? t.before : Infinity);
  const sortedBefore = tallies.map(beforeOf).sort((a, b) => a - b);
  const ten = tallies.filter((t) => t.attempts >= TARGETS.attemptLimit);
  const groupNames = [...new Set(tallies.map((t) => t.group))].sort((x, y) => x.localeCompare(y, 'en', { numeric: true }));
  const groups = groupNames.map((g) => {
    const ts = tallies.filter((t) => t.group === g);
    return {
      group: g,
      sources: ts.length,
      attempts: ts.reduce((s, t) => s + t.attempts, 0),
      sourcesBlocked: ts.filter((t) => t.firstStopped > 0).length,
      beforeFirstBlockMedian: percentile(ts.map(beforeOf).sort((a, b) => a - b), 0.5),
    };
  });

  const sec = (ms: number): number => Math.round(ms / 100) / 10;
  const w = scenario.attackWindow;
  const start = w ? run.attackStarts.find((t) => t >= w.fromMs) : undefined;
  const end = start !== undefined ? run.attackEnds.find((t) => t > start) : undefined;
  const org = {
    starts: run.attackStarts.map(sec),
    ends: run.attackEnds.map(sec),
    declaredAfterS: w && start !== undefined ? sec(start - w.fromMs) : null,
    clearedAfterS: w && end !== undefined ? sec(end - w.toMs) : null,
    cooldownS: sec(run.cooldownMs),
  };
  const attack = attempts === 0 ? undefined : {
    sources: tallies.length,
    attempts,
    denied: attackDenied,
    deniedShare: attackDenied / attempts,
    sourcesBlocked: tallies.filter((t) => t.firstStopped > 0).length,
    sourcesBlockedShare: tallies.filter((t) => t.firstStopped > 0).length / tallies.length,
    beforeFirstBlock: { median: percentile(sortedBefore, 0.5), p95: percentile(sortedBefore, 0.95) },
    withTenAttempts: ten.length,
    blockedByTenth: ten.filter((t) => t.firstStopped > 0 && t.firstStopped <= TARGETS.attemptLimit).length,
    successesReached,
    groups,
  };
  const figures = {
    name: scenario.name,
    title: scenario.title,
    action,
    events: scenario.events.length,
    wallMs: Math.round(run.wallMs),
    legit: { signIns: legit, failureShare: legit ? legitFailed / legit : 0, denied: legitDenied, deniedShare: legit ? legitDenied / legit : 0 },
    attack,
    org,
    blocksStarted: run.blocksStarted,
    blockReasons: run.blockReasons,
  };
  return { ...figures, targets: targets(scenario, figures) };
}

function targets(scenario: Scenario, f: Omit<Figures, 'targets'>): TargetResult[] {
  const out: TargetResult[] = [];
  const a = f.attack;
  if (a) {
    const share = a.withTenAttempts ? a.blockedByTenth / a.withTenAttempts : 0;
    out.push({
      label: `attack IPs blocked by their 10th attempt ≥ ${pct(TARGETS.blockedBy10thShare, 0)}`,
      value: a.withTenAttempts ? `${pct(share)} (${a.blockedByTenth}/${a.withTenAttempts} IPs with ≥ 10 attempts)` : 'no attack IP made 10 attempts',
      met: a.withTenAttempts ? share >= TARGETS.blockedBy10thShare : undefined,
    });
  }
  if (f.legit.signIns > 0) {
    out.push({ label: `legitimate sign-ins denied ≤ ${pct(TARGETS.legitDeniedShare)}`, value: `${pct(f.legit.deniedShare, 3)} (${f.legit.denied}/${f.legit.signIns})`, met: f.legit.deniedShare <= TARGETS.legitDeniedShare });
  }
  const o = f.org;
  if (scenario.surge) {
    const on = o.declaredAfterS !== null && o.declaredAfterS <= TARGETS.declareWithinS;
    const off = o.clearedAfterS !== null && o.clearedAfterS >= o.cooldownS && o.clearedAfterS <= o.cooldownS + TARGETS.clearSlackS;
    const once = o.starts.length === 1 && o.ends.length === 1;
    out.push({
      label: `attack declared ≤ ${TARGETS.declareWithinS} s after the surge, cleared after the ${o.cooldownS} s cool-down, once`,
      value: `declared ${secs(o.declaredAfterS)}, cleared ${secs(o.clearedAfterS)} after the surge ended; ${o.starts.length} start / ${o.ends.length} end`,
      met: on && off && once,
    });
  } else if (!scenario.attackWindow) {
    out.push({ label: 'no Org Under Attack false alarm (extra check)', value: o.starts.length ? `declared at ${o.starts.map((s) => `${s} s`).join(', ')}` : 'never declared', met: o.starts.length === 0 });
  }
  return out;
}

export function pct(x: number, digits = 1): string {
  return `${(x * 100).toFixed(digits)}%`;
}

function secs(s: number | null): string {
  return s === null ? 'never' : `${s} s`;
}

const num = (v: number | null): string => (v === null ? 'never' : String(v));
const mark = (m: boolean | undefined): string => (m === undefined ? 'n/a' : m ? 'met' : 'MISSED');

/** Human-readable block for one scenario. */
export function formatFigures(f: Figures): string {
  const verb = f.action === 'Block' ? 'denied' : 'flagged';
  const lines = [`== ${f.name}: ${f.title}`, `   ${f.events} sign-ins simulated in ${(f.wallMs / 1000).toFixed(1)} s (policy action ${f.action})`];
  const l = f.legit;
  lines.push(`   legitimate   ${l.signIns} sign-ins, ${pct(l.failureShare)} failed; ${verb} ${l.denied} (${pct(l.deniedShare, 3)})`);
  const a = f.attack;
  if (a) {
    lines.push(
      `   attack       ${a.sources} sources, ${a.attempts} attempts, ${pct(a.deniedShare)} ${verb}; ${a.sourcesBlocked} sources ${verb} at least once (${pct(a.sourcesBlockedShare)})`,
      `                attempts reaching the app before the first denial: median ${num(a.beforeFirstBlock.median)}, p95 ${num(a.beforeFirstBlock.p95)}`,
      `                ${a.withTenAttempts} sources made ≥ 10 attempts; ${a.blockedByTenth} ${verb} by their 10th. Attacker sign-ins that succeeded: ${a.successesReached}`,
    );
    if (a.groups.length > 1) {
      for (const g of a.groups) lines.push(`     ${g.group.padEnd(28)} ${g.sources} sources, ${g.attempts} attempts, ${g.sourcesBlocked} ${verb}; median before first denial ${num(g.beforeFirstBlockMedian)}`);
    }
  }
  const o = f.org;
  lines.push(`   org attack   ${o.starts.length ? `declared at ${o.starts.map((s) => `${s} s`).join(', ')}; cleared at ${o.ends.map((s) => `${s} s`).join(', ') || 'never'}` : 'never declared'}${o.declaredAfterS !== null ? ` (${o.declaredAfterS} s after the attack began, cleared ${secs(o.clearedAfterS)} after it ended)` : ''}`);
  const reasons = Object.entries(f.blockReasons).map(([r, c]) => `${r} ×${c}`).join(', ');
  lines.push(`   blocks       ${f.blocksStarted} started${reasons ? ` (${reasons})` : ''}`);
  for (const t of f.targets) lines.push(`   target       ${t.label}: ${t.value} — ${mark(t.met)}`);
  return lines.join('\n');
}

/** One Markdown table across scenarios (what docs/simulation.md records). */
export function formatTable(all: readonly Figures[]): string {
  const rows = [
    '| Scenario | Legit sign-ins (failed) | Legit denied | Attack sources | Sources blocked | Blocked by 10th attempt | Attempts before 1st block (median / p95) | Attack attempts denied | Org attack declared / cleared | Targets |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const f of all) {
    const a = f.attack;
    const o = f.org;
    const orgCell = o.starts.length === 0 ? 'never' : o.declaredAfterS !== null ? `+${o.declaredAfterS} s / ${o.clearedAfterS === null ? 'not cleared' : `+${o.clearedAfterS} s`}` : `at ${o.starts.join(', ')} s`;
    rows.push(`| ${[
      f.name,
      `${f.legit.signIns} (${pct(f.legit.failureShare)})`,
      `${pct(f.legit.deniedShare, 3)} (${f.legit.denied})`,
      a ? String(a.sources) : '—',
      a ? pct(a.sourcesBlockedShare) : '—',
      a ? (a.withTenAttempts ? `${a.blockedByTenth}/${a.withTenAttempts}` : 'n/a (none made 10)') : '—',
      a ? `${num(a.beforeFirstBlock.median)} / ${num(a.beforeFirstBlock.p95)}` : '—',
      a ? pct(a.deniedShare) : '—',
      orgCell,
      f.targets.map((t) => mark(t.met)).join(', '),
    ].join(' | ')} |`);
  }
  return rows.join('\n');
}
