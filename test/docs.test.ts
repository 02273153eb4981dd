import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../src/errors.ts';
import { EVENT_TYPES } from '../src/telemetry/events.ts';
import { DECISION_REASONS } from '../src/decide/decision.ts';

// Closed sets are only useful if operators can look them up: every member must be documented.
describe('documentation covers every closed set', () => {
  it('error codes are in docs/errors.md', () => {
    const doc = readFileSync('docs/errors.md', 'utf8');
    for (const code of Object.keys(ERROR_CODES)) expect(doc, code).toContain(`\`${code}\``);
  });
  it('event types are in docs/events.md', () => {
    const doc = readFileSync('docs/events.md', 'utf8');
    for (const t of EVENT_TYPES) expect(doc, t).toContain(`\`${t}\``);
  });
  it('decision reasons are in docs/metrics.md', () => {
    const doc = readFileSync('docs/metrics.md', 'utf8');
    for (const r of DECISION_REASONS) expect(doc, r).toContain(`\`${r}\``);
  });
});

/** Paths matching a repo-relative pattern whose segments may hold `*` (docs name groups like ci/*-values.yaml). */
function expand(pattern: string): string[] {
  let paths = ['.'];
  for (const seg of pattern.split('/').filter(Boolean)) {
    if (!seg.includes('*')) {
      paths = paths.map((p) => join(p, seg)).filter((p) => existsSync(p));
      continue;
    }
    const re = new RegExp(`^${seg.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
    paths = paths.flatMap((p) => (existsSync(p) ? readdirSync(p).filter((e) => re.test(e)).map((e) => join(p, e)) : []));
  }
  return paths;
}

describe('documentation points at files that exist', () => {
  const docs = ['README.md', 'charts/portcullis/README.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  it.each(docs)('%s: every `src/…`, `test/…`, `deploy/…`, `docs/…`, `scripts/…`, `bench/…`, `charts/…` path in backticks', (doc) => {
    const text = readFileSync(doc, 'utf8');
    const named = [...text.matchAll(/`((?:src|test|deploy|docs|scripts|bench|charts)\/[^`\s]*)`/g)].map((m) => m[1]!.replace(/[#:].*$/, ''));
    const missing = named.filter((p) => expand(p).length === 0);
    expect(missing).toEqual([]);
  });
});
