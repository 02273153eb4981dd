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
  const la = (xs: readonly number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  out.push(`Load average at start ${la(l.loadAvg.start)}, at end ${la(l.loadAvg.end)}. h2load ${l.plan.clients} connections × ${l.plan.streams} streams, ${l.plan.durationS} s measured after ${l.plan.warmupS} s warm-up.`);
  out.push(`Portcullis: ${l.portcullis.entries} entries, started in ${l.portcullis.startMs} ms. Requests: ${Object.entries(l.requests).map(([n, b]) => `${n} ${b} bytes`).join(', ')}.`);
  out.push(`RSS after the runs, MB: ${Object.entries(l.rssMb).map(([n, mb]) => `${n} ${mb}`).join(', ')}.`);
  out.push(`Verification: ${l.verify.requests} CheckRequests through a grpc-js client, ${l.verify.fromBlocklist} with a planted blocklisted client; denied: ${Object.entries(l.verify.denied).map(([n, d]) => `${n} ${d}`).join(', ')}.`);
  out.push('', 'Latency in ms, h2load actual send → end of response.', '');
  const ms = (us: number): number => Math.round(us / 10) / 100;
  out.push(markdownTable(
    ['server', 'body', 'target/s', 'checks/s', 'p50', 'p99', 'p99.9', 'max', 'errors', 'server CPU %', 'CPU µs/check', 'GC young %', 'GC old %', 'h2load CPU %', 'others CPU %', 'load 1m'],
    l.rows.map((r) => [r.server, r.body, r.target ?? 'max', r.achieved, ms(r.p50Us), ms(r.p99Us), ms(r.p999Us), ms(r.maxUs), r.errors, r.serverCpu, r.cpuUsPerCheck, r.gcMinorPercent, r.gcMajorPercent, r.generatorCpu, r.othersCpu, r.loadAvg1]),
  ));
  out.push('', 'Maximum throughput, median checks/s (CPU µs per check):', '');
  const names = l.maxThroughput[0] ? Object.keys(l.maxThroughput[0].median) : [];
  out.push(markdownTable(['body', 'runs used', ...names], l.maxThroughput.map((m) => [
    m.body, m.undisturbedOnly ? 'undisturbed' : 'all (none undisturbed)',
    ...names.map((n) => `${m.median[n as keyof typeof m.median]} (${m.cpuUsPerCheck[n as keyof typeof m.cpuUsPerCheck]})`),
  ])));
  out.push('', `Ratios (same run; load average ${la(l.loadAvg.start)} → ${la(l.loadAvg.end)}):`, '');
  out.push(markdownTable(['measure', 'ratio', 'implied by CPU/check', 'target', 'met'], l.ratios.map((r) => {
    const lowerIsBetter = r.measure.includes('p99 /');
    const met = r.target === undefined ? '–' : pass(lowerIsBetter ? r.value <= r.target : r.value >= r.target);
    return [r.measure, r.value, r.cpuImplied, r.target === undefined ? '–' : `${lowerIsBetter ? '≤' : '≥'} ${r.target}`, met];
  })));
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
