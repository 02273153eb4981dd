// The 100k-CIDR config the load and reload benchmarks share: one Blocklist zone of seeded random IPv4 CIDRs,
// a Policy zone trusting 10.0.0.0/8 as proxies, and a ThreatPolicy. Seeded, so every run compiles the same set.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng } from '../net-fixtures.ts';

export const PEER = '10.0.0.5';
export const EDGE_PROXY = '10.1.2.3';

export interface BigConfig {
  readonly yaml: string;
  /** The blocklist entries, in file order. */
  readonly cidrs: readonly string[];
}

const v4 = (n: number): string => `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;

/** A public-looking address: not 0/8, 10/8 (our proxies), 127/8, or multicast and above. */
export function publicV4(rand: () => number): number {
  for (;;) {
    const n = rand() >>> 0;
    const a = n >>> 24;
    if (a !== 0 && a !== 10 && a !== 127 && a < 224) return n;
  }
}

/** Blocklist-shaped prefixes, as in bench/net-fixtures.ts: 30% /32, 40% /24, the rest /16-/23. */
export function randomCidrs(count: number, seed: number): string[] {
  const rand = prng(seed);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand() % 100;
    const len = r < 30 ? 32 : r < 70 ? 24 : 16 + (rand() % 8);
    const mask = len === 32 ? 0xffffffff : (0xffffffff << (32 - len)) >>> 0;
    out.push(`${v4((publicV4(rand) & mask) >>> 0)}/${len}`);
  }
  return out;
}

/** An address inside "a.b.c.d/len". */
export function addressInside(cidr: string, rand: () => number): string {
  const [ip, lenText] = cidr.split('/') as [string, string];
  const base = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(lenText));
  return v4(base + (rand() % size));
}

export function bigConfig(count = 100_000, seed = 0x5eed): BigConfig {
  const cidrs = randomCidrs(count, seed);
  const yaml = `apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: edge }
spec:
  usage: Policy
  proxies: [10.0.0.0/8]
---
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: bench-blocklist }
spec:
  usage: Blocklist
  gateways:
${cidrs.map((c) => `    - ${c}`).join('\n')}
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatPolicy
metadata: { name: default }
spec:
  action: Block
`;
  return { yaml, cidrs };
}

/** Writes the config into a fresh temp folder and returns the file path. */
export function writeBigConfig(config: BigConfig): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
  const file = join(dir, 'zones.yaml');
  writeFileSync(file, config.yaml);
  return file;
}
