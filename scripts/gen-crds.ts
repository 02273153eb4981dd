// Writes the CRDs generated from src/api/schema.ts. Usage: node --import tsx scripts/gen-crds.ts [outDir]
// (default deploy/crds). A test fails when deploy/crds differs from a fresh generation.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCrds } from '../src/sources/kubernetes/crd.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = resolve(root, process.argv[2] ?? 'deploy/crds');
mkdirSync(outDir, { recursive: true });
const files = renderCrds();
// Remove CRDs of kinds that no longer exist; leave anything that is not ours.
for (const name of readdirSync(outDir)) if (name.startsWith('portcullis.dev_') && !files.has(name)) rmSync(join(outDir, name));
for (const [name, text] of files) writeFileSync(join(outDir, name), text);
process.stdout.write(`wrote ${files.size} CRDs to ${outDir}\n`);
