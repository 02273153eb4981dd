// Micro-benchmarks: the existing runners (net, proto, feeds, detect memory) plus reload of the 100k config.
// Each section is independent: a failing one becomes a note, and the rest still report.
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { runDetectSignals } from '../detect-signals.ts';
import { runFeedsMicro } from '../feeds-micro.ts';
import { runNetMicro } from '../net-micro.ts';
import { runProtoDecode } from '../proto-decode.ts';
import { bigConfig, writeBigConfig } from './big-config.ts';
import { forkTs } from './child.ts';
import { runReloadBench } from './reload.ts';

export type Section = Record<string, number>;

export interface MicroReport {
  readonly sections: Record<string, Section>;
  readonly notes: string[];
}

export interface Target {
  readonly name: string;
  readonly section: string;
  readonly key: string;
  readonly limit: number;
  readonly unit: string;
}

/** The targets, and where each figure comes from. */
export const MICRO_TARGETS: readonly Target[] = [
  { name: 'zone lookup @ 100k prefixes', section: 'net', key: 'lookup.v4@100k.ns', limit: 100, unit: 'ns/op' },
  { name: 'chain resolution (3 hops)', section: 'net', key: 'resolveClientChain.3hops.ns', limit: 1000, unit: 'ns/op' },
  { name: 'reload: compile 100k CIDRs', section: 'reload', key: 'reload.compile@100k.ms', limit: 200, unit: 'ms' },
  // Issue 11 item 4: whatever the table holds (worst slice of the scenario that evicts on every key).
  { name: 'new key at the tracked-IP cap (evicting)', section: 'evict', key: 'no-failures.worst-slice.us', limit: 10, unit: 'µs' },
  { name: 'new key at a cap full of rate-limited keys', section: 'evict', key: 'rate-limited.worst-slice.us', limit: 10, unit: 'µs' },
];

async function inChild(call: string, opts: object): Promise<Section> {
  const { child } = await forkTs<object>('bench/lib/micro-child.ts', { execArgv: ['--expose-gc'] });
  try {
    return await child.call<Section>(call, opts);
  } finally {
    await child.stop();
  }
}

async function detectMemory(quick: boolean): Promise<Section> {
  // Smaller than the module's own defaults (10M sprays, over a minute here): enough to fill and churn the table.
  const opts = quick ? { ipv4: 300_000, ipv6: 30_000, cap: 100_000 } : { ipv4: 2_000_000, ipv6: 200_000, cap: 1_000_000 };
  const { child } = await forkTs<object>('bench/lib/detect-memory-child.ts', { execArgv: ['--expose-gc'] });
  try {
    return await child.call<Section>('run', opts);
  } finally {
    await child.stop();
  }
}

export async function runMicro(quick: boolean, log: (line: string) => void = () => undefined): Promise<MicroReport> {
  const sections: Record<string, Section> = {};
  const notes: string[] = [];
  const section = async (name: string, fn: () => Promise<Section>): Promise<void> => {
    log(`micro: ${name}…`);
    try {
      sections[name] = await fn();
    } catch (err) {
      notes.push(`${name}: skipped (${(err as Error).message.split('\n')[0]})`);
    }
  };
  await section('net', runNetMicro);
  await section('reload', async () => {
    const file = writeBigConfig(bigConfig());
    try {
      return runReloadBench(file, quick ? 2 : 5);
    } finally {
      rmSync(dirname(file), { recursive: true, force: true });
    }
  });
  await section('proto', () => runProtoDecode(quick ? { warmupMs: 200, rounds: 5 } : {}));
  await section('feeds', runFeedsMicro);
  await section('detect-memory', () => detectMemory(quick));
  // Per-Check cost of the network, account and password signals over their base (same run).
  await section('detect-signals', async () => {
    const r = runDetectSignals(quick ? 300_000 : 2_000_000);
    return { baseNs: r.baseNsPerCheck, addedNetworkNs: r.addedNsPerCheck, addedAccountsNs: r.addedAccountsNsPerCheck, fingerprintNs: r.fingerprintNs, loadAvg1: r.loadAvg[0]! };
  });
  await section('evict', () => inChild('evict', quick ? { cap: 100_000, spray: 50_000 } : { cap: 1_000_000, spray: 200_000 }));
  return { sections, notes };
}
