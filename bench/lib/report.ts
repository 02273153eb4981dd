// Renders the results as Markdown tables: printed by `npm run bench` and pasted into docs/benchmarks.md.
import type { LoadReport } from '../load-test.ts';
import { MICRO_TARGETS, type MicroReport } from './micro.ts';
import { formatNumber, markdownTable } from './table.ts';

export interface BenchReport {
  readonly startedAt: string;
  readonly machine: { readonly cpus: number; readonly model: string; readonly node: string; readonly loadAvg: readonly number[] };
  readonly quick: boolean;
  readonly load?: LoadReport;
  readonly micro?: MicroReport;
}

const pass = (ok: boolean): string => (ok ? 'yes' : '**no**');

export function renderLoad(l: LoadReport): string {
  const out: string[] = [];
  out.push(`Portcullis: ${l.portcullis.entries} entries, started in ${l.portcullis.startMs} ms, RSS ${l.portcullis.rssMb} MB (bare server: ${l.bareRssMb} MB).`);
  out.push(`Request pool: ${l.verify.requests} CheckRequests, ${l.verify.fromBlocklist} with a blocklisted client; Portcullis denied ${l.verify.deniedByPortcullis} (the rest of the random blocklist covers some random clients too).`);
  out.push('', 'Latency in µs. open-loop: scheduled send → answer; h2load: actual send → answer.', '');
  out.push(markdownTable(
    ['generator', 'server', 'body', 'target/s', 'checks/s', 'p50', 'p99', 'p99.9', 'max', 'errors', 'server CPU %', 'CPU µs/check', 'GC young %', 'GC old %', 'gen CPU %', 'others CPU %', 'send lag p99'],
    l.rows.map((r) => [r.generator, r.server, r.body ?? 'mix', r.target ?? 'max', r.achieved, r.p50Us, r.p99Us, r.p999Us, r.maxUs, r.errors, r.serverCpu, r.cpuUsPerCheck, r.gcMinorPercent, r.gcMajorPercent, r.generatorCpu, r.othersCpu, r.sendLagP99Us]),
  ));
  const openLoop = l.rows.filter((r) => r.generator === 'open-loop');
  if (openLoop.length > 0) {
    out.push('', 'open-loop, service time (actual send → answer, µs; excludes generator lateness):', '');
    out.push(markdownTable(['server', 'target/s', 'p50', 'p99', 'denied'], openLoop.map((r) => [r.server, r.target, r.serviceP50Us, r.serviceP99Us, r.denied])));
  }
  out.push('', 'Ratios, Portcullis / bare:', '');
  const rows: (string | number | undefined)[][] = [];
  for (const m of l.maxThroughput) {
    const runs = m.undisturbedOnly ? 'undisturbed runs' : 'all runs, none undisturbed';
    rows.push([`max throughput, ${m.body} (h2load, median of ${runs})`, `${m.portcullis.join(', ')} / ${m.bare.join(', ')}`, m.ratio, '≥ 0.85', pass(m.ratio >= 0.85)]);
    rows.push([`  same, implied by server CPU per check`, 'bare µs/check ÷ Portcullis µs/check', m.cpuImpliedRatio, '≥ 0.85', pass(m.cpuImpliedRatio >= 0.85)]);
  }
  for (const r of l.ratios) {
    rows.push([`@ ${r.target}/s (${r.generator})`, `latency p50 ${r.p50}, p99 ${r.p99}, p99.9 ${r.p999}; CPU per check ${r.cpuPerCheck}`, undefined, undefined, undefined]);
  }
  out.push(markdownTable(['measure', 'values', 'ratio', 'target', 'met'], rows));
  return out.join('\n');
}

export function renderMicro(m: MicroReport): string {
  const out: string[] = [];
  out.push(markdownTable(['target', 'measured', 'limit', 'met'], MICRO_TARGETS.map((t) => {
    const v = m.sections[t.section]?.[t.key];
    return [t.name, v === undefined ? 'not measured' : `${formatNumber(v)} ${t.unit}`, `≤ ${t.limit} ${t.unit}`, v === undefined ? '–' : pass(v <= t.limit)];
  })));
  for (const [name, values] of Object.entries(m.sections)) {
    out.push('', `${name}:`, '', markdownTable(['figure', 'value'], Object.entries(values).map(([k, v]) => [k, v])));
  }
  return out.join('\n');
}

export function renderReport(r: BenchReport): string {
  const out = [`Run ${r.startedAt}${r.quick ? ' (--quick)' : ''}: ${r.machine.cpus} × ${r.machine.model}, Node ${r.machine.node}, load average at start ${r.machine.loadAvg.map((x) => x.toFixed(2)).join(' ')}`];
  if (r.load) out.push('', '## Load', '', renderLoad(r.load));
  if (r.micro) out.push('', '## Micro-benchmarks', '', renderMicro(r.micro));
  const notes = [...(r.load?.notes ?? []), ...(r.micro?.notes ?? [])];
  if (notes.length > 0) out.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return out.join('\n');
}
