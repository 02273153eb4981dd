// node --import tsx bench/detect-signals.ts
// Check-path cost of the issue-13 signals, same run: what detectorView.facts() read before (evaluate + the
// (IP, account) level) against the same plus the network aggregate (networkKeyOf + networkLevel). The exact
// short window's cost is inside evaluate() in both. Keys are random over a 100k-IP / 10k-network table.
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { ManualClock } from '../src/clock.ts';
import { DetectionEngine } from '../src/detect/engine.ts';
import { AccountSources } from '../src/detect/accounts.ts';
import { SprayPasswords } from '../src/detect/spray-passwords.ts';
import { passwordFingerprint } from '../src/decide/password.ts';
import { OrgAttackDetector } from '../src/detect/org-attack.ts';
import { AsnAggregates } from '../src/detect/asn.ts';
import { detectorView } from '../src/service/detector-view.ts';
import { MemoryStore } from '../src/store/memory.ts';

export interface SignalsBench {
  readonly baseNsPerCheck: number;
  readonly withNetworkNsPerCheck: number;
  readonly addedNsPerCheck: number;
  /** The same plus familiar sources, account under attack, spray password and spraying source (issue 13 items 3-4). */
  readonly withAccountsNsPerCheck: number;
  readonly addedAccountsNsPerCheck: number;
  /**
   * The Check path's own read, detectorView().facts() on a memory store, which adds to the above the distinct-
   * wrong-passwords check, the Org Under Attack state, and the ASN aggregate's "is any ASN hot" test (an ASN
   * database configured, no ASN attacking: the lookup itself is skipped).
   */
  readonly viewNsPerCheck: number;
  /** withAccounts plus those three reads, the same loop: what this round's signals add. */
  readonly withUnderAttackNsPerCheck: number;
  readonly addedUnderAttackNsPerCheck: number;
  /** passwordFingerprint() of a 20-character password, alone. */
  readonly fingerprintNs: number;
  readonly loadAvg: number[];
}

