import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './nginx.ts';
import { requireTool } from './tools.ts';

/** Debian's haproxy (2.6 on bookworm); a test file that imports this fails loudly without one. */
export const HAPROXY_BIN = requireTool('haproxy');

export function haproxyVersion(): string {
  return /HAProxy version (\S+)/.exec(spawnSync(HAPROXY_BIN, ['-v'], { encoding: 'utf8' }).stdout)?.[1] ?? 'unknown';
}

export interface HaproxyInstance {
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

/** A real HAProxy in the foreground (-db), runnable without root. {{PORT}} in the config is a free port. */
export async function startHaproxy(config: string): Promise<HaproxyInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-haproxy-'));
  const port = await freePort();
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config.replaceAll('{{PORT}}', String(port)));
  const check = spawnSync(HAPROXY_BIN, ['-c', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c failed:\n${check.stdout}${check.stderr}`);
  const child: ChildProcess = spawn(HAPROXY_BIN, ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = `${check.stdout}${check.stderr}`;
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`haproxy did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGUSR1'); // soft stop: finishes what is in flight, flushes logs
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
