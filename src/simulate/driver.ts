import type { ConfigSource } from '../sources/files.ts';
import type { ConfigObject } from '../api/objects.ts';
import { validateObject } from '../config/validate.ts';
import { ManualClock } from '../clock.ts';
import type { HTTPAccessLogEntry } from '../gen/envoy/data/accesslog/v3/HTTPAccessLogEntry.ts';
import { startPortcullis } from '../main.ts';
import { readSettings } from '../settings.ts';
import type { EventSink, SecurityEvent } from '../telemetry/events.ts';
import { createLogger } from '../telemetry/logger.ts';
import { AlsClient, alsEntry } from './als-client.ts';
import { AuthzClient, headerValue } from './authz-client.ts';
import { envoyCheckRequest } from './envoy-request.ts';
import type { Scenario } from './scenarios.ts';
import type { SimEvent } from './traffic.ts';

/** The load balancer every simulated request arrives through (a trusted proxy in the bundled policy). */
export const LB_PEER = '10.0.0.5';
/** Monday 2026-03-02 08:00 UTC: scenario time 0. */
export const SIM_START_MS = Date.UTC(2026, 2, 2, 8);

export type Action = 'Block' | 'Audit';

/** The bundled policy: the load balancer's zone and one ThreatPolicy on POST /login. */
export function simulationPolicy(action: Action): ConfigObject[] {
  const docs = [
    { apiVersion: 'portcullis.dev/v1alpha1', kind: 'IPZone', metadata: { name: 'load-balancer' }, spec: { usage: 'Policy', proxies: ['10.0.0.0/16'] } },
    {
      apiVersion: 'portcullis.dev/v1alpha1',
      kind: 'ThreatPolicy',
      metadata: { name: 'simulation' },
      spec: { action, signIn: { routes: [{ path: { exact: '/login' }, methods: ['POST'] }] }, passwordSignals: { enabled: true } },
    },
  ];
  return docs.map((d, document) => {
    const r = validateObject(d, { source: 'simulation', document });
    if ('issues' in r) throw new Error(`bundled simulation policy is invalid: ${r.issues.map((i) => i.message).join('; ')}`);
    return r.object;
  });
}

function staticSource(objects: readonly ConfigObject[]): ConfigSource {
  return { start: async (onBatch) => onBatch({ objects, issues: [] }), stop: () => undefined };
}

/** Per event: what Portcullis answered. */
export const ALLOWED = 0;
export const RATE_LIMITED = 1;
export const BLOCKED = 2;

export interface DriveResult {
  /** ALLOWED / RATE_LIMITED (429) / BLOCKED (403), per event. */
  readonly answers: Uint8Array;
  /** x-portcullis-threat-level on allowed answers: 0 none, 1 LOW, 2 MEDIUM, 3 HIGH (what Audit reports). */
  readonly levels: Uint8Array;
  /** Scenario times (ms) of security.attack.start / security.attack.end. */
  readonly attackStarts: readonly number[];
  readonly attackEnds: readonly number[];
  readonly blocksStarted: number;
  /** The sidecar's own counters at the end (a cross-check of the figures): ALS entries and outcomes ingested. */
  readonly ingested: Readonly<Record<string, number>>;
  /** The Org Under Attack cool-down in force (a clear is only on time after it). */
  readonly cooldownMs: number;
  /** Blocks started, by the detections at the block's level ("brute_force HIGH"): why legitimate users got denied. */
  readonly blockReasons: Readonly<Record<string, number>>;
  readonly wallMs: number;
}

export interface DriveOptions {
  readonly action?: Action;
  /**
   * Envoy's gRPC access logger buffers entries and flushes every buffer_flush_interval (1 s by default), so
   * outcomes reach the detectors up to that much later than the Check. 0 sends each entry at once.
   */
  readonly alsFlushMs?: number;
  /** Seeds the username-hash key: the hashes (and the sketches built on them) are part of what a seed fixes. */
  readonly seed?: number;
}

const LEVELS: Readonly<Record<string, number>> = { LOW: 1, MEDIUM: 2, HIGH: 3 };

/** The password a simulated sign-in sends (SimEvent.password says when it is not the obvious one). */
function passwordOf(e: SimEvent, i: number): string {
  if (e.password !== undefined) return e.password;
  if (e.actor === 'attack') return `guess-${i}`;
  return e.result === 'success' ? `own-${e.username}` : `mistyped-${e.username}`;
}

/**
 * Runs a scenario against a real Portcullis (in-process, 127.0.0.1:0, ManualClock) through its gRPC Check and
 * access-log interfaces, one sign-in at a time in time order. The clock moves to each event's time and
 * threats.tick() runs at every simulated second with traffic (main.ts's 1 s interval in production), and at
 * every attack-bucket boundary when idle. Access-log entries go out in Envoy-like flushes; before the clock
 * moves on, every entry sent has been ingested, so no outcome lands at the wrong time.
 */
