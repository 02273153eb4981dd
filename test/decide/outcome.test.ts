import { describe, expect, it } from 'vitest';
import { AttemptCorrelator } from '../../src/service/correlator.ts';
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

describe('AttemptCorrelator', () => {
  const a = (atMs: number) => ({ key: 1, clientText: '192.0.2.1', usernameHash: 7, denied: false, atMs });
  it('returns an attempt once, and not after it aged out', () => {
    const c = new AttemptCorrelator<number>(10, 1000);
    c.remember('r1', a(0));
    c.remember('r2', a(0));
    expect(c.take('r1', 500)).toMatchObject({ usernameHash: 7 });
    expect(c.take('r1', 500)).toBeUndefined();
    expect(c.take('r2', 1500)).toBeUndefined();
  });
  it('is bounded: the oldest entry goes first', () => {
    const c = new AttemptCorrelator<number>(3, 1000);
    for (let i = 0; i < 5; i++) c.remember(`r${i}`, a(i));
    expect(c.size).toBe(3);
    expect(c.take('r0', 10)).toBeUndefined();
    expect(c.take('r4', 10)).toBeDefined();
  });
  it('sweeps old entries without touching young ones', () => {
    const c = new AttemptCorrelator<number>(10, 100);
    c.remember('old', a(0));
    c.remember('young', a(150));
    c.sweep(200);
    expect(c.size).toBe(1);
  });
});
