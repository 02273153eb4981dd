import { niceBucketS, timelineChart, tradeoffChart, type Bucket } from '../report/charts.ts';
import { esc, page } from '../report/html.ts';
import type { SignInRecords } from './records.ts';
import type { ReplayFigures } from './replay.ts';
import { comparisonCells, comparisonColumns } from './report.ts';

// `portcullis replay --report <file.html>`: the comparison the CLI prints (the same cells), each setting's
// trade-off (attack sources blocked against legitimate sign-ins denied), and per setting a timeline of failed
// and successful sign-ins with what it would have denied, Org Under Attack shaded.

/** Per record, whether a setting denied it (replay()'s onRecord), for the timeline. */
export type DeniedFlags = Uint8Array;

/** Failures (above) and successes (below) per time bucket; the darker part is what the setting denied. */
export function replayTimeline(records: SignInRecords, denied: DeniedFlags): { bucketS: number; durationS: number; buckets: Bucket[] } {
  const n = records.timeMs.length;
  const t0 = n ? records.timeMs[0]! : 0;
  const durationS = Math.max(1, Math.ceil(((n ? records.timeMs[n - 1]! : 0) - t0) / 1000));
  const bucketS = niceBucketS(durationS);
  const rows = Array.from({ length: Math.floor(durationS / bucketS) + 1 }, (_, i) => ({ startS: i * bucketS, upper: 0, upperRefused: 0, lower: 0, lowerRefused: 0 }));
  for (let i = 0; i < n; i++) {
    const b = rows[Math.min(rows.length - 1, Math.floor((records.timeMs[i]! - t0) / 1000 / bucketS))]!;
    const d = denied[i] === 1;
    if (records.result[i] === 0) {
      b.lower++;
      if (d) b.lowerRefused++;
    } else {
      b.upper++;
      if (d) b.upperRefused++;
    }
  }
  return { bucketS, durationS, buckets: rows };
}

export function replayHtml(path: string, records: SignInRecords, results: readonly ReplayFigures[], denied: readonly DeniedFlags[], selected: number): string {
  const t0 = records.timeMs[0] ?? 0;
  const labels = results.some((f) => f.labels !== null);
  const head = `<tr>${comparisonColumns(labels).map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const rows = results.map((f, i) => `<tr data-setting="${i}"${i === selected ? ' class="selected"' : ''}>${comparisonCells(f, labels).map((c, j) => `<td data-figure="setting.${i}.${j}">${esc(c)}</td>`).join('')}</tr>`);
  const comparison = `<table class="comparison"><caption>Settings compared (selected in bold)</caption>\n${head}\n${rows.join('\n')}\n</table>`;
  const tradeoff = tradeoffChart(
    results.map((f, i) => ({ label: f.setting, x: f.successesDenied, y: f.sourcesBlocked, selected: i === selected })),
    'successful sign-ins denied', 'sources blocked',
  );
  const timelines = results.map((f, i) => {
    const t = replayTimeline(records, denied[i]!);
    const chart = timelineChart({
      ...t,
      bands: f.attacks.map((a) => ({ fromS: Math.round((a.startMs - t0) / 100) / 10, toS: a.endMs === null ? null : Math.round((a.endMs - t0) / 100) / 10 })),
      names: ['failed sign-ins', 'failures denied', 'successful sign-ins', 'successes denied'],
    });
    return `<section class="setting" data-setting="${i}"><h3${i === selected ? ' class="selected"' : ''}>${esc(f.setting)}</h3>\n${chart}\n</section>`;
  });
  const n = records.timeMs.length;
  const span = n ? `${new Date(records.timeMs[0]!).toISOString()} to ${new Date(records.timeMs[n - 1]!).toISOString()}` : 'no records';
  const body = `<h2>Trade-off</h2>
<p>Each setting: attack sources it would have blocked against the successful sign-ins it would have denied (the users who would have noticed). Up and to the left is better.</p>
${tradeoff}
${comparison}
<h2>Timelines</h2>
<p>Time from the first record. Failed sign-ins above the line, successful ones below; darker bars are the part the setting would have denied. Shaded: Org Under Attack declared.</p>
${timelines.join('\n')}`;
  return page('Portcullis replay', `${path}: ${n} records, ${span}, ${records.addresses.length} distinct addresses. Made by portcullis replay --report.`, body);
}
