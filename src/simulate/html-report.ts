import { niceBucketS, timelineChart, type Bucket } from '../report/charts.ts';
import { esc, figureTable, page, type FigureRow } from '../report/html.ts';
import type { Action, DriveResult } from './driver.ts';
import { pct, stoppedBy, type Figures } from './report.ts';
import type { Scenario } from './scenarios.ts';

// `portcullis simulate --report <file.html>`: per scenario, the figures the CLI prints (same formatting, so the
// two can be compared word for word) and a timeline of attack attempts and refusals, legitimate sign-ins and
// denials, with the Org Under Attack periods shaded.

export interface ScenarioTimeline {
  readonly bucketS: number;
  readonly durationS: number;
  readonly buckets: readonly Bucket[];
}

/** Attempts and refusals per time bucket, counted with summarize()'s own notion of "stopped". */
export function timelineOf(scenario: Scenario, run: DriveResult, action: Action): ScenarioTimeline {
  const durationS = Math.max(1, Math.ceil(Math.max(scenario.durationMs, scenario.events.at(-1)?.atMs ?? 0) / 1000));
  const bucketS = niceBucketS(durationS);
  const n = Math.ceil(durationS / bucketS) + 1;
  const rows = Array.from({ length: n }, (_, i) => ({ startS: i * bucketS, upper: 0, upperRefused: 0, lower: 0, lowerRefused: 0 }));
  const stopped = stoppedBy(run, action);
  scenario.events.forEach((e, i) => {
    const b = rows[Math.min(n - 1, Math.floor(e.atMs / 1000 / bucketS))]!;
    const s = stopped(i);
    if (e.actor === 'attack') {
      b.upper++;
      if (s) b.upperRefused++;
    } else {
      b.lower++;
      if (s) b.lowerRefused++;
    }
  });
  while (rows.length > 1 && rows.at(-1)!.upper + rows.at(-1)!.lower === 0 && rows.at(-1)!.startS >= durationS) rows.pop();
  return { bucketS, durationS, buckets: rows };
}

const num = (v: number | null): string => (v === null ? 'never' : String(v));
const list = (xs: readonly number[]): string => (xs.length ? xs.map((s) => `${s} s`).join(', ') : 'never');

function figureRows(f: Figures): FigureRow[] {
  const l = f.legit;
  const rows: FigureRow[] = [
    { key: 'events', label: 'sign-ins simulated', value: f.events },
    { key: 'legit.signIns', label: 'legitimate sign-ins', value: l.signIns },
    { key: 'legit.failureShare', label: 'legitimate sign-ins that failed', value: pct(l.failureShare) },
    { key: 'legit.denied', label: `legitimate sign-ins ${f.action === 'Block' ? 'denied' : 'flagged'}`, value: l.denied },
    { key: 'legit.deniedShare', label: 'share of legitimate sign-ins', value: pct(l.deniedShare, 3) },
  ];
  const a = f.attack;
  if (a) {
    rows.push(
      { key: 'attack.sources', label: 'attack sources', value: a.sources },
      { key: 'attack.attempts', label: 'attack attempts', value: a.attempts },
      { key: 'attack.denied', label: `attack attempts ${f.action === 'Block' ? 'denied' : 'flagged'}`, value: a.denied },
      { key: 'attack.deniedShare', label: 'share of attack attempts', value: pct(a.deniedShare) },
      { key: 'attack.sourcesBlocked', label: 'attack sources stopped at least once', value: a.sourcesBlocked },
      { key: 'attack.sourcesBlockedShare', label: 'share of attack sources', value: pct(a.sourcesBlockedShare) },
      { key: 'attack.beforeFirstBlock.median', label: 'attempts reaching the app before the first denial (median)', value: num(a.beforeFirstBlock.median) },
      { key: 'attack.beforeFirstBlock.p95', label: 'attempts reaching the app before the first denial (p95)', value: num(a.beforeFirstBlock.p95) },
      { key: 'attack.withTenAttempts', label: 'sources with ≥ 10 attempts', value: a.withTenAttempts },
      { key: 'attack.blockedByTenth', label: 'of those, stopped by their 10th', value: a.blockedByTenth },
      { key: 'attack.successesReached', label: 'attacker sign-ins that succeeded', value: a.successesReached },
    );
  }
  rows.push(
    { key: 'org.starts', label: 'Org Under Attack declared at', value: list(f.org.starts) },
    { key: 'org.ends', label: 'Org Under Attack cleared at', value: list(f.org.ends) },
    { key: 'blocksStarted', label: 'blocks started', value: f.blocksStarted },
  );
  return rows;
}

function targetRows(f: Figures): string {
  if (!f.targets.length) return '';
  const rows = f.targets.map((t, i) => {
    const mark = t.met === undefined ? 'n/a' : t.met ? 'met' : 'MISSED';
    return `<tr><td>${esc(t.label)}</td><td data-figure="target.${i}.value">${esc(t.value)}</td><td data-figure="target.${i}.met" class="${t.met === false ? 'missed' : 'met'}">${mark}</td></tr>`;
  });
  return `<table class="targets"><caption>Targets</caption><tr><th>target</th><th>value</th><th></th></tr>\n${rows.join('\n')}\n</table>`;
}

export interface SimulateReportMeta {
  readonly seed: number;
  readonly action: Action;
  readonly scale: number;
  readonly alsFlushMs: number;
}

export function simulateHtml(runs: readonly { figures: Figures; timeline: ScenarioTimeline }[], meta: SimulateReportMeta): string {
  const sections = runs.map(({ figures: f, timeline: t }) => {
    const verb = f.action === 'Block' ? 'refused' : 'flagged';
    const chart = timelineChart({
      buckets: t.buckets, bucketS: t.bucketS, durationS: t.durationS,
      bands: f.org.starts.map((s) => ({ fromS: s, toS: f.org.ends.find((e) => e >= s) ?? null })),
      names: ['attack attempts', `attack attempts ${verb}`, 'legitimate sign-ins', `legitimate ${verb}`],
    });
    return `<section class="scenario" data-scenario="${esc(f.name)}">
<h2>${esc(f.name)}: ${esc(f.title)}</h2>
<p>Attack traffic above the line, legitimate users below; darker bars are the part ${verb}. Shaded: Org Under Attack declared.</p>
${chart}
${figureTable(figureRows(f))}
${targetRows(f)}
</section>`;
  });
  const subtitle = `seed ${meta.seed}, policy action ${meta.action}, scale ${meta.scale}, access-log flush ${meta.alsFlushMs} ms; ${runs.length} scenario(s). Made by portcullis simulate --report.`;
  return page('Portcullis simulation', subtitle, sections.join('\n'));
}
