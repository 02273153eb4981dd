// npm run bench [-- --quick] [-- --only load|micro]
// Load comparison (bare grpc-js server vs Portcullis with 100k CIDRs, same run) and micro-benchmarks. Prints
// Markdown tables and writes the raw results as JSON under the OS temp folder (never into the repo).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './load-test.ts';
import { runMicro } from './lib/micro.ts';
import { renderReport, type BenchReport } from './lib/report.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const only = values.only;
if (only !== undefined && only !== 'load' && only !== 'micro') {
  console.error('--only must be "load" or "micro"');
  process.exit(2);
}
const quick = values.quick === true;
const progress = (line: string): void => console.error(`  ${line}`);

const startedAt = new Date().toISOString();
const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAvg: loadavg() };
if (machine.cpus <= 2) {
  progress(`${machine.cpus} CPUs: server and generator each get about one core, so the max-throughput figures are a lower bound`);
}
const load = only !== 'micro' ? await runLoad(quick, progress) : undefined;
const micro = only !== 'load' ? await runMicro(quick, progress) : undefined;
const report: BenchReport = { startedAt, machine, quick, load, micro };

console.log(renderReport(report));
const dir = join(tmpdir(), 'portcullis-bench');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'latest.json');
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nJSON: ${file}`);
