import { readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import type { Document, LineCounter } from 'yaml';
import type { ConfigIssue, ConfigObject } from '../api/objects.ts';
import type { ConfigSource, SourceBatch } from '../config/source.ts';
import { validateObject } from '../config/validate.ts';
import { loadPathsOffThread } from './off-thread.ts';

export type { ConfigSource, SourceBatch } from '../config/source.ts';

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
/** Aliases resolved per document at most; beyond it a few lines could expand to gigabytes (an alias bomb). */
const MAX_ALIAS_COUNT = 100;

// The YAML parser is loaded at the first loadPaths(), not at import: `serve` parses files on the reload worker
// thread only (off-thread.ts), and yaml is ~8-13 MB of RSS a main thread that never parses would carry
// (docs/benchmarks.md, Idle RSS). require() keeps loadPaths synchronous; yaml's Node build is CommonJS.
const require = createRequire(import.meta.url);
let yamlModule: typeof import('yaml') | undefined;
const yaml = (): typeof import('yaml') => (yamlModule ??= require('yaml') as typeof import('yaml'));

/** Words the toJS failure for a person: which alias, at which line. One pass over the document. */
function aliasProblem(doc: Document, lines: LineCounter, err: unknown): string {
  const at = (offset: number | undefined) => {
    if (offset === undefined) return '';
    const p = lines.linePos(offset);
    return ` at line ${p.line}, column ${p.col}`;
  };
  const anchors = new Set<string>();
  let unresolved: { source: string; offset: number | undefined } | undefined;
  let firstAlias: number | undefined;
  const { isAlias, visit } = yaml();
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        firstAlias ??= node.range?.[0];
        if (!anchors.has(node.source)) {
          unresolved = { source: node.source, offset: node.range?.[0] };
          return visit.BREAK;
        }
      } else if (node.anchor) anchors.add(node.anchor);
      return undefined;
    },
  });
  if (unresolved) return `alias *${unresolved.source} refers to no anchor defined before it${at(unresolved.offset)}`;
  const message = err instanceof Error ? err.message : String(err);
  if (/alias count/i.test(message)) return `aliases expand to more than ${MAX_ALIAS_COUNT} nodes (an alias bomb?); first alias${at(firstAlias)}`;
  return `${message.split('\n')[0]}${at(firstAlias)}`;
}

function listFiles(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  // Kubernetes ConfigMap mounts hold "..data"-style entries; dot-files are never config.
  return readdirSync(path)
    .filter((n) => !n.startsWith('.') && CONFIG_EXTENSIONS.has(extname(n)))
    .sort()
    .map((n) => join(path, n));
}

/** Reads every YAML/JSON document under the given files or folders (folders: not recursive). */
export function loadPaths(paths: readonly string[]): SourceBatch {
  const objects: ConfigObject[] = [];
  const issues: ConfigIssue[] = [];
  for (const root of paths) {
    let files: string[];
    try {
      files = listFiles(root);
    } catch (err) {
      issues.push({ origin: { source: root }, code: 'CONFIG_IO', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      continue;
    }
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        issues.push({ origin: { source: file }, code: 'CONFIG_IO', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
        continue;
      }
      try {
        const { LineCounter, parseAllDocuments } = yaml();
        const lines = new LineCounter();
        parseAllDocuments(text, { lineCounter: lines }).forEach((doc, document) => {
          const origin = { source: file, document };
          if (doc.errors.length > 0) {
            for (const e of doc.errors) issues.push({ origin, code: 'CONFIG_PARSE', message: `YAML: ${e.message.split('\n')[0]}` });
            return;
          }
          let raw: unknown;
          try {
            raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
          } catch (err) {
            // toJS throws (ReferenceError) for an undefined alias or an alias bomb; it names no position, so find one.
            issues.push({ origin, code: 'CONFIG_PARSE', message: `YAML: ${aliasProblem(doc, lines, err)}` });
            return;
          }
          if (raw === null || raw === undefined) return; // empty document between "---"
          const r = validateObject(raw, origin);
          if ('issues' in r) issues.push(...r.issues);
          else objects.push(r.object);
        });
      } catch (err) {
        // Nothing in a file may escape as an exception: a watcher callback that throws ends the process.
        issues.push({ origin: { source: file }, code: 'CONFIG_PARSE', message: `cannot parse: ${(err as Error)?.message?.split('\n')[0] ?? String(err)}` });
      }
    }
  }
  return { objects, issues };
}

/**
 * Files and folders, reloaded on change. fs.watch catches edits and ConfigMap symlink swaps; a slow poll of
 * modification times backs it up, because watch events are not guaranteed on every filesystem.
 * `offThread`: each load runs on a worker thread (off-thread.ts), so a large file never blocks the event loop;
 * one load at a time, and changes during a load make exactly one more.
 */
export class FileSource implements ConfigSource {
  readonly #paths: readonly string[];
  readonly #pollMs: number;
  readonly #debounceMs: number;
  readonly #offThread: boolean;
  #watchers: FSWatcher[] = [];
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #signature = '';
  #loading: { cancel(): void } | undefined;
  #again = false;
  #stopped = false;

  constructor(paths: readonly string[], options: { pollMs?: number; debounceMs?: number; offThread?: boolean } = {}) {
    this.#paths = paths;
    this.#pollMs = options.pollMs ?? 5000;
    this.#debounceMs = options.debounceMs ?? 150;
    this.#offThread = options.offThread ?? false;
  }

  async start(onBatch: (batch: SourceBatch) => void): Promise<void> {
    const load = async (): Promise<SourceBatch> => {
      if (!this.#offThread) return loadPaths(this.#paths);
      const job = loadPathsOffThread(this.#paths);
      this.#loading = job;
      try {
        return await job.batch;
      } finally {
        this.#loading = undefined;
      }
    };
    const reload = async (): Promise<void> => {
      if (this.#loading) {
        this.#again = true; // the load in flight may have read the files before this change
        return;
      }
      do {
        this.#again = false;
        this.#signature = this.#currentSignature();
        const batch = await load();
        if (this.#stopped) return;
        onBatch(batch);
      } while (this.#again);
    };
    await reload();
    const schedule = () => {
      clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => void reload(), this.#debounceMs);
    };
    for (const p of this.#paths) {
      try {
        const w = watch(p, schedule);
        w.on('error', () => undefined); // the poll still covers this path
        this.#watchers.push(w);
      } catch {
        // missing path: reported by loadPaths; the poll notices when it appears
      }
    }
    this.#poll = setInterval(() => {
      if (this.#currentSignature() !== this.#signature) schedule();
    }, this.#pollMs);
    this.#poll.unref();
  }

  stop(): void {
    this.#stopped = true;
    this.#loading?.cancel();
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    clearInterval(this.#poll);
    clearTimeout(this.#debounce);
  }

  #currentSignature(): string {
    const parts: string[] = [];
    for (const p of this.#paths) {
      try {
        for (const f of listFiles(p)) {
          const st = statSync(f);
          parts.push(`${f}:${st.mtimeMs}:${st.size}`);
        }
      } catch {
        parts.push(`${p}:missing`);
      }
    }
    return parts.join('|');
  }
}
