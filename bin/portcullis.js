#!/usr/bin/env node
// In a checkout (src/ present) the TypeScript sources run through tsx, so what runs is always what is in src/ and
// `npm install` alone leaves a working CLI. Where there are no sources (an image or package built with
// `npm run build`), the compiled dist/ runs with no TypeScript loader. A stale dist/ is never picked in a checkout.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/bin.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import(new URL('../dist/cli/bin.js', import.meta.url).href);
}
