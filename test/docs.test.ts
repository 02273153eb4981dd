import { readFileSync } from 'node:fs';
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
