import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild, waitForListening } from './child-server.ts';
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
  await waitForListening(child, port, 'haproxy', () => out);
  return {
    port,
    output: () => out,
    async stop() {
      await stopChild(child, 'SIGUSR1', 3000); // soft stop: finishes what is in flight, flushes logs
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
