import { describe, expect, it } from 'vitest';
import { classifyOutcome, DEFAULT_OUTCOME_RULES } from '../../src/decide/outcome.ts';

describe('classifyOutcome', () => {
  it('uses the status sets by default (401/403 failure)', () => {
    expect(classifyOutcome({ status: 401, resultHeader: undefined }, DEFAULT_OUTCOME_RULES)).toBe('failure');
    expect(classifyOutcome({ status: 403, resultHeader: undefined }, DEFAULT_OUTCOME_RULES)).toBe('failure');
    expect(classifyOutcome({ status: 302, resultHeader: undefined }, DEFAULT_OUTCOME_RULES)).toBe('success');
    expect(classifyOutcome({ status: 500, resultHeader: undefined }, DEFAULT_OUTCOME_RULES)).toBe('unknown');
  });
  it('lets the app header win: a 200 error page is a failure', () => {
    expect(classifyOutcome({ status: 200, resultHeader: 'failure' }, DEFAULT_OUTCOME_RULES)).toBe('failure');
    expect(classifyOutcome({ status: 200, resultHeader: 'unknown_user' }, DEFAULT_OUTCOME_RULES)).toBe('failure');
    expect(classifyOutcome({ status: 401, resultHeader: 'success' }, DEFAULT_OUTCOME_RULES)).toBe('success');
  });
});
