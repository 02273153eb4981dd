import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { FileSource, type ConfigSource } from './config/file-source.ts';
import { formatIssues, Reloader } from './config/reloader.ts';
import { SnapshotHolder } from './config/snapshot-holder.ts';
import { authorizationService } from './adapters/grpc/authorization-service.ts';
import { loadEnvoyProtos, serviceDefinition } from './adapters/grpc/protos.ts';
import { HEALTH_SERVICES, startGrpcServer, type GrpcServerHandle } from './adapters/grpc/server.ts';
import { startOpsServer, type OpsServerHandle } from './adapters/http/ops-server.ts';
import { Gate } from './adapters/gate.ts';
import type { DecideOptions } from './decide/decide.ts';
import { systemClock, type Clock } from './detect/clock.ts';
import { DetectionEngine } from './detect/engine.ts';
import { DEFAULT_AGGRESSIVE_THRESHOLDS, DEFAULT_THRESHOLDS } from './detect/thresholds.ts';
import { OrgAttackDetector } from './detect/org-attack.ts';
import { ThreatService } from './detect/threat-service.ts';
import { formatIpKey } from './detect/ip-key.ts';
import { accessLogService } from './adapters/grpc/access-log-service.ts';
import { outcomeEndpoint } from './adapters/http/outcome-endpoint.ts';
import { adminIpEndpoint } from './adapters/http/admin-endpoint.ts';
import type { RouteHandler } from './adapters/http/ops-server.ts';
import type { ThreatReason } from './detect/levels.ts';
import { attackEvent, blockStartedEvent } from './telemetry/events.ts';
import { ThreatMetrics } from './telemetry/threat-metrics.ts';
import type { Settings } from './settings.ts';
import { StreamEventSink, type EventSink } from './telemetry/events.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { Metrics } from './telemetry/metrics.ts';

export interface Overrides {
  readonly clock?: Clock;
  readonly events?: EventSink;
  readonly logger?: Logger;
  readonly source?: ConfigSource;
}

export interface Running {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly holder: SnapshotHolder;
  readonly metrics: Metrics;
  readonly reloader: Reloader;
  readonly threats: ThreatService;
  readonly engine: DetectionEngine;
  readonly org: OrgAttackDetector;
  /** Drains in-flight checks (up to settings.drainSeconds) and closes every listener. */
  stop(): Promise<void>;
}

function eventSinkFor(target: string): EventSink {
  if (target === 'none') return { emit: () => undefined };
  if (target === 'stdout') return new StreamEventSink(process.stdout);
  return new StreamEventSink(createWriteStream(target, { flags: 'a' }));
}

