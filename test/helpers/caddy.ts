import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, waitForListening } from './child-server.ts';
import { requireTool } from './tools.ts';

/** Debian's caddy (2.6.2 on bookworm); a test file that imports this fails loudly without one. */
export const CADDY_BIN = requireTool('caddy');

export function caddyVersion(): string {
  return spawnSync(CADDY_BIN, ['version'], { encoding: 'utf8' }).stdout.trim();
}

/** `caddy adapt` of a Caddyfile text: the JSON config, or the error Caddy prints. */
export function caddyAdapt(caddyfile: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-caddy-adapt-'));
  try {
    writeFileSync(join(dir, 'Caddyfile'), caddyfile);
    const r = spawnSync(CADDY_BIN, ['adapt', '--config', join(dir, 'Caddyfile'), '--adapter', 'caddyfile'], { encoding: 'utf8', env: caddyEnv(dir) });
    return { ok: r.status === 0, output: r.status === 0 ? r.stdout : r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function caddyEnv(dir: string): NodeJS.ProcessEnv {
  // Caddy keeps its storage and autosaved config under $HOME / XDG dirs: keep them in the temp folder.
  return { PATH: process.env.PATH, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
}

export interface CaddyInstance {
  readonly port: number;
  readonly dir: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * A real Caddy as a child process, runnable without root: the admin API off, automatic HTTPS off, storage in a
 * temp folder. `sites` is the Caddyfile after the global options; {{PORT}} is a free port for the site.
 */
export async function startCaddy(sites: string): Promise<CaddyInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-caddy-'));
  const port = await freePort();
  const file = join(dir, 'Caddyfile');
  writeFileSync(file, `{\n\tadmin off\n\tauto_https off\n\tstorage file_system ${dir}/storage\n}\n\n${sites.replaceAll('{{PORT}}', String(port))}`);
  const child: ChildProcess = spawn(CADDY_BIN, ['run', '--config', file, '--adapter', 'caddyfile'], { stdio: ['ignore', 'pipe', 'pipe'], env: caddyEnv(dir) });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  await waitForListening(child, port, 'caddy', () => out, 15_000);
  return {
    port,
    dir,
    output: () => out,
    async stop() {
      await stopChild(child, 'SIGTERM', 5000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
