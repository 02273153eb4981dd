import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodePng, type Image } from './png.ts';
import { requireTool } from './tools.ts';

// Debian's Chromium, headless, as the report tests open a page: a fresh profile, no network services, no GPU.
const CHROMIUM = requireTool('chromium');
const run = promisify(execFile);

async function chromium(args: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'portcullis-chromium-'));
  try {
    const { stdout } = await run(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run', `--user-data-dir=${profile}`, '--hide-scrollbars', ...args], { maxBuffer: 64 << 20, timeout: 60_000 });
    return stdout;
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** The DOM after Chromium parsed and laid out the page, serialized back to HTML. */
export function dumpDom(file: string): Promise<string> {
  return chromium(['--dump-dom', `file://${file}`]);
}

/** A screenshot of the page's first `height` pixels at `width`, decoded. */
export async function screenshot(file: string, width = 1000, height = 3000): Promise<Image> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-shot-'));
  try {
    const png = join(dir, 'shot.png');
    await chromium([`--window-size=${width},${height}`, `--screenshot=${png}`, `file://${file}`]);
    return decodePng(readFileSync(png));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** e.g. "Chromium 156.0.8078.114", for test names. */
export function chromiumVersion(): string {
  return /Chromium [\d.]+/.exec(execFileSync(CHROMIUM, ['--version'], { encoding: 'utf8' }))?.[0] ?? 'Chromium';
}
