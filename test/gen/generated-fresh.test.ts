import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const file = join(e.parentPath ?? e.path, e.name);
      out.set(relative(dir, file), readFileSync(file, 'utf8'));
    }
  }
  return out;
}

describe('generated protobuf types', () => {
  it('match a fresh `npm run proto` (regenerate and commit when this fails)', () => {
    const fresh = mkdtempSync(join(tmpdir(), 'portcullis-gen-'));
    try {
      execFileSync(process.execPath, ['scripts/gen-proto.mjs', fresh], { stdio: 'pipe' });
      const want = tree(fresh);
      const have = tree('src/gen');
      expect([...have.keys()].sort()).toEqual([...want.keys()].sort());
      const stale = [...want].filter(([path, text]) => have.get(path) !== text).map(([path]) => path);
      expect(stale).toEqual([]);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  }, 60_000);
});
