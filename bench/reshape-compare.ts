// npm run bench:compare [-- --base <git ref>] [-- --rounds N] [-- --seconds S]
// Same-run comparison of the Check path against an earlier tree (default: the commit before the issue-12
// reshape): both trees run `portcullis serve` on the bundled example config as their own processes (through
// tsx, so both pay the same loader), and h2load drives one and then the other, alternating, with the same
// sign-in POST. Rounds alternate so that machine noise (this is a shared 2-core box) hits both alike; the
// figure is the median of the per-round throughput ratios, printed with the load average.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './lib/child.ts';
import { h2loadAvailable, runH2load, type H2loadResult } from './lib/h2load.ts';
import { grpcFrame, requestPool } from './lib/requests.ts';

/** Parent of "reshape step 1": the tree issue 12 started from. */
const DEFAULT_BASE = '242b49e~1';

const { values } = parseArgs({ options: { base: { type: 'string', default: DEFAULT_BASE }, rounds: { type: 'string', default: '3' }, seconds: { type: 'string', default: '8' } } });
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
if (!h2loadAvailable()) throw new Error('h2load is missing: apt-get install nghttp2-client (npm run provision installs it)');

function worktree(ref: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-base-'));
  const r = spawnSync('git', ['-C', REPO_ROOT, 'worktree', 'add', '--detach', dir, ref], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git worktree add ${ref}: ${r.stderr}`);
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

interface Served { readonly proc: ChildProcess; readonly port: number }

/** `serve` from a tree, every listener on port 0; resolves with the gRPC port from the "listening" log line. */
function serve(root: string, extra: string[]): Promise<Served> {
  // bin/portcullis.js runs src/ through tsx in a checkout, in both trees.
  const args = ['bin/portcullis.js', 'serve', '--config', 'deploy/examples', '--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--log-level', 'info', ...extra];
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PORTCULLIS_EVENTS: 'none', PORTCULLIS_WORKERS: '1' } }); // one process in both trees (an older tree ignores the variable)
  let err = '';
  return new Promise((resolve, reject) => {
    proc.stderr!.on('data', (c) => {
      err += c;
      const m = /"grpcPort":(\d+)/.exec(err);
      if (m) resolve({ proc, port: Number(m[1]) });
    });
    proc.on('exit', (code) => reject(new Error(`serve in ${root} exited ${code}: ${err.slice(-2000)}`)));
  });
}

const base = worktree(values.base!);
const work = mkdtempSync(join(tmpdir(), 'portcullis-compare-'));
const body = join(work, 'check.bin');
// A sign-in POST with a username body from an address no list names: the whole decision runs.
const message = requestPool([], 4).messages[0]!;
writeFileSync(body, grpcFrame(message));

const servers: Served[] = [];
try {
  const baseHasAdmin = spawnSync('git', ['-C', base, 'grep', '-q', 'admin-address', '--', 'src/settings.ts']).status === 0;
  const old = await serve(base, baseHasAdmin ? ['--admin-address', '127.0.0.1:0'] : []);
  servers.push(old);
  const cur = await serve(REPO_ROOT, ['--admin-address', '127.0.0.1:0']);
  servers.push(cur);
  const run = (port: number): Promise<H2loadResult> => runH2load({
    url: `http://127.0.0.1:${port}/envoy.service.auth.v3.Authorization/Check`, bodyFile: body, clients: 4, streams: 32, durationS: seconds, warmupS: 2,
  });
  const ratios: number[] = [];
  const rows: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const before = loadavg()[0]!;
    // Alternate which goes first: the second run of a round often meets a warmer, or busier, machine.
    const [a, b] = r % 2 === 0 ? [old, cur] : [cur, old];
    const ra = await run(a.port);
    const rb = await run(b.port);
    const [o, c] = a === old ? [ra, rb] : [rb, ra];
    if (o.failed + o.errored > 0 || c.failed + c.errored > 0) throw new Error(`round ${r + 1}: failed requests (base ${o.failed + o.errored}, now ${c.failed + c.errored})`);
    ratios.push(c.achievedRate / o.achievedRate);
    rows.push(`| ${r + 1} | ${Math.round(o.achievedRate)} | ${Math.round(c.achievedRate)} | ${(c.achievedRate / o.achievedRate).toFixed(2)} | ${o.latencyUs.p99} / ${c.latencyUs.p99} | ${before.toFixed(2)} |`);
  }
  const sorted = [...ratios].sort((x, y) => x - y);
  console.log(`Check path, ${values.base} vs ${spawnSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim()} (h2load 4 × 32, sign-in POST, deploy/examples, both under tsx)\n`);
  console.log('| round | base checks/s | now checks/s | now / base | p99 µs base / now | load avg (1 min) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  console.log(`\nmedian now / base: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}×; load average after: ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
} finally {
  for (const s of servers) s.proc.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
  spawnSync('git', ['-C', REPO_ROOT, 'worktree', 'remove', '--force', base]);
}