export async function drive(scenario: Scenario, options: DriveOptions = {}): Promise<DriveResult> {
  const started = performance.now();
  const flushMs = options.alsFlushMs ?? 1000;
  if (!(flushMs >= 0 && flushMs % 1000 === 0)) throw new RangeError('alsFlushMs: a whole number of seconds (0: immediate)');
  const clock = new ManualClock(SIM_START_MS);
  const attackStarts: number[] = [];
  const attackEnds: number[] = [];
  let blocksStarted = 0;
  const blockReasons: Record<string, number> = {};
  const events: EventSink = {
    emit(e: SecurityEvent) {
      const at = clock.nowMs() - SIM_START_MS;
      if (e.eventType === 'security.attack.start') attackStarts.push(at);
      else if (e.eventType === 'security.attack.end') attackEnds.push(at);
      else if (e.debugContext.debugData.blockedUntil) {
        blocksStarted++;
        const { threatLevel, threatDetections } = e.debugContext.debugData;
        for (const [reason, level] of Object.entries(JSON.parse(threatDetections ?? '{}') as Record<string, string>)) {
          if (level === threatLevel) blockReasons[`${reason} ${level}`] = (blockReasons[`${reason} ${level}`] ?? 0) + 1;
        }
      }
    },
  };
  const settings = readSettings({
    'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '', 'drain-seconds': '1', events: 'none',
    'username-key': `portcullis-simulation-${options.seed ?? 1}`,
  }, {});
  const running = await startPortcullis(settings, {
    clock,
    events,
    logger: createLogger('silent'),
    source: staticSource(simulationPolicy(options.action ?? 'Block')),
  });
  const target = `127.0.0.1:${running.grpcPort}`;
  const authz = new AuthzClient(target);
  const als = new AlsClient(target);
  const received = running.metrics.registry.getSingleMetric('portcullis_access_log_entries_total');
  if (!received) throw new Error('access-log metric missing');
  let sent = 0;
  let queue: HTTPAccessLogEntry[] = [];

  const flush = async (): Promise<void> => {
    if (queue.length === 0) return;
    als.send(queue);
    sent += queue.length;
    queue = [];
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = (await received.get()).values.reduce((s, v) => s + v.value, 0);
      if (got >= sent) return;
      if (Date.now() > deadline) throw new Error(`access-log entries not ingested (${got}/${sent})`);
      await new Promise((r) => setImmediate(r));
    }
  };
  let nextTick = SIM_START_MS + 1000;
  let active = false;
  const { bucketMs, cooldownMs } = running.org.options;
  const advanceTo = async (ms: number): Promise<void> => {
    for (; nextTick <= ms; nextTick += 1000) {
      // An idle second only needs a tick where an attack bucket closes (the sweep it skips frees memory only).
      if (!active && queue.length === 0 && nextTick % bucketMs !== 0) continue;
      active = false;
      clock.set(nextTick);
      if (flushMs > 0 && (nextTick - SIM_START_MS) % flushMs === 0) await flush();
      running.learner.tick();
    }
    if (ms > clock.nowMs()) clock.set(ms);
  };

  const answers = new Uint8Array(scenario.events.length);
  const levels = new Uint8Array(scenario.events.length);
  const ingested: Record<string, number> = {};
  try {
    for (let i = 0; i < scenario.events.length; i++) {
      const e = scenario.events[i]!;
      await advanceTo(SIM_START_MS + e.atMs);
      active = true;
      const requestId = `sim-${i}`;
      const res = await authz.check(envoyCheckRequest({
        peer: LB_PEER,
        body: `username=${encodeURIComponent(e.username)}&password=${encodeURIComponent(passwordOf(e, i))}`,
        headers: { 'x-forwarded-for': e.ip, 'x-request-id': requestId, 'content-type': 'application/x-www-form-urlencoded' },
      }));
      const denied = res.status?.code !== 0;
      if (denied) answers[i] = res.deniedResponse?.status?.code === 'TooManyRequests' ? RATE_LIMITED : BLOCKED;
      else levels[i] = LEVELS[headerValue(res, 'x-portcullis-threat-level') ?? ''] ?? 0;
      // Envoy logs every request; the ones ext_authz refused carry the UAEX flag and Envoy's own 403/429.
      const status = denied ? (answers[i] === RATE_LIMITED ? 429 : 403) : e.result === 'success' ? 200 : 401;
      queue.push(alsEntry({ requestId, status, peer: LB_PEER, xff: e.ip, deniedByExtAuthz: denied, resultHeader: !denied && e.result === 'unknown_user' ? 'unknown_user' : undefined }));
      if (flushMs === 0) await flush();
    }
    await advanceTo(SIM_START_MS + scenario.durationMs);
    await flush();
    for (const v of (await received.get()).values) ingested[v.labels.accepted === 'true' ? 'alsAccepted' : 'alsRefused'] = v.value;
    const outcomes = running.metrics.registry.getSingleMetric('portcullis_outcomes_total');
    for (const v of outcomes ? (await outcomes.get()).values : []) ingested[String(v.labels.result)] = v.value;
  } finally {
    authz.close();
    als.close();
    await running.stop();
  }
  return { answers, levels, attackStarts, attackEnds, blocksStarted, cooldownMs, ingested, blockReasons, wallMs: performance.now() - started };
}
