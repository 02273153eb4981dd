// Main-thread side of an off-thread file reload: one worker thread per reload runs reload-worker.ts, so YAML
// parsing, validation and the zone index build (~0.85 s for 100k CIDRs) never block a Check.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SourceBatch } from '../config/source.ts';

// The worker runs the same kind of module as this one: the compiled .js under dist/, or (in a checkout, tests)
// the .ts source, which a worker thread cannot load by itself: Node 20 gives workers none of the main thread's
// loader hooks, so a small bootstrap registers tsx (a dev dependency, present wherever sources run) first.
const compiled = import.meta.url.endsWith('.js');
const WORKER = new URL(compiled ? './reload-worker.js' : './reload-worker.ts', import.meta.url);

function startWorker(paths: readonly string[]): Worker {
  const workerData = { paths: [...paths] };
  if (compiled) return new Worker(WORKER, { workerData });
  const tsxApi = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** loadPaths() plus the zone index, on a worker thread. Never rejects: a failed worker is a CONFIG_IO issue. */
export function loadPathsOffThread(paths: readonly string[]): { batch: Promise<SourceBatch>; cancel(): void } {
  const worker = startWorker(paths);
  const batch = new Promise<SourceBatch>((resolve) => {
    let settled = false;
    const fail = (why: string): void => {
      if (settled) return;
      settled = true;
      resolve({ objects: [], issues: [{ origin: { source: paths.join(', ') }, code: 'CONFIG_IO', message: `config reload thread failed: ${why}` }] });
    };
    worker.once('message', (m: SourceBatch) => {
      settled = true;
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', (err) => fail(err.message.split('\n')[0] ?? String(err)));
    worker.once('exit', (code) => fail(`exited with code ${code} before answering`));
  });
  return { batch, cancel: () => void worker.terminate() };
}