export function runDetectSignals(n = 2_000_000): SignalsBench {
  const clock = new ManualClock(1_800_000_000_000);
  const engine = new DetectionEngine({ clock, blocking: true });
  const addrs: { family: 4; w0: number; w1: number; w2: number; w3: number }[] = [];
  for (let i = 0; i < 100_000; i++) {
    const w0 = (0x2d000000 + (i % 10_000) * 256 + Math.floor(i / 10_000)) >>> 0; // 10k /24s, 10 IPs each
    const a = { family: 4 as const, w0, w1: 0, w2: 0, w3: 0 };
    addrs.push(a);
    engine.recordOutcome(engine.keyOfAddress(a), 'failure', { usernameHash: i, netKey: engine.networkKeyOf(a) });
  }
  const accounts = new AccountSources();
  const spray = new SprayPasswords();
  for (let i = 0; i < accounts.options.maxAccounts; i++) accounts.recordSuccess(i, engine.networkKeyOf(addrs[i % addrs.length]!), clock.nowMs());
  for (let i = 0; i < 10_000; i++) spray.recordFailure(0x100000 | i, i, engine.keyOfAddress(addrs[i]!), clock.nowMs());
  let x = 0x9e3779b9;
  const pick = (): number => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    return (x >>> 0) % addrs.length;
  };
  let sink = 0;
  const base = (): number => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const a = addrs[pick()]!;
      const k = engine.keyOfAddress(a);
      sink += engine.evaluate(k).blockedUntilMs + engine.accountLevel(k, i & 1023).length;
    }
    return ((performance.now() - t) * 1e6) / n;
  };
  const withNet = (): number => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const a = addrs[pick()]!;
      const k = engine.keyOfAddress(a);
      sink += engine.evaluate(k).blockedUntilMs + engine.accountLevel(k, i & 1023).length + engine.networkLevel(engine.networkKeyOf(a), k).length;
    }
    return ((performance.now() - t) * 1e6) / n;
  };
  const withAccounts = (): number => {
    const t = performance.now();
    const now = clock.nowMs();
    for (let i = 0; i < n; i++) {
      const a = addrs[pick()]!;
      const k = engine.keyOfAddress(a);
      const net = engine.networkKeyOf(a);
      const account = i & 65535;
      sink += engine.evaluate(k).blockedUntilMs + engine.accountLevel(k, i & 1023).length + engine.networkLevel(net, k).length;
      if (accounts.familiar(account, net, now) || accounts.underAttack(account, now) || spray.isSpray(0x100000 | (i & 0xfffff), now) || spray.sourceSpraying(k, now)) sink++;
    }
    return ((performance.now() - t) * 1e6) / n;
  };
  const store = new MemoryStore(engine, new OrgAttackDetector({ clock }));
  const asn = new AsnAggregates();
  const view = detectorView(store, clock, { accounts, spray, asn }, () => 64_512);
  const withUnderAttack = (): number => {
    const t = performance.now();
    const now = clock.nowMs();
    for (let i = 0; i < n; i++) {
      const a = addrs[pick()]!;
      const k = engine.keyOfAddress(a);
      const net = engine.networkKeyOf(a);
      const account = i & 65535;
      sink += engine.evaluate(k).blockedUntilMs + engine.accountLevel(k, i & 1023).length + engine.networkLevel(net, k).length;
      if (accounts.familiar(account, net, now) || accounts.underAttack(account, now) || spray.isSpray(0x100000 | (i & 0xfffff), now) || spray.sourceSpraying(k, now)) sink++;
      if (accounts.guessed(account, now) || store.org.underAttack || asn.hot(now)) sink++;
    }
    return ((performance.now() - t) * 1e6) / n;
  };
  const clients = addrs.map((a) => ({ ...a, text: '' }));
  const viaView = (): number => {
    const t = performance.now();
    for (let i = 0; i < n; i++) {
      const f = view.facts(clients[pick()]! as never, i & 1023, 0x100000 | (i & 0xfffff));
      sink += f.verdict.blockedUntilMs + (f.familiar || f.accountUnderAttack || f.sprayPassword || f.sprayingSource || f.accountGuessed ? 1 : 0);
    }
    return ((performance.now() - t) * 1e6) / n;
  };
  const key = Buffer.from('bench install key, 32 bytes long!');
  const fingerprint = (): number => {
    const m = Math.min(n, 500_000);
    const t = performance.now();
    for (let i = 0; i < m; i++) sink += passwordFingerprint(key, i & 1 ? 'correct-horse-battery' : 'Winter2026!Winter2026');
    return ((performance.now() - t) * 1e6) / m;
  };
  // Interleaved rounds, best of each: the load on a shared machine moves both alike.
  let b = Infinity;
  let w = Infinity;
  let acc = Infinity;
  let fp = Infinity;
  let vw = Infinity;
  let ua = Infinity;
  for (let r = 0; r < 5; r++) {
    vw = Math.min(vw, viaView());
    ua = Math.min(ua, withUnderAttack());
    b = Math.min(b, base());
    w = Math.min(w, withNet());
    acc = Math.min(acc, withAccounts());
    fp = Math.min(fp, fingerprint());
  }
  if (sink === -1) console.log(sink);
  return {
    baseNsPerCheck: round(b), withNetworkNsPerCheck: round(w), addedNsPerCheck: round(w - b),
    withAccountsNsPerCheck: round(acc), addedAccountsNsPerCheck: round(acc - w),
    viewNsPerCheck: round(vw), withUnderAttackNsPerCheck: round(ua), addedUnderAttackNsPerCheck: round(ua - acc), fingerprintNs: round(fp), loadAvg: loadavg(),
  };
}

const round = (v: number): number => Math.round(v * 10) / 10;

if (import.meta.url === `file://${process.argv[1]}`) console.log(JSON.stringify(runDetectSignals(), null, 2));
