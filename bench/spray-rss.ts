// RSS under an address spray: the compiled sidecar (the image's layout, deploy/examples) is sent failed sign-ins
// from many distinct client IPs through POST /v1/outcomes (1,000 per request, as an app or a proxy would report
// them), and its RSS is sampled once the detectors track them all, against the target 80 MB + 64 B per tracked IP.
// One process per Node, sprayed in steps (every step adds new addresses to the same process). Run alone:
//   node --import tsx bench/spray-rss.ts [--quick]
import { execFileSync } from 'node:child_process';
import { request, Agent } from 'node:http';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildCompiledLayout, REPO, serveCompiled, type CompiledLayout, type ServeProcess } from '../test/helpers/compiled-build.ts';
import { markdownTable } from './lib/table.ts';

export interface SprayRow {
  readonly node: string;
  /** Node flags of the run ('' for none). */
  readonly flags: string;
  /** portcullis_tracked_ips when sampled. */
  readonly trackedIps: number;
  readonly rssMb: number;
  readonly anonMb: number;
  readonly fileMb: number;
  /** Peak RSS of the process so far (VmHWM). */
  readonly peakMb: number;
  /** 80 MB + 64 B per tracked IP. */
  readonly targetMb: number;
  /** The detector tables' typed arrays, allocated up front (portcullis_detector_memory_bytes), MB. */
  readonly tablesMb: number;
}

export interface SprayReport {
  readonly loadAvg: readonly number[];
  readonly rows: readonly SprayRow[];
}

const TOKEN = 'bench-spray-outcome-token';
const EXAMPLES = join(REPO, 'deploy/examples');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (kb: number): number => Math.round(kb / 102.4) / 10;
const agent = new Agent({ keepAlive: true, maxSockets: 2 });

function status(pid: number): { rss: number; anon: number; file: number; hwm: number } {
  const st = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN);
  return { rss: mb(kb('VmRSS')), anon: mb(kb('RssAnon')), file: mb(kb('RssFile')), hwm: mb(kb('VmHWM')) };
}

function http(port: number, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent, headers: body ? { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function gauge(port: number, name: string): Promise<number> {
  const { text } = await http(port, 'GET', '/metrics');
  return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

/** Client i: 11.0.0.0 + i (outside every zone of deploy/examples: no proxy, office or blocklist address). */
const clientIp = (i: number): string => {
  const a = (11 << 24) + i;
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
};

/** One failed sign-in on /login from each of clients [from, to), 1,000 per request, two requests in flight. */
async function spray(port: number, from: number, to: number): Promise<void> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const start = next;
      const end = Math.min(to, start + 1000);
      next = end;
      const items = [];
      for (let i = start; i < end; i++) items.push({ clientIp: clientIp(i), result: 'failure', method: 'POST', path: '/login' });
      const body = JSON.stringify(items);
      for (;;) {
        const r = await http(port, 'POST', '/v1/outcomes', body);
        if (r.status === 202) break;
        if (r.status !== 503) throw new Error(`POST /v1/outcomes answered ${r.status}: ${r.text}`);
        await sleep(200); // backlog full: resend, as the endpoint asks
      }
    }
  };
  await Promise.all([worker(), worker()]);
}

async function sprayNode(layout: CompiledLayout, node: string, flags: readonly string[], steps: readonly number[], log: (l: string) => void): Promise<SprayRow[]> {
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const s: ServeProcess = await serveCompiled(layout, EXAMPLES, ['--drain-seconds', '1', '--outcome-token', TOKEN], flags, node);
  const rows: SprayRow[] = [];
  try {
    let sent = 0;
    for (const total of [0, ...steps]) {
      if (total > sent) {
        await spray(s.httpPort, sent, total);
        sent = total;
      }
      // Learned within milliseconds of the 202; wait for the gauge, then let start-up and parse garbage settle.
      const deadline = performance.now() + 30_000;
      while ((await gauge(s.httpPort, 'portcullis_tracked_ips')) < total && performance.now() < deadline) await sleep(100);
      await sleep(total === 0 ? 12_000 : 5_000);
      const trackedIps = await gauge(s.httpPort, 'portcullis_tracked_ips');
      const tablesMb = Math.round((await gauge(s.httpPort, 'portcullis_detector_memory_bytes')) / 104857.6) / 10;
      const st = status(s.proc.pid!);
      rows.push({ node: version, flags: flags.join(' '), trackedIps, rssMb: st.rss, anonMb: st.anon, fileMb: st.file, peakMb: st.hwm, targetMb: Math.round((80 + (64 * trackedIps) / 2 ** 20) * 10) / 10, tablesMb });
      log(`spray RSS (${version} ${flags.join(' ')}): ${trackedIps} tracked IPs, ${st.rss} MB (target ${rows.at(-1)!.targetMb} MB)`);
    }
  } finally {
    await s.stop();
  }
  return rows;
}

export async function runSprayRss(quick: boolean, log: (line: string) => void = () => undefined, layout?: CompiledLayout): Promise<SprayReport> {
  const own = layout ?? buildCompiledLayout();
  const steps = quick ? [20_000] : [100_000, 250_000, 500_000];
  const image = execFileSync(process.execPath, [join(REPO, 'scripts/node.mjs'), 'path', 'image'], { encoding: 'utf8' }).trim();
  try {
    // The young generation is what grows most under a spray on Node 24 (its cap is 4x Node 20's): the same run
    // with it capped shows how much (docs/benchmarks.md has the Check CPU it costs).
    const rows = [
      ...await sprayNode(own, image, [], steps, log),
      ...await sprayNode(own, image, ['--max-semi-space-size=8'], steps, log),
      ...await sprayNode(own, process.execPath, [], steps, log),
    ];
    return { loadAvg: loadavg().map((x) => Math.round(x * 100) / 100), rows };
  } finally {
    if (!layout) own.remove();
    agent.destroy();
  }
}

export function renderSprayRss(r: SprayReport): string {
  return `load average at the end: ${r.loadAvg.join(', ')}\n\n${markdownTable(
    ['Node', 'flags', 'tracked IPs', 'RSS, MB', 'target 80 MB + 64 B/IP, MB', 'RSS − target, MB', 'private (anon), MB', 'file-backed, MB', 'peak RSS so far, MB', 'detector tables allocated, MB'],
    r.rows.map((x) => [x.node, x.flags || '–', x.trackedIps, x.rssMb, x.targetMb, Math.round((x.rssMb - x.targetMb) * 10) / 10, x.anonMb, x.fileMb, x.peakMb, x.tablesMb]),
  )}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await runSprayRss(process.argv.includes('--quick'), (l) => console.error(l));
  console.log(renderSprayRss(report));
}