/** Wiring only: settings → sources → snapshot → gate → adapters. */
export async function startPortcullis(settings: Settings, overrides: Overrides = {}): Promise<Running> {
  const clock = overrides.clock ?? systemClock;
  const logger = overrides.logger ?? createLogger(settings.logLevel);
  const events = overrides.events ?? eventSinkFor(settings.events);
  const holder = new SnapshotHolder();
  const metrics = new Metrics(holder);

  const reloader = new Reloader(holder, () => clock.nowMs(), (r) => {
    metrics.reload(r.accepted ? 'success' : 'invalid');
    if (r.accepted) {
      metrics.lastReloadSuccess.set(clock.nowMs() / 1000);
      const s = holder.current!;
      logger.info({ version: r.version, zones: s.zones.length, entries: s.entryCount, policy: s.policy.name, compileMs: Math.round(r.compileMs) }, 'config loaded');
    } else {
      for (const c of r.issues) metrics.error(c.message.startsWith('YAML') ? 'CONFIG_PARSE' : 'CONFIG_SCHEMA');
      logger.error({ issues: formatIssues(r.issues), keeping: r.version ?? null }, 'config rejected; keeping the last good snapshot');
    }
  });

  // Detection: one engine and one Org Under Attack detector per process (the one policy in force).
  const max = settings.maxTrackedIps;
  const engine = new DetectionEngine({
    clock,
    thresholds: { ...DEFAULT_THRESHOLDS, maxTrackedIps: max },
    aggressive: { ...DEFAULT_AGGRESSIVE_THRESHOLDS, maxTrackedIps: max },
  });
  const org = new OrgAttackDetector({ clock });
  if (!settings.usernameKey) logger.warn('no --username-key: usernames are hashed with a random per-process key (not stable across restarts or replicas)');
  const threatMetrics = new ThreatMetrics(metrics.registry, () => ({
    trackedIps: engine.trackedCount,
    activeBlocks: engine.activeBlockCount,
    memoryBytes: engine.memoryBytes,
    evictions: engine.evictions,
    underAttack: org.state.underAttack,
    pendingOutcomes: threats.pendingOutcomes,
  }));
  const threats: ThreatService = new ThreatService({
    engine,
    org,
    clock,
    usernameKey: settings.usernameKey ? createHash('sha256').update(settings.usernameKey).digest() : randomBytes(32),
    snapshot: () => holder.current,
    maxChainHops: settings.maxHops,
    observer: {
      outcome: (r) => threatMetrics.outcome(r),
      blockStarted: (key, clientText, v, policy) => {
        threatMetrics.blockStarted(v.blockLevel);
        events.emit(blockStartedEvent(randomUUID(), clock.nowMs(), { clientText, level: v.blockLevel, detections: v.detections, untilMs: v.blockedUntilMs, policy: policy.name }));
        logger.info({ key: formatIpKey(key), level: v.blockLevel, until: new Date(v.blockedUntilMs).toISOString() }, 'block started');
      },
      attack: (t, policy) => {
        threatMetrics.attackTransition(t.type);
        events.emit(attackEvent(randomUUID(), clock.nowMs(), { type: t.type, score: t.score, signals: { ...t.signals }, policy: policy.name }));
        logger.warn({ type: t.type, score: t.score, signals: t.signals }, t.type === 'start' ? 'org under attack' : 'attack over');
      },
    },
  });
  holder.onSwap((s) => threats.applyPolicy(s.policy));
  // One shared timer for every per-IP expiry and for closing attack buckets: no timer per IP.
  const ticker = setInterval(() => threats.tick(), 1000);
  ticker.unref();

  const decideOptions: DecideOptions = {
    clientIp: { mode: settings.clientIpMode, maxHops: settings.maxHops },
    failureMode: settings.failureMode,
    newId: randomUUID,
    threats,
  };
  const gate = new Gate({
    holder, options: decideOptions, metrics, events, logger, clock,
    onDecision: (d, facts) => {
      if (d.threat) for (const r in d.threat.detections) threatMetrics.detection(r as ThreatReason, d.threat.detections[r]!);
      threats.onDecision(d, facts);
    },
  });

  let inFlight = 0;
  const protos = loadEnvoyProtos();
  let grpc: GrpcServerHandle | undefined;
  let ops: OpsServerHandle | undefined;
  const source = overrides.source ?? new FileSource(settings.configPaths);
  try {
    grpc = await startGrpcServer(
      { address: `${settings.grpc.host.includes(':') ? `[${settings.grpc.host}]` : settings.grpc.host}:${settings.grpc.port}`, unixSocket: settings.grpc.unixSocket },
      [
        { definition: serviceDefinition(protos, 'envoy.service.auth.v3.Authorization'), implementation: authorizationService(gate, (d) => { inFlight += d; }) },
        {
          definition: serviceDefinition(protos, 'envoy.service.accesslog.v3.AccessLogService'),
          // The result header is per policy; read it per entry so a reload applies at once.
          implementation: accessLogService(threats, { resultHeader: () => holder.current?.policy.outcomes.resultHeader ?? 'x-portcullis-signin-result' }, (ok) => threatMetrics.accessLogEntry(ok)),
        },
      ],
    );
    const health = grpc.health;
    holder.onSwap(() => {
      for (const s of HEALTH_SERVICES) health.setStatus(s, 'SERVING');
    });
    const routes = new Map<string, RouteHandler>([['/admin/ip', adminIpEndpoint(engine, org, threats)]]);
    if (settings.outcomeToken) routes.set('/v1/outcomes', outcomeEndpoint(threats, settings.outcomeToken));
    ops = await startOpsServer(settings.http, metrics.registry, [
      { name: 'config', check: () => (holder.current ? { ok: true, detail: `version ${holder.current.version}` } : { ok: false, detail: 'no valid config loaded yet' }) },
    ], routes);
    await source.start((batch) => reloader.apply(batch));
  } catch (err) {
    source.stop();
    clearInterval(ticker);
    await grpc?.shutdown(0);
    await ops?.close();
    throw err;
  }
  logger.info({ grpcPort: grpc.port, unixSocket: settings.grpc.unixSocket, httpPort: ops.port }, 'portcullis listening');

  const grpcHandle = grpc;
  const opsHandle = ops;
  return {
    grpcPort: grpcHandle.port,
    httpPort: opsHandle.port,
    holder,
    metrics,
    reloader,
    threats,
    engine,
    org,
    async stop() {
      source.stop();
      clearInterval(ticker);
      for (const s of HEALTH_SERVICES) grpcHandle.health.setStatus(s, 'NOT_SERVING');
      logger.info({ inFlight }, 'draining');
      await grpcHandle.shutdown(settings.drainSeconds * 1000);
      await opsHandle.close();
    },
  };
}
