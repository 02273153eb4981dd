import { stringify } from 'yaml';
import { changedDetectionSpec } from '../config/detection.ts';
import type { SignInRecords } from './records.ts';
import type { ReplayFigures } from './replay.ts';
import type { ReplaySetting } from './settings.ts';

const iso = (ms: number): string => new Date(ms).toISOString();
const pct = (x: number, d = 2): string => `${(x * 100).toFixed(d)}%`;

/** Input summary: what was read, how times and usernames were taken, what was skipped and where. */
export function formatInput(path: string, r: SignInRecords, seeded: boolean, maxBad = 20): string {
  const n = r.timeMs.length;
  const lines = [
    `replay of ${path} (${r.format}): ${n} records${n ? `, ${iso(r.timeMs[0]!)} to ${iso(r.timeMs[n - 1]!)}` : ''}, ${r.addresses.length} distinct addresses`,
  ];
  if (r.zoneless) lines.push(`  ${r.zoneless} ${r.zoneless === 1 ? 'time has' : 'times have'} no zone: read as ${r.timezone}${r.timezone === 'UTC' ? ' (--timezone to change)' : ' (--timezone)'}`);
  lines.push(seeded ? '  usernames hashed with the --seed key: every figure is reproducible' : '  usernames hashed with a random key: spray estimates may move by a name between runs (--seed N fixes them)');
  if (r.label) {
    const attacks = r.label.filter((l) => l === 1).length;
    const legit = r.label.filter((l) => l === 0).length;
    lines.push(`  labels: ${attacks} attack and ${legit} legitimate records (${n - attacks - legit} unlabelled); successes labelled attack are not false positives`);
  }
  if (r.outOfOrder) lines.push(`  ${r.outOfOrder} ${r.outOfOrder === 1 ? 'record was' : 'records were'} earlier than the line before (all sorted before replay)`);
  if (r.bad.length) {
    lines.push(`  ${r.bad.length} bad ${r.bad.length === 1 ? 'line' : 'lines'} skipped:`);
    for (const b of r.bad.slice(0, maxBad)) lines.push(`    line ${b.line}: ${b.reason}`);
    if (r.bad.length > maxBad) lines.push(`    … and ${r.bad.length - maxBad} more (--json lists them all)`);
  }
  return lines.join('\n');
}

function attacksCell(f: ReplayFigures): string {
  if (!f.attacks.length) return 'never';
  return f.attacks.map((a) => `${iso(a.startMs).slice(11, 19)}–${a.endMs === null ? 'still on' : iso(a.endMs).slice(11, 19)}`).join(', ');
}

/** Column titles of the comparison (the CLI's table and the HTML report's); precision and recall with labels. */
export function comparisonColumns(labels: boolean): string[] {
  const base = ['Setting', 'Sources blocked (HIGH)', 'Attempts denied', 'Successful sign-ins denied (false positives)', 'Sources with a denied success', 'Failures denied', 'Org Under Attack (UTC)'];
  return labels ? [...base, 'Precision (refused that were attacks)', 'Recall (attacks refused)'] : base;
}

/** One setting's row of the comparison, as text cells. */
export function comparisonCells(f: ReplayFigures, labels: boolean): string[] {
  const attempts = f.records ? pct(f.denied / f.records) : '—';
  const cells = [f.setting, `${f.sourcesBlocked} (${f.sourcesBlockedHigh})`, `${f.denied} (${attempts})`, `${f.successesDenied} of ${f.successes} (${pct(f.falsePositiveShare, 3)})`, String(f.sourcesWithDeniedSuccess), String(f.failuresDenied), attacksCell(f)];
  if (!labels) return cells;
  const l = f.labels;
  const share = (x: number | null | undefined, of: number): string => (x === null || x === undefined ? '—' : `${pct(x, 1)} (${of})`);
  return [...cells, share(l?.precision, (l?.attacksDenied ?? 0) + (l?.legitimateDenied ?? 0)), share(l?.recall, l?.attackAttempts ?? 0)];
}

/** The comparison across settings, as a Markdown table. */
export function formatComparison(all: readonly ReplayFigures[], selected: number): string {
  const labels = all.some((f) => f.labels !== null);
  const columns = comparisonColumns(labels);
  const rows = [`| ${columns.join(' | ')} |`, `|${' --- |'.repeat(columns.length)}`];
  all.forEach((f, i) => {
    const [name, ...rest] = comparisonCells(f, labels);
    rows.push(`| ${[i === selected ? `**${name}**` : name, ...rest].join(' | ')} |`);
  });
  return rows.join('\n');
}

/** Blocked sources of one setting, by first block time. */
export function formatBlocked(f: ReplayFigures, max = 50): string {
  if (!f.blocked.length) return `${f.setting}: no source would have been blocked.`;
  const lines = [
    `${f.setting}: ${f.blocked.length} sources blocked${f.blocked.length > max ? ` (first ${max}; --json lists all)` : ''}`,
    `  ${'source'.padEnd(28)} ${'first block (UTC)'.padEnd(24)} ${'level'.padEnd(6)} ${'let through'.padStart(11)} ${'denied'.padStart(7)} ${'ok denied'.padStart(9)}  reasons`,
  ];
  for (const b of f.blocked.slice(0, max)) {
    const reasons = Object.entries(b.reasons).map(([r, l]) => `${r}=${l}`).join(', ');
    lines.push(`  ${b.source.padEnd(28)} ${iso(b.firstBlockMs).padEnd(24)} ${b.firstBlockLevel.padEnd(6)} ${String(b.allowedBeforeBlock).padStart(11)} ${String(b.denied).padStart(7)} ${String(b.successesDenied).padStart(9)}  ${reasons}`);
  }
  return lines.join('\n');
}

/** The ThreatPolicy fragment that deploys a setting: its spec.detection fields that differ from the defaults. */
export function formatDeploy(s: ReplaySetting): string {
  const changed = changedDetectionSpec(s.snapshot.policy.detection);
  if (Object.keys(changed).length === 0) return `To deploy ${s.name}: no spec.detection field needed (the defaults).`;
  const yaml = stringify({ spec: { detection: changed } }, { indent: 2 }).trimEnd();
  return `To deploy ${s.name}, the ThreatPolicy needs (the rest of spec.detection at its defaults):\n${yaml.split('\n').map((l) => `  ${l}`).join('\n')}`;
}
