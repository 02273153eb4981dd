// The image's layout, assembled in a temp folder: dist/ from `npm run build`, proto/, bin/, package.json and the
// repository's node_modules, and no src/. A .ts import or a TypeScript loader has nothing to run there, so what
// starts is the compiled build alone, as `node dist/cli/bin.js` runs it in the image. bench/idle-rss.ts uses
// the same layout.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

export interface CompiledLayout {
  readonly dir: string;
  /** dist/cli/bin.js inside the layout. */
  readonly bin: string;
  remove(): void;
}

/** Runs the build script into a fresh folder shaped like the image's /app. Throws with tsc's output on failure. */
export function buildCompiledLayout(): CompiledLayout {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-dist-'));
  const built = spawnSync('npm', ['run', '--silent', 'build', '--', '--outDir', join(dir, 'dist')], { cwd: REPO, encoding: 'utf8' });
  if (built.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`npm run build failed (${built.status}):\n${built.stdout}${built.stderr}`);
  }
  for (const d of ['proto', 'bin']) cpSync(join(REPO, d), join(dir, d), { recursive: true });
  cpSync(join(REPO, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return { dir, bin: join(dir, 'dist/cli/bin.js'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ServeProcess {
  readonly proc: ChildProcess;
  readonly grpcPort: number;
  readonly httpPort: number;
  /** Resident set size of the process and its children (tsx runs an esbuild service), MB. Linux /proc. */
  rssMb(): number;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

function rssKb(pid: number): number {
  let kb = 0;
  try {
    kb = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    for (const c of children ? children.split(' ') : []) kb += rssKb(Number(c));
  } catch {
    // gone meanwhile
  }
  return kb;
}

/**
 * `node [nodeFlags] <entry> serve --config <config> [args]` with every listener on port 0; resolves once it
 * logs that it listens. NODE_OPTIONS is cleared so no loader the test runner set reaches the child.
 */
export function serveEntry(entry: string, cwd: string, config: string, args: readonly string[] = [], nodeFlags: readonly string[] = []): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [
    ...nodeFlags, entry, 'serve', '--config', config,
    // One process (the figures are per process; `args` may ask for workers: the last --workers wins).
    '--grpc-address', '127.0.0.1:0', '--http-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', '--log-level', 'info', '--workers', '1', ...args,
  ], { cwd, env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let err = '';
  return new Promise((resolvePromise, reject) => {
    const onData = (c: Buffer): void => {
      err += c.toString();
      const m = /"grpcPort":(\d+).*"httpPort":(\d+)/.exec(err);
      if (!m) return;
      proc.stderr!.off('data', onData);
      proc.stderr!.resume();
      resolvePromise({
        proc, grpcPort: Number(m[1]), httpPort: Number(m[2]),
        rssMb: () => Math.round(rssKb(proc.pid!) / 102.4) / 10,
        stop: () => {
          proc.kill('SIGTERM');
          return exit;
        },
      });
    };
    proc.stderr!.on('data', onData);
    void exit.then((code) => reject(new Error(`${entry} serve exited ${code} before listening:\n${err}`)));
  });
}

/** The compiled build in the layout. */
export function serveCompiled(layout: CompiledLayout, config: string, args: readonly string[] = [], nodeFlags: readonly string[] = []): Promise<ServeProcess> {
  return serveEntry(layout.bin, layout.dir, config, args, nodeFlags);
}
