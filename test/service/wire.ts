// The Check path (Gate) and the outcome path (Learner) wired as main.ts wires them, on the memory store, with a
// fake clock. signIn() sends a Check, then the app's answer (or Envoy's own 403/429) as the access log would.
import { compile } from '../../src/config/compile.ts';
import { SnapshotHolder } from '../../src/config/snapshot-holder.ts';
import type { ConfigObject } from '../../src/api/objects.ts';
import type { RequestFacts } from '../../src/decide/decision.ts';
import type { OutcomeReport } from '../../src/decide/outcome.ts';
import { ManualClock } from '../../src/clock.ts';
import { DetectionEngine } from '../../src/detect/engine.ts';
import type { IpKey } from '../../src/detect/ip-key.ts';
import { OrgAttackDetector } from '../../src/detect/org-attack.ts';
import { parseAddress } from '../../src/net/address.ts';
import { Gate } from '../../src/service/check.ts';
import { AttemptCorrelator } from '../../src/service/correlator.ts';
import { detectorView } from '../../src/service/detector-view.ts';
import { accountSignals } from '../../src/service/account-signals.ts';
import { Learner } from '../../src/service/learn.ts';
import { MemoryStore } from '../../src/store/memory.ts';
import type { DetectorStore } from '../../src/store/store.ts';
import { MemoryEventSink } from '../../src/telemetry/events.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { Metrics } from '../../src/telemetry/metrics.ts';

export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;
export const KEY = Buffer.alloc(32, 7);

/**
 * `policy`: extra ThreatPolicy spec fields (e.g. passwordSignals); `asnOf`: an ASN database lookup (geo.ts);
 * `makeStore`: another store over the same engine and org detector (a RedisStore; the caller starts it).
 */
export function wire(
  policy: Record<string, unknown> = {},
  asnOf?: (ip: string) => number | undefined,
  makeStore?: (engine: DetectionEngine, org: OrgAttackDetector, clock: ManualClock) => DetectorStore,
  clock = new ManualClock(1_800_000_000_000),
) {
  const origin = { source: 'test' };
  const objects: ConfigObject[] = [
    { kind: 'IPZone', name: 'lb', origin, spec: { usage: 'Policy', proxies: ['10.0.0.0/8'] } },
    { kind: 'ThreatPolicy', name: 'p', origin, spec: { action: 'Block', signIn: { routes: [{ path: { exact: '/login' } }] }, ...policy } },
  ];
  const { snapshot } = compile(objects, 1, 0);
  const holder = new SnapshotHolder();
  holder.swap(snapshot);
  const engine = new DetectionEngine({ clock });
  const org = new OrgAttackDetector({ clock });
  const store = makeStore ? makeStore(engine, org, clock) : new MemoryStore(engine, org);
  const correlator = new AttemptCorrelator<IpKey>();
  const blocks: string[] = [];
  const signals = accountSignals();
  const learner = new Learner({
    store, correlator, clock, signals, asnOf, snapshot: () => holder.current, maxChainHops: 10,
    observer: { outcome: () => undefined, blockStarted: (_k, _c, v) => blocks.push(`${v.blockLevel}:${Math.round((v.blockedUntilMs - clock.nowMs()) / MIN)}m`), attack: () => undefined },
  });
  learner.applyPolicy(snapshot.policy);
  let id = 0;
  const events = new MemoryEventSink();
  const view = detectorView(store, clock, signals, asnOf);
  const gate = new Gate({
    holder, metrics: new Metrics(holder), events, logger: createLogger('silent'), clock,
    options: { clientIp: { mode: 'xff', maxHops: 10 }, failureMode: 'allow', newId: () => String(++id), detectors: view, usernameKey: KEY },
    attempts: { store, correlator, keyOf: (a) => engine.keyOfAddress(a) },
  });
  /** One sign-in: Check, then (if let through) the app's answer via the outcome path, as Envoy's ALS would. */
  const signIn = (client: string, username: string, status: number, password = 'x') => {
    const requestId = `r${++id}`;
    const facts: RequestFacts = {
      peer: parseAddress('10.0.0.5'), xForwardedFor: client, forwarded: undefined, envoyExternalAddress: undefined, method: 'POST', path: '/login', host: 'h', requestId, userAgent: undefined,
      headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `username=${encodeURIComponent(username)}&password=${encodeURIComponent(password)}`,
    };
    const d = gate.check(facts, 'grpc');
    const o: OutcomeReport = { requestId, method: 'POST', path: '/login', host: 'h', status: d.verdict === 'allow' ? status : d.httpStatus, resultHeader: undefined, clientIp: '10.0.0.5', forwardedFor: client };
    learner.report(o);
    return d;
  };
  const keyOf = (text: string) => engine.keyOfAddress(parseAddress(text)!);
  return { clock, engine, learner, signIn, keyOf, blocks, signals, events, store, view };
}

