// Reload cost of the 100k-CIDR config, in the two steps a real reload takes: reading the files (YAML parse plus
// schema validation, loadPaths) and compiling validated objects into a snapshot (compile) — the step the
// ≤ 200 ms target is about, since it is what a Kubernetes source (already-parsed objects) pays too.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { compile } from '../../src/config/compile.ts';
import { loadPaths } from '../../src/sources/files.ts';

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function timeMs<T>(fn: () => T): { ms: number; value: T } {
  const t0 = performance.now();
  const value = fn();
  return { ms: performance.now() - t0, value };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

export function runReloadBench(configFile: string, rounds: number): Record<string, number> {
  const text = readFileSync(configFile, 'utf8');
  const yamlMs = Array.from({ length: rounds }, () => timeMs(() => parseAllDocuments(text).map((d) => d.toJS())).ms);

  const loadMs: number[] = [];
  let batch = loadPaths([configFile]);
  for (let r = 0; r < rounds; r++) {
    const t = timeMs(() => loadPaths([configFile]));
    loadMs.push(t.ms);
    batch = t.value;
  }
  if (batch.issues.length > 0) throw new Error(`bench config invalid: ${JSON.stringify(batch.issues.slice(0, 3))}`);

  // The first compile runs cold (as the first load after start does). Later ones keep only the previous
  // snapshot alive, as the holder does during a real swap, so the heap stays the size a reload sees.
  const compileMs: number[] = [];
  let previous: ReturnType<typeof compile> | undefined;
  for (let r = 0; r <= rounds; r++) {
    const t = timeMs(() => compile(batch.objects, r + 1, Date.now()));
    if (t.value.issues.length > 0) throw new Error(`bench config did not compile: ${JSON.stringify(t.value.issues.slice(0, 3))}`);
    compileMs.push(t.ms);
    previous = t.value;
  }
  const entries = previous?.snapshot.entryCount ?? 0;

  const load = median(loadMs);
  const steady = median(compileMs.slice(1));
  return {
    'reload.entries': entries,
    'reload.yaml_parse@100k.ms': round1(median(yamlMs)),
    'reload.loadPaths+validate@100k.ms': round1(load),
    'reload.compile@100k.first.ms': round1(compileMs[0]!),
    'reload.compile@100k.ms': round1(steady),
    'reload.file_total@100k.ms': round1(load + steady),
  };
}
