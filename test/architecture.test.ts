import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The layout rules of docs/architecture.md, checked on the import statements themselves.
const SRC = path.resolve(import.meta.dirname, '../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Top-level unit of a src path: a folder name, or the file name for files directly in src/. */
function unitOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0]!.replace(/\.ts$/, '') : rel[0]!;
}

/** folder → folders it imports (type-only imports included: a type is a dependency too). */
export function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = unitOf(file);
    if (from === 'gen') continue;
    const deps = graph.get(from) ?? new Set<string>();
    graph.set(from, deps);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = path.resolve(path.dirname(file), m[1]!);
      if (!target.startsWith(SRC)) continue;
      const to = unitOf(target);
      if (to !== from) deps.add(to);
    }
  }
  return graph;
}

const graph = folderGraph();
const importsOf = (f: string) => [...(graph.get(f) ?? [])].sort();

describe('architecture', () => {
  it('no two folders import each other, directly or through others', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const stack: string[] = [];
    const visit = (n: string) => {
      state.set(n, 'visiting');
      stack.push(n);
      for (const d of graph.get(n) ?? []) {
        if (state.get(d) === 'visiting') cycles.push([...stack.slice(stack.indexOf(d)), d].join(' → '));
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(n, 'done');
    };
    for (const n of graph.keys()) if (!state.has(n)) visit(n);
    expect(cycles).toEqual([]);
  });

  it('decide/ is pure: nothing from adapters, store, sources, telemetry, service, feeds or config', () => {
    const banned = ['adapters', 'store', 'sources', 'telemetry', 'service', 'feeds', 'config', 'main', 'settings', 'cli'];
    expect(importsOf('decide').filter((d) => banned.includes(d))).toEqual([]);
  });

  it('detect/ knows nothing of policy, storage or config', () => {
    const banned = ['decide', 'store', 'config', 'sources', 'adapters', 'telemetry', 'service', 'feeds', 'main', 'settings'];
    expect(importsOf('detect').filter((d) => banned.includes(d))).toEqual([]);
  });

  it('api/ and net/ are leaves', () => {
    expect(importsOf('api').filter((d) => d !== 'errors')).toEqual([]);
    expect(importsOf('net').filter((d) => d !== 'errors')).toEqual([]);
  });

  // Entry points read settings and start the process; everything else gets its slice handed in.
  const ENTRY_POINTS = ['main', 'cli', 'simulate'];
  it('only entry points import settings or main', () => {
    const users = (unit: string) => [...graph].filter(([, deps]) => deps.has(unit)).map(([f]) => f);
    expect(users('settings').filter((f) => !ENTRY_POINTS.includes(f))).toEqual([]);
    expect(users('main').filter((f) => !ENTRY_POINTS.includes(f))).toEqual([]);
  });

  it('only the shared stores use the engine\'s replication surface (detect/replica.ts): Redis and the --workers cluster', () => {
    const calls = /\.(blockUntilSec|exportRow|loadRow|loadAccountFailures|loadBlock|planBlock|forEachActiveBlock)\(/;
    const users = sourceFiles(SRC)
      .filter((f) => !f.startsWith(path.join(SRC, 'detect')) && !f.startsWith(path.join(SRC, 'store', 'redis')) && !f.startsWith(path.join(SRC, 'store', 'cluster')))
      .filter((f) => calls.test(readFileSync(f, 'utf8')))
      .map((f) => path.relative(SRC, f));
    expect(users).toEqual([]);
  });
});
