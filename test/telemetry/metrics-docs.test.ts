import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestInstance, ZONES_YAML, type TestInstance } from '../helpers/portcullis.ts';

// Every metric Portcullis exports has a row in docs/metrics.md: what a started instance serves on /metrics, and
// every metric name in the sources (Redis, Kubernetes and feed metrics only register when those are in use).
// Node's default process metrics (portcullis_process_*, portcullis_nodejs_*) are covered by one sentence.
const DOC = readFileSync('docs/metrics.md', 'utf8');
const rows = new Set([...DOC.matchAll(/^\| `(portcullis_[a-z_]+)` \|/gm)].map((m) => m[1]!));
const isDefault = (n: string) => /^portcullis_(process|nodejs)_/.test(n);

function sourceNames(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'gen' ? [] : sourceNames(p);
    return p.endsWith('.ts') ? [...readFileSync(p, 'utf8').matchAll(/'(portcullis_[a-z_]+)'/g)].map((m) => m[1]!) : [];
  });
}

let inst: TestInstance;
beforeAll(async () => {
  inst = await startTestInstance({ 'z.yaml': ZONES_YAML }, { 'authz-address': '127.0.0.1:0', 'syslog-udp-address': '127.0.0.1:0', 'syslog-tcp-address': '127.0.0.1:0' });
});
afterAll(async () => inst?.stop());

describe('docs/metrics.md', () => {
  it('has a row for every metric a running instance serves', async () => {
    const text = await (await fetch(`${inst.httpBase}/metrics`)).text();
    const served = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
    expect(served.length).toBeGreaterThan(20);
    expect(served.filter((n) => !isDefault(n) && !rows.has(n))).toEqual([]);
    expect(served.some(isDefault)).toBe(true);
    expect(DOC).toMatch(/Node process metrics\s+prefixed `portcullis_`/);
  });

  it('has a row for every metric name in src/, and no row for a metric that does not exist', () => {
    const named = new Set(sourceNames('src').filter((n) => !/_(bucket|count|sum)$/.test(n)));
    expect([...named].filter((n) => !rows.has(n))).toEqual([]);
    expect([...rows].filter((n) => !named.has(n))).toEqual([]);
  });
});
