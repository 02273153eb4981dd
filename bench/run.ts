// npm run bench [-- --quick] [-- --only load|micro|redis|http|als|rss|reload|workers]
// Load comparison (bare grpc-js server vs Portcullis with 100k CIDRs, same run) and micro-benchmarks. Prints
// Markdown tables and writes the raw results as JSON under the OS temp folder (never into the repo).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad } from './load-test.ts';
import { runMicro } from './lib/micro.ts';
import { renderReport, type BenchReport } from './lib/report.ts';
import { renderRedisBench, runRedisBench } from './redis-check.ts';
import { renderHttpMode, runHttpMode } from './http-mode.ts';
import { renderAlsIngest, runAlsIngest } from './als-ingest.ts';
import { renderIdleRss, runIdleRss } from './idle-rss.ts';
import { renderSprayRss, runSprayRss } from './spray-rss.ts';
import { renderReloadUnderLoad, runReloadUnderLoad } from './reload-under-load.ts';
import { renderWorkersBench, runWorkersBench } from './workers.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const only = values.only;
const SECTIONS = ['load', 'micro', 'redis', 'http', 'als', 'rss', 'reload', 'workers'];
if (only !== undefined && !SECTIONS.includes(only)) {
  console.error(`--only must be one of ${SECTIONS.join(', ')}`);
  process.exit(2);
}
const quick = values.quick === true;
const progress = (line: string): void => console.error(`  ${line}`);

const startedAt = new Date().toISOString();
const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAvg: loadavg() };
if (machine.cpus <= 2) {
  progress(`${machine.cpus} CPUs: server and generator each get about one core, so the max-throughput figures are a lower bound`);
}
const runs = (section: string) => only === undefined || only === section;
const load = runs('load') ? await runLoad(quick, progress) : undefined;
const micro = runs('micro') ? await runMicro(quick, progress) : undefined;
// Redis store vs memory store, and the HTTP decision endpoint vs a bare node:http server: each same-run.
const redis = runs('redis') ? await runRedisBench(quick, progress) : undefined;
const http = runs('http') ? await runHttpMode(quick, progress) : undefined;
// Checks while a 1M-entry access-log stream is learned, next to the same Checks with no ingestion.
const als = runs('als') ? await runAlsIngest(quick, progress) : undefined;
// Idle RSS of the compiled build (what the image runs) against tsx and a bare Node process.
const rss = runs('rss') ? await runIdleRss(quick, progress) : undefined;
// RSS once 100k-500k distinct client IPs have sent failed sign-ins, against 80 MB + 64 B per tracked IP.
const spray = runs('rss') ? await runSprayRss(quick, progress) : undefined;
// Check latency while the 100k-CIDR file reloads: on a worker thread (as served) vs on the event loop.
const reload = runs('reload') ? await runReloadUnderLoad(quick, progress) : undefined;
// --workers 2 against --workers 1 through the CLI, h2load at full speed, taking turns.
const workers = runs('workers') ? await runWorkersBench(quick, progress) : undefined;
const report: BenchReport & { redis?: unknown; http?: unknown; als?: unknown; rss?: unknown; spray?: unknown; reload?: unknown; workers?: unknown } = { startedAt, machine, quick, load, micro, redis, http, als, rss, spray, reload, workers };

console.log(renderReport(report));
if (redis) console.log(`\n${renderRedisBench(redis)}`);
if (http) console.log(`\n${renderHttpMode(http)}`);
if (als) console.log(`\n${renderAlsIngest(als)}`);
if (rss) console.log(`\n## Idle RSS\n\n${renderIdleRss(rss)}`);
if (spray) console.log(`\n## RSS under an address spray\n\n${renderSprayRss(spray)}`);
if (reload) console.log(`\n## Reload under load\n\n${renderReloadUnderLoad(reload)}`);
if (workers) console.log(`\n${renderWorkersBench(workers)}`);
const dir = join(tmpdir(), 'portcullis-bench');
mkdirSync(dir, { recursive: true });
const file = join(dir, 'latest.json');
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nJSON: ${file}`);
