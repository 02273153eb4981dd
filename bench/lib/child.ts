// Child processes for the load benchmark: each server and each generator gets its own process (its own event
// loop), talking to the orchestrator over Node's IPC channel with a tiny request/response protocol.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { constants as perf, PerformanceObserver } from 'node:perf_hooks';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = join(dirname(fileURLToPath(import.meta.url)), '../..');
/** The checkout, also when this module runs compiled from build/bench. */
export const REPO_ROOT = HERE.endsWith('/build/bench') ? HERE.slice(0, -'/build/bench'.length) : HERE;
/** Where tsconfig.bench.json compiles src/ and bench/ to. */
export const BUILD_ROOT = join(REPO_ROOT, 'build/bench');

let built = false;

/**
 * Compiles src/ and bench/ into build/bench (once per run; incremental, so seconds when little changed). Every
 * measured process runs that JavaScript with no TypeScript loader, as the image runs Portcullis: under tsx,
 * esbuild's keepNames adds a defineProperty per closure created per call, which the shipped code does not pay.
 */
export function buildBench(): string {
  if (built) return BUILD_ROOT;
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.bench.json')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.bench.json failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  // src/adapters/grpc/protos.ts finds proto/ three levels above itself, as it does from dist/.
  const proto = join(BUILD_ROOT, 'proto');
  if (!existsSync(proto)) symlinkSync(join(REPO_ROOT, 'proto'), proto);
  built = true;
  return BUILD_ROOT;
}

type Handler = (payload: unknown) => unknown;
interface Call { id: number; type: string; payload: unknown }
interface Reply { id: number; result?: unknown; error?: string }

export interface ChildHandle {
  readonly pid: number;
  call<T>(type: string, payload?: unknown): Promise<T>;
  /** CPU time the child has used, in ms (user + system). */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

export interface GcTotals {
  /** Milliseconds spent in scavenges (young generation) and in mark-sweep/compact (old generation). */
  minorMs: number;
  majorMs: number;
}

/** Child side: answers calls from the parent, then reports ready with `ready`. */
export function serveParent(handlers: Record<string, Handler>, ready: unknown): void {
  const gc: GcTotals = { minorMs: 0, majorMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      if (kind === perf.NODE_PERFORMANCE_GC_MINOR) gc.minorMs += e.duration;
      else gc.majorMs += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const all: Record<string, Handler> = {
    gc: () => ({ ...gc }),
    cpu: () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    },
    rssMb: () => Math.round(process.memoryUsage().rss / 2 ** 20),
    exit: () => {
      setImmediate(() => process.exit(0)); // after the reply is sent
      return true;
    },
    ...handlers,
  };
  process.on('message', (m: Call) => {
    void (async () => {
      const reply: Reply = { id: m.id };
      try {
        const h = all[m.type];
        if (!h) throw new Error(`unknown call ${m.type}`);
        reply.result = await h(m.payload);
      } catch (err) {
        reply.error = (err as Error).stack ?? String(err);
      }
      process.send?.(reply);
    })();
  });
  process.send?.({ id: 0, result: ready });
}

/**
 * Forks a TypeScript module of this checkout, compiled (buildBench), and waits for its ready message.
 * PORTCULLIS_BENCH_TSX=1 runs the sources through tsx instead (to compare, or while the build is broken).
 */
export function forkTs<Ready>(
  module: string,
  opts: { execArgv?: string[]; env?: Record<string, string> } = {},
): Promise<{ child: ChildHandle; ready: Ready }> {
  const tsx = process.env.PORTCULLIS_BENCH_TSX === '1';
  const entry = tsx ? join(REPO_ROOT, module) : join(buildBench(), module.replace(/\.ts$/, '.js'));
  const proc: ChildProcess = fork(entry, [], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    execArgv: [...(tsx ? ['--import', 'tsx'] : []), ...(opts.execArgv ?? [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let next = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let exited: Error | undefined;
  const fail = (e: Error): void => {
    exited = e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  proc.on('exit', (code, signal) => fail(new Error(`${module} exited (${signal ?? code})`)));
  proc.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(`${module}: ${m.error}`));
    else p.resolve(m.result);
  });
  const call = <T>(type: string, payload?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(exited);
      const id = next++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      proc.send({ id, type, payload } satisfies Call);
    });
  const child: ChildHandle = {
    pid: proc.pid ?? -1,
    call,
    cpuMs: () => call<number>('cpu'),
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      const force = setTimeout(() => proc.kill('SIGKILL'), 5000);
      call('exit').catch(() => undefined);
      await gone;
      clearTimeout(force);
    },
  };
  return new Promise((resolve, reject) => {
    pending.set(0, { resolve: (ready) => resolve({ child, ready: ready as Ready }), reject });
  });
}
