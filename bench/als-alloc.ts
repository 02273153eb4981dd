// Where the ALS learning path allocates: Portcullis in this process learns an access-log stream (a grpc-js
// sender in its own process) under V8's sampling heap profiler, and the sampled bytes are printed per entry by
// allocating function and by stack. `all` counts every allocation; `promoted` only what outlived a scavenge
// (what fills old space and brings the mark-compacts). `first` samples the first pass (rows created, every
// client blocked), `second` (default) a second pass over the same clients (steady state). No Checks are sent.
// Run: node --import tsx bench/als-alloc.ts [http2|grpc-js] [entries] [all|promoted] [first|second]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPortcullis } from '../src/main.ts';
import { readSettings } from '../src/settings.ts';
import { ALS_CONFIG } from './als-ingest.ts';
import { startAlsSender } from './lib/als-sender.ts';

const dir = mkdtempSync(join(tmpdir(), 'als-heap-'));
writeFileSync(join(dir, 'config.yaml'), ALS_CONFIG);
const transport = process.argv[2] ?? 'http2';
const entries = Number(process.argv[3] ?? 400000);
// 'all': every allocation; 'promoted': only what outlived the young generation (not collected by a scavenge).
const mode = process.argv[4] ?? 'all';
const running = await startPortcullis(
  readSettings({ config: [dir], 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '', events: 'none', 'log-level': 'silent', 'drain-seconds': '1', 'grpc-transport': transport }, {}),
  { events: { emit() {} }, logger: pino({ level: 'silent' }) },
);
const sender = await startAlsSender();
await sender.prepare({ entries, perMessage: 50000, distinct: 20000 });
// The first pass blocks all 20k clients; the second is steady state. `pass` picks the one sampled.
const pass = process.argv[5] ?? 'second';
if (pass === 'second') await sender.send(`127.0.0.1:${running.grpcPort}`);
const s = new Session();
s.connect();
await s.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: mode === 'all' } as never);
const r = await sender.send(`127.0.0.1:${running.grpcPort}`);
const { profile } = (await s.post('HeapProfiler.stopSampling')) as { profile: any };
console.log('sent', r);
const selfBy = new Map<string, number>();
const stackBy = new Map<string, number>();
let total = 0;
function walk(n: any, stack: string[]): void {
  const f = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}`;
  const st = [...stack, f];
  if (n.selfSize > 0) {
    total += n.selfSize;
    selfBy.set(f, (selfBy.get(f) ?? 0) + n.selfSize);
    const k = st.slice(-Number(process.env.DEPTH ?? 4)).join(' > ');
    stackBy.set(k, (stackBy.get(k) ?? 0) + n.selfSize);
  }
  for (const c of n.children) walk(c, st);
}
walk(profile.head, []);
console.log(`total sampled ${(total / 2 ** 20).toFixed(1)} MB = ${(total / r.entries).toFixed(0)} B/entry`);
for (const [k, v] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(String(Math.round(v / r.entries)).padStart(6), 'B/entry', k);
console.log('--- stacks');
for (const [k, v] of [...stackBy].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(String(Math.round(v / r.entries)).padStart(6), k);
await sender.stop();
await running.stop();
process.exit(0);
