#!/usr/bin/env node
// Generates TypeScript types for the Envoy/gRPC protos Portcullis speaks.
// The .proto files come from the pinned @grpc/grpc-js-xds package (its deps/ folder), never from this repo;
// proto/codegen.json lists which files to generate for and the loader options shared with the runtime loader.
// Usage: node scripts/gen-proto.mjs [outDir]   (default src/gen)
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const codegen = JSON.parse(readFileSync(join(root, 'proto/codegen.json'), 'utf8'));
const xdsDeps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const includeDirs = codegen.includeDirs.map((d) => join(xdsDeps, d));
const outDir = resolve(root, process.argv[2] ?? 'src/gen');
const bin = join(dirname(require.resolve('@grpc/proto-loader/package.json')), 'build/bin/proto-loader-gen-types.js');

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const o = codegen.loaderOptions;
const args = [
  bin,
  `--longs=${o.longs}`, `--enums=${o.enums}`, ...(o.defaults ? ['--defaults'] : []), ...(o.oneofs ? ['--oneofs'] : []),
  '--grpcLib=@grpc/grpc-js', '--importFileExtension=.ts', '--outDir', outDir,
  // Files before -I: yargs reads -I as an array and would swallow anything after it.
  ...codegen.files,
  ...includeDirs.flatMap((d) => ['-I', d]),
];
execFileSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'] });

// The generator stamps absolute paths into headers; make them checkout-independent so the staleness test can
// compare a fresh generation with the committed one byte for byte.
for (const entry of readdirSync(outDir, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
  const file = join(entry.parentPath ?? entry.path, entry.name);
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replaceAll(xdsDeps, '@grpc/grpc-js-xds/deps'));
}
