// Failures per autonomous system through Check (Gate) and the outcome path (Learner), with the real GeoLite2-ASN
// test database read by src/feeds/geo.ts; fake clock only.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GeoDatabases } from '../../src/feeds/geo.ts';
import { wire } from './wire.ts';

let geo: GeoDatabases;
let asnOf: (ip: string) => number | undefined;
beforeAll(async () => {
  geo = await GeoDatabases.open({ asn: fileURLToPath(new URL('../fixtures/mmdb/GeoLite2-ASN-Test.mmdb', import.meta.url)), watch: false });
  asnOf = (ip) => geo.lookup(ip).asn;
});
afterAll(() => geo.close());

/** 150 bots of AS71 (15.0.0.0/8, 16.0.0.0/8 in the test database), each in a /24 of its own: no /24 aggregate sees them. */
const bot = (i: number): string => `${15 + (i % 2)}.${1 + (i % 200)}.${Math.floor(i / 2) % 250}.${10 + (i % 7)}`;

describe('per-ASN aggregate (Gate + Learner, GeoLite2-ASN test database)', () => {
  it('the database says what the test assumes', () => {
    expect(asnOf('15.1.0.10')).toBe(71);
    expect(asnOf('16.2.0.11')).toBe(71);
    expect(asnOf('18.0.0.1')).toBe(3);
  });

  it('refuses a botnet spread over many /24s of one ASN; a proven user of that ASN and other ASNs go on', () => {
    const t = wire({}, asnOf);
    expect(t.signIn('15.200.1.1', 'owner', 200).verdict).toBe('allow');
    const answers: number[] = [];
    for (let i = 0; i < 150; i++) {
      const d = t.signIn(bot(i), `user${i}`, 401);
      answers.push(d.httpStatus);
      if (d.httpStatus !== 200) expect(d.threat?.detections.asn_attack).toMatch(/MEDIUM|HIGH/);
      t.clock.advance(2000);
    }
    // MEDIUM (429) at 40 failures from ≥ 10 IPs; refused attempts are no failures, so it holds there (HIGH at 80).
    expect(answers.slice(0, 39).every((s) => s === 200)).toBe(true);
    expect(answers.slice(41).filter((s) => s === 429).length).toBeGreaterThanOrEqual(105);
    expect(t.signIn('15.200.1.1', 'owner', 200).httpStatus).toBe(200);
    expect(t.signIn('18.0.0.1', 'someone', 401).httpStatus).toBe(200);
    expect(t.signals.asn.size).toBeLessThanOrEqual(3);
  });

  it('an ASN whose sign-ins mostly succeed (a residential ISP) is not attacking, whatever its failures', () => {
    const t = wire({ detection: { asn: { medium: 20, high: 30 } } }, asnOf);
    const refused: number[] = [];
    for (let i = 0; i < 400; i++) {
      // AS7018 (12.82.0.0/15 in the test database): 1 in 8 sign-ins fails, spread over many addresses.
      const ip = `12.82.${i % 250}.${1 + Math.floor(i / 250)}`;
      const d = t.signIn(ip, `user${i}`, i % 8 === 0 ? 401 : 200);
      if (d.httpStatus !== 200) refused.push(i);
      t.clock.advance(1000);
    }
    expect(asnOf('12.82.3.1')).toBe(7018);
    expect(refused).toEqual([]);
  });

  it('without an ASN database nothing is counted per ASN', () => {
    const t = wire();
    let refused = 0;
    for (let i = 0; i < 150; i++) {
      if (t.signIn(bot(i), `user${i}`, 401).threat?.detections.asn_attack) refused++;
      t.clock.advance(2000);
    }
    expect(refused).toBe(0);
    expect(t.signals.asn.size).toBe(0);
  });
});
