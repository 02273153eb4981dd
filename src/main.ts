import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { FileSource, type ConfigSource } from './config/file-source.ts';
import type { KubernetesSource } from './config/kubernetes/source.ts';
import { kubernetesSource } from './config/kubernetes/wiring.ts';
import { formatIssues, Reloader } from './config/reloader.ts';
import { SnapshotHolder } from './config/snapshot-holder.ts';
import { authorizationService, rawAuthorizationDefinition } from './adapters/grpc/authorization-service.ts';
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
import { createStore, storeReadiness, withStoreRefresh } from './store/create.ts';
import type { DetectorStore } from './store/store.ts';
import { formatIpKey } from './detect/ip-key.ts';
import { accessLogService } from './adapters/grpc/access-log-service.ts';
import { outcomeEndpoint } from './adapters/http/outcome-endpoint.ts';
import { adminIpEndpoint } from './adapters/http/admin-endpoint.ts';
import { startProxyListeners, type ProxyListeners } from './adapters/http/proxy-listeners.ts';
import type { OutcomeIngest } from './outcomes/ingest.ts';
import type { RouteHandler } from './adapters/http/ops-server.ts';
import type { ThreatReason } from './detect/levels.ts';
import { attackEvent, blockStartedEvent } from './telemetry/events.ts';
import { ThreatMetrics } from './telemetry/threat-metrics.ts';
import type { Settings } from './settings.ts';
import { StreamEventSink, type EventSink } from './telemetry/events.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { Metrics } from './telemetry/metrics.ts';
import { FeedManager } from './feeds/manager.ts';
import { GeoDatabases } from './feeds/geo.ts';
import { FeedMetrics, feedObserver } from './telemetry/feed-telemetry.ts';

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
  /** Where detector state lives (engine and org are its local view). */
  readonly store: DetectorStore;
  /** The Kubernetes source when --config-source=kubernetes (status, Events, leader election). */
  readonly kubernetes?: KubernetesSource;
  /** HTTP decision endpoint and syslog outcome listeners (undefined when off). */
  readonly proxies: ProxyListeners;
  /** Threat feeds and dynamic zones: feedStatus() / zoneStatus() for the Kubernetes status writer. */
  readonly feeds: FeedManager;
  /** MaxMind databases, when any --geoip-* flag is set. */
  readonly geo?: GeoDatabases;
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
      for (const c of r.issues) metrics.error(c.code ?? 'CONFIG_SCHEMA');
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
  // Memory (this process) or Redis shared by every replica; never fails to start (an unreachable Redis is degraded).
  const store = await createStore(settings.store, { engine, org, clock, logger, events, registry: metrics.registry });
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
    store,
    clock,
    usernameKey: settings.usernameKey ? createHash('sha256').update(settings.usernameKey).digest() : randomBytes(32),
    snapshot: () => holder.current,
    maxChainHops: settings.maxHops,
    feeds: () => feeds,
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
        void kube?.orgUnderAttack(policy.name, t.type, t.type === 'start' ? `Org Under Attack: sign-in failures anomalous (score ${t.score.toFixed(1)})` : 'Org Under Attack ended');
      },
    },
  });
  holder.onSwap((s) => threats.applyPolicy(s.policy));
  // One shared timer for every per-IP expiry and for closing attack buckets: no timer per IP.
  const ticker = setInterval(() => threats.tick(), 1000);
  ticker.unref();

  // Threat feeds and dynamic zones: read off the request path; decide() reads one immutable index per Check.
  const g = settings.geoip;
  let feeds: FeedManager | undefined;
  const geo = g.asn || g.country || g.anonymous
    ? await GeoDatabases.open({
      asn: g.asn || undefined, country: g.country || undefined, anonymous: g.anonymous || undefined,
      onStatus: (st) => {
        if (st.ok) logger.info({ db: st.db, path: st.path, databaseType: st.databaseType, buildEpoch: st.buildEpoch }, 'geoip database loaded');
        else logger.warn({ db: st.db, path: st.path, error: st.error, serving: st.serving }, 'geoip database not loaded');
        feeds?.checkZones();
      },
    })
    : undefined;
  const feedMetrics = new FeedMetrics(metrics.registry, () => ({ feedStatus: () => feeds!.feedStatus(), zoneStatus: () => feeds!.zoneStatus(), geoStatus: () => geo?.status() ?? [] }));
  const feedManager = new FeedManager({ clock, geo, observer: feedObserver({ metrics: feedMetrics, logger, events, clock, newId: randomUUID }) });
  feeds = feedManager;
  holder.onSwap((s) => feedManager.apply(s));

  const decideOptions: DecideOptions = {
    clientIp: { mode: settings.clientIpMode, maxHops: settings.maxHops },
    failureMode: settings.failureMode,
    newId: randomUUID,
    threats,
    feeds: feedManager,
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
  let proxies: ProxyListeners | undefined;
  // Kubernetes objects, plus any --config files alongside them (files stay all-or-nothing).
  const kube = overrides.source || settings.configSource !== 'kubernetes' ? undefined
    : kubernetesSource(settings.kubernetes, {
      logger, registry: metrics.registry, feeds: feedManager, // the leader writes feed reads and missing databases into status
      ...(settings.configPaths.length > 0 ? { files: new FileSource(settings.configPaths) } : {}),
    });
  const source = overrides.source ?? kube ?? new FileSource(settings.configPaths);
  try {
    grpc = await startGrpcServer(
      { address: `${settings.grpc.host.includes(':') ? `[${settings.grpc.host}]` : settings.grpc.host}:${settings.grpc.port}`, unixSocket: settings.grpc.unixSocket },
      [
        { definition: rawAuthorizationDefinition(serviceDefinition(protos, 'envoy.service.auth.v3.Authorization')), implementation: authorizationService(gate, (d) => { inFlight += d; }) },
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
    const routes = new Map<string, RouteHandler>([['/admin/ip', withStoreRefresh(adminIpEndpoint(engine, org, threats), store, (a) => threats.keyOf(a))]]);
    if (settings.outcomeToken) routes.set('/v1/outcomes', outcomeEndpoint(threats, settings.outcomeToken));
    ops = await startOpsServer(settings.http, metrics.registry, [
      { name: 'config', check: () => (holder.current ? { ok: true, detail: `version ${holder.current.version}` } : { ok: false, detail: 'no valid config loaded yet' }) },
      storeReadiness(store),
      { name: 'feeds', check: () => (feedManager.initialLoadDone ? { ok: true, detail: 'first read of every feed done' } : { ok: false, detail: 'waiting for the first read of the feeds' }) },
    ], routes);
    const outcomeIngest: OutcomeIngest = threats; // WIRING: use main's shared `outcomes` ingest here once it exists
    proxies = await startProxyListeners(settings, { gate, ingest: outcomeIngest, holder, metrics, logger, nowMs: () => clock.nowMs() });
    await source.start((batch) => reloader.apply(batch));
  } catch (err) {
    source.stop();
    clearInterval(ticker);
    feedManager.stop();
    geo?.close();
    await grpc?.shutdown(0);
    await ops?.close();
    await proxies?.close();
    await store.close();
    throw err;
  }
  logger.info({ grpcPort: grpc.port, unixSocket: settings.grpc.unixSocket, httpPort: ops.port }, 'portcullis listening');

  const grpcHandle = grpc;
  const opsHandle = ops;
  const proxiesHandle = proxies;
  return {
    grpcPort: grpcHandle.port,
    httpPort: opsHandle.port,
    holder,
    metrics,
    reloader,
    threats,
    engine,
    org,
    store,
    proxies: proxiesHandle,
    feeds: feedManager,
    ...(geo ? { geo } : {}),
    ...(kube ? { kubernetes: kube } : {}),
    async stop() {
      // Releasing the Lease lets another replica take over status at once rather than after it expires.
      if (kube) await kube.stopAndRelease();
      else source.stop();
      clearInterval(ticker);
      feedManager.stop();
      geo?.close();
      for (const s of HEALTH_SERVICES) grpcHandle.health.setStatus(s, 'NOT_SERVING');
      logger.info({ inFlight }, 'draining');
      await grpcHandle.shutdown(settings.drainSeconds * 1000);
      await opsHandle.close();
      await proxiesHandle.close();
      // After the drain: the last outcomes reach the shared store before the connection closes.
      await store.close();
    },
  };
}
