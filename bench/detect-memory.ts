/**
 * Memory bound of the per-IP detection table under an address spray:
 *   node --expose-gc --import tsx bench/detect-memory.ts [ipv4Count] [ipv6Count] [cap]
 * Sprays distinct IPv4 keys plus random IPv6 addresses inside one /64 through recordOutcome('failure'),
 * then reports bytes per tracked IP, RSS, and evaluate() cost. Then the per-account and per-password tables
 * (runAccountMemory): V8 heap bytes per account, per extra familiar network, per fingerprint being counted, per
 * marked source, and the typed-array bytes per tracked ASN.
 */
import { pathToFileURL } from 'node:url';
import { ManualClock } from '../src/clock.ts';
import { DetectionEngine } from '../src/detect/engine.ts';
import { ipKey } from '../src/detect/ip-key.ts';
import { DEFAULT_THRESHOLDS } from '../src/detect/thresholds.ts';
import { AccountSources } from '../src/detect/accounts.ts';
import { AsnAggregates } from '../src/detect/asn.ts';
import { SprayPasswords } from '../src/detect/spray-passwords.ts';

export interface DetectMemoryResult {
  ipv4Sprayed: number;
  ipv6Sprayed: number;
  cap: number;
  tracked: number;
  evictions: number;
  ipv6Keys: number;
  /** typed-array bytes of the per-IP table / cap */
  tableBytesPerIp: number;
  /** RSS growth over the spray / tracked keys */
  rssBytesPerIp: number;
  rssBeforeMb: number;
  rssAfterMb: number;
  /** table + pair table, allocated up front */
  engineMemoryMb: number;
  sprayNsPerOp: number;
  evaluateTrackedNsPerOp: number;
  evaluateUntrackedNsPerOp: number;
  /** heap growth per untracked evaluate() (0 = no allocation) */
  evaluateUntrackedBytesPerOp: number;
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const mb = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;

export async function runDetectMemory(
  opts: { ipv4?: number; ipv6?: number; cap?: number } = {},
): Promise<DetectMemoryResult> {
  const nV4 = opts.ipv4 ?? 10_000_000;
  const nV6 = opts.ipv6 ?? 1_000_000;
  const cap = opts.cap ?? 1_000_000;
  gc();
  await new Promise((r) => setTimeout(r, 50));
  const rssBefore = process.memoryUsage().rss;
  const clock = new ManualClock(1_700_000_000_000);
  const engine = new DetectionEngine({ clock, thresholds: { ...DEFAULT_THRESHOLDS, maxTrackedIps: cap } });

  const v4 = (i: number): number => ipKey(4, Math.imul(i, 0x9e3779b1) >>> 0, 0, 0, 0, 64);
  let seed = 12345;
  const rand32 = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const v6Keys = new Set<number>();
  const t0 = process.hrtime.bigint();
  const total = nV4 + nV6;
  const every = nV6 > 0 ? Math.max(1, Math.floor(total / nV6)) : Infinity;
  let i4 = 0;
  let i6 = 0;
  for (let n = 0; n < total; n++) {
    if (n % 10 === 0) clock.advance(1);
    // Interleave one IPv6 address inside 2001:db8:0:abcd::/64 every `every` operations.
    if ((n % every === 0 && i6 < nV6) || i4 >= nV4) {
      const k = ipKey(6, 0x20010db8, 0x0000abcd, rand32(), rand32(), 64);
      v6Keys.add(k);
      i6++;
      engine.recordOutcome(k, 'failure');
    } else engine.recordOutcome(v4(i4++), 'failure');
  }
  const sprayNs = Number(process.hrtime.bigint() - t0) / total;
  gc();
  await new Promise((r) => setTimeout(r, 50));
  const rssAfter = process.memoryUsage().rss;

  const probe = (keyOf: (i: number) => number, ops: number): number => {
    let sink = 0;
    const s = process.hrtime.bigint();
    for (let i = 0; i < ops; i++) sink += engine.evaluate(keyOf(i & 0xffff)).blockedUntilMs;
    const ns = Number(process.hrtime.bigint() - s) / ops;
    return sink === -1 ? 0 : ns;
  };
  const trackedKeys = new Float64Array(65536);
  for (let i = 0; i < 65536; i++) trackedKeys[i] = v4(i4 - 1 - i);
  const untrackedKeys = new Float64Array(65536);
  for (let i = 0; i < 65536; i++) untrackedKeys[i] = ipKey(4, 0xc0000200 + i, 0, 0, 0, 64); // never sprayed
  probe((i) => trackedKeys[i]!, 200_000); // warm-up
  probe((i) => untrackedKeys[i]!, 200_000);
  const evTracked = probe((i) => trackedKeys[i]!, 2_000_000);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const evUntracked = probe((i) => untrackedKeys[i]!, 2_000_000);
  const heap1 = process.memoryUsage().heapUsed;

  return {
    ipv4Sprayed: i4,
    ipv6Sprayed: i6,
    cap,
    tracked: engine.trackedCount,
    evictions: engine.evictions,
    ipv6Keys: v6Keys.size,
    tableBytesPerIp: Math.round((engine.ipTableBytes / cap) * 100) / 100,
    rssBytesPerIp: Math.round(((rssAfter - rssBefore) / engine.trackedCount) * 100) / 100,
    rssBeforeMb: mb(rssBefore),
    rssAfterMb: mb(rssAfter),
    engineMemoryMb: mb(engine.memoryBytes),
    sprayNsPerOp: Math.round(sprayNs),
    evaluateTrackedNsPerOp: Math.round(evTracked * 10) / 10,
    evaluateUntrackedNsPerOp: Math.round(evUntracked * 10) / 10,
    evaluateUntrackedBytesPerOp: Math.max(0, Math.round(((heap1 - heap0) / 2_000_000) * 100) / 100),
  };
}

export interface AccountMemoryResult {
  accounts: number;
  /** V8 heap per account with one familiar network (its first success). */
  bytesPerAccount: number;
  /** ... and per further familiar network of it. */
  bytesPerFamiliarSource: number;
  /** ... and per account that also has one wrong password counted (stale-client and distinct-password state). */
  bytesPerAccountPassword: number;
  /** ... per fingerprint being counted (one account so far). */
  bytesPerFingerprint: number;
  /** ... per source marked spraying. */
  bytesPerMarkedSource: number;
  /** Typed-array bytes per tracked ASN (allocated up front). */
  asnTableBytesPerAsn: number;
}

/** Heap growth of `work` per item, after a full collection on either side. */
async function heapPer(items: number, work: () => void): Promise<number> {
  gc();
  await new Promise((r) => setTimeout(r, 20));
  const before = process.memoryUsage().heapUsed;
  work();
  gc();
  await new Promise((r) => setTimeout(r, 20));
  return Math.round((process.memoryUsage().heapUsed - before) / items);
}

/** Bytes per entry of the account and password tables at `n` entries (default: maxAccounts, 50,000). */
export async function runAccountMemory(opts: { n?: number } = {}): Promise<AccountMemoryResult> {
  const n = opts.n ?? 50_000;
  const now = 1_700_000_000_000;
  const accounts = new AccountSources({ maxAccounts: n });
  const perAccount = await heapPer(n, () => {
    for (let i = 0; i < n; i++) accounts.recordSuccess(i + 1, 0x0a000000 + i, now);
  });
  const perFamiliar = await heapPer(n, () => {
    for (let i = 0; i < n; i++) accounts.recordSuccess(i + 1, 0x0b000000 + i, now + 1000);
  });
  const perPassword = await heapPer(n, () => {
    for (let i = 0; i < n; i++) accounts.recordWrongPassword(i + 1, (i % 1_000_000) + 1, true, now + 2000);
  });
  const spray = new SprayPasswords({ maxFingerprints: n, maxSources: n });
  const perPrint = await heapPer(n, () => {
    for (let i = 0; i < n; i++) spray.recordFailure(i + 1, i + 7, i + 11, now);
  });
  // One fingerprint sprayed over 5 accounts, then n sources failing with it: each is marked.
  const marked = new SprayPasswords({ maxFingerprints: 16, maxSources: n });
  for (let a = 0; a < 5; a++) marked.recordFailure(424_242, a + 1, 1, now);
  const perSource = await heapPer(n, () => {
    for (let i = 0; i < n; i++) marked.recordFailure(424_242, i % 64, 100 + i, now);
  });
  const asn = new AsnAggregates();
  return {
    accounts: accounts.size,
    bytesPerAccount: perAccount,
    bytesPerFamiliarSource: perFamiliar,
    bytesPerAccountPassword: perPassword,
    bytesPerFingerprint: perPrint,
    bytesPerMarkedSource: perSource,
    asnTableBytesPerAsn: Math.round((asn.byteLength / asn.options.maxTrackedAsns) * 100) / 100,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [a, b, c] = process.argv.slice(2).map(Number);
  if (!(globalThis as { gc?: unknown }).gc) console.warn('run with --expose-gc for stable RSS figures');
  const r = await runDetectMemory({ ipv4: a || undefined, ipv6: b || undefined, cap: c || undefined });
  console.log(JSON.stringify(r, null, 2));
  console.log(JSON.stringify(await runAccountMemory(), null, 2));
}
