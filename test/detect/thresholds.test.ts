import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runAccountMemory, runDetectMemory } from '../../bench/detect-memory.ts';
import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import { THREAT_REASONS } from '../../src/detect/levels.ts';
import {
  DEFAULT_AGGRESSIVE_THRESHOLDS,
  DEFAULT_THRESHOLDS,
  SHAPE_FIELDS,
  validateThresholds,
} from '../../src/detect/thresholds.ts';
import { SPEC_SCHEMAS } from '../../src/api/schema.ts';
import { detectionSpecOf, specFieldOf } from '../../src/config/detection.ts';
import { DEFAULT_DETECTION } from '../../src/detect/detection.ts';

interface Schema {
  readonly type?: string;
  readonly properties?: Readonly<Record<string, Schema>>;
}

/** Dotted paths of every non-object field under a schema node. */
function leafPaths(s: Schema, prefix = ''): string[] {
  return Object.entries(s.properties ?? {}).flatMap(([k, v]) => (v.type === 'object' ? leafPaths(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

describe('thresholds', () => {
  it('ships valid, frozen defaults anchored where the docs say', () => {
    expect(validateThresholds(DEFAULT_THRESHOLDS)).toEqual([]);
    expect(validateThresholds(DEFAULT_AGGRESSIVE_THRESHOLDS, DEFAULT_THRESHOLDS)).toEqual([]);
    expect(Object.isFrozen(DEFAULT_THRESHOLDS.bruteForce)).toBe(true);
    expect(DEFAULT_THRESHOLDS.bruteForce).toMatchObject({ windowMs: 600_000, high: 11 }); // AWS WAF ATP: > 10 / 10 min
    expect(DEFAULT_THRESHOLDS.bruteForceShort).toMatchObject({ windowMs: 10_000, medium: 5 }); // CrowdSec http-bf
    expect(DEFAULT_THRESHOLDS.bruteForceLong).toMatchObject({ windowMs: 86_400_000, high: 100 }); // Auth0
    expect(DEFAULT_THRESHOLDS.accountTargeted.high).toBe(9); // Auth0: 10 per IP + user; the 10th attempt is refused
    expect(DEFAULT_THRESHOLDS.ipv6PrefixLength).toBe(64);
  });

  it('reports bad values and an aggressive profile with other windows', () => {
    const bad = {
      ...DEFAULT_THRESHOLDS,
      bruteForce: { windowMs: 1500, low: 9, medium: 5, high: 300 },
      ipv6PrefixLength: 0,
    };
    const errs = validateThresholds(bad, DEFAULT_THRESHOLDS);
    expect(errs.join('\n')).toMatch(/bruteForce.windowMs: must be whole seconds/);
    expect(errs.join('\n')).toMatch(/bruteForce.high: counts must be integers 0..250/);
    expect(errs.join('\n')).toMatch(/low <= medium <= high/);
    expect(errs.join('\n')).toMatch(/must equal the normal profile/);
    expect(errs.join('\n')).toMatch(/ipv6PrefixLength/);
    expect(() => new DetectionEngine({ clock: new ManualClock(), thresholds: bad })).toThrow(
      expect.objectContaining({ code: 'CONFIG_SCHEMA' }),
    );
  });

  it('documents every reason and every default anchor in docs/detection.md', () => {
    const doc = readFileSync(new URL('../../docs/detection.md', import.meta.url), 'utf8');
    for (const r of THREAT_REASONS) expect(doc).toContain(`\`${r}\``);
    for (const anchor of ['AWS WAF', 'CrowdSec', 'Auth0']) expect(doc).toContain(anchor);
    for (const name of Object.keys(DEFAULT_THRESHOLDS)) expect(doc, name).toContain(`\`${name}\``);
  });

  it('documents every spec.detection field in docs/detection.md, with its defaults', () => {
    const doc = readFileSync(new URL('../../docs/detection.md', import.meta.url), 'utf8');
    // The table rows: | `path` | default | aggressive default | on reload | what |
    const rows = new Map([...doc.matchAll(/^\| `([A-Za-z0-9.]+)` \| ([^|]+) \| ([^|]+) \| (at once|next start) \|/gm)].map((m) => [m[1]!, [m[2]!.trim(), m[3]!.trim(), m[4]!]]));
    const defaults = detectionSpecOf(DEFAULT_DETECTION) as Record<string, unknown>;
    const at = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
    const fields = leafPaths((SPEC_SCHEMAS.ThreatPolicy as Schema).properties!.detection!);
    expect(fields.length).toBeGreaterThan(70);
    const missing: string[] = [];
    for (const f of fields) {
      const aggressive = f.startsWith('aggressive.');
      const row = rows.get(aggressive ? f.slice('aggressive.'.length) : f);
      if (!row) {
        missing.push(f);
        continue;
      }
      if (aggressive) expect(row[1], f).toBe(String(at(defaults, f)));
      else expect(row[0], f).toBe(String(at(defaults, f)));
    }
    expect(missing).toEqual([]);
    // Fields that lay out or size tables are the ones documented as waiting for the next start.
    const shape = new Set([...SHAPE_FIELDS.map((p) => specFieldOf(`thresholds.${p}`)), 'spec.detection.orgUnderAttack.bucket', 'spec.detection.orgUnderAttack.sketchBits',
      'spec.detection.accounts.maxAccounts', 'spec.detection.accounts.familiarPerAccount', 'spec.detection.sprayPasswords.maxFingerprints', 'spec.detection.sprayPasswords.maxSources',
      'spec.detection.asn.window', 'spec.detection.asn.maxTrackedAsns']);
    for (const [f, row] of rows) expect(row[2], f).toBe(shape.has(`spec.detection.${f}`) ? 'next start' : 'at once');
  });
});

describe('bench/detect-memory', () => {
  it('runs small and keeps its bound', async () => {
    const r = await runDetectMemory({ ipv4: 40_000, ipv6: 4_000, cap: 10_000 });
    expect(r.tracked).toBe(10_000);
    expect(r.ipv6Keys).toBe(1);
    expect(r.tableBytesPerIp).toBeLessThanOrEqual(68.01); // 59 of counters, ring and index + 9 of eviction queues
  });

  it('measures the account and password tables per entry', async () => {
    const r = await runAccountMemory({ n: 5000 });
    expect(r.accounts).toBe(5000);
    // Without --expose-gc (vitest) a collection may land inside a step, so only an upper bound holds here; the
    // documented figures come from the script run with --expose-gc.
    for (const v of [r.bytesPerAccount, r.bytesPerFingerprint, r.bytesPerMarkedSource]) expect(v).toBeLessThan(2000);
    expect(r.asnTableBytesPerAsn).toBeCloseTo(41, 0);
  });
});
