import { randomUuid } from './uuid.ts';
import { systemClock, type Clock } from './clock.ts';
import type { ConfigSource } from './config/source.ts';
import { Reloader, startupConfigError } from './config/reloader.ts';
import { SnapshotHolder } from './config/snapshot-holder.ts';
import { DetectionEngine } from './detect/engine.ts';
import { detectionDefaults } from './config/detection.ts';
import { OrgAttackDetector } from './detect/org-attack.ts';
import { FeedManager } from './feeds/manager.ts';
import { GeoDatabases } from './feeds/geo.ts';
import { createStore } from './store/create.ts';
import { requireSharedUsernameKey } from './store/settings.ts';
import type { DetectorStore } from './store/store.ts';
import { FileSource } from './sources/files.ts';
import type { KubernetesSource } from './sources/kubernetes/source.ts';
import { AttemptCorrelator } from './service/correlator.ts';
import { Gate } from './service/check.ts';
import { detectorView } from './service/detector-view.ts';
import { accountSignals, type AccountSignals } from './service/account-signals.ts';
import { Learner } from './service/learn.ts';
import { usernameKeyFrom } from './service/username-key.ts';
import type { IpKey } from './detect/ip-key.ts';
import { accessLogEntryLearner, accessLogIntake, accessLogService } from './adapters/grpc/access-log-service.ts';
import { OutcomeQueue } from './service/outcome-queue.ts';
import { authorizationService, checkHandler } from './adapters/grpc/authorization-service.ts';
import { startH2GrpcServer } from './adapters/grpc/h2/server.ts';
import { ACCESS_LOG_DEFINITION, AUTHORIZATION_DEFINITION } from './adapters/grpc/raw-definitions.ts';
import { HEALTH_SERVICES, startGrpcServer, type GrpcServerHandle } from './adapters/grpc/server.ts';
import { adminIpEndpoint, withStoreRefresh } from './adapters/http/admin-endpoint.ts';
import { startAdminServer } from './adapters/http/admin-server.ts';
import { bearerCredential, countingRefusals } from './adapters/grpc/credential.ts';
import { ListenerMetrics } from './telemetry/listener-metrics.ts';
import { startOpsServer, type OpsServerHandle, type RouteHandler } from './adapters/http/ops-server.ts';
import { outcomeEndpoint } from './adapters/http/outcome-endpoint.ts';
import { startProxyListeners, type ProxyListeners } from './adapters/http/proxy-listeners.ts';
import { configReadiness, feedsReadiness, storeReadiness } from './adapters/http/readiness.ts';
import { openEventSink, type EventSink } from './telemetry/events.ts';
import { FeedMetrics, feedObserver } from './telemetry/feed-telemetry.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';
import { Metrics } from './telemetry/metrics.ts';
import { reloadObserver } from './telemetry/reload-report.ts';
import { registerStoreMetrics, storeHealthObserver } from './telemetry/store-metrics.ts';
import { ThreatMetrics, threatObserver } from './telemetry/threat-metrics.ts';
import type { Settings } from './settings.ts';
import type { ClusterRole } from './cluster/role.ts';

export interface Overrides {
  readonly clock?: Clock;
  readonly events?: EventSink;
  readonly logger?: Logger;
  readonly source?: ConfigSource;
  /** --workers N: this process is the cluster's primary or one of its workers (src/cluster/). */
  readonly cluster?: ClusterRole;
}

export interface Running {
  /** 0 on a cluster primary (its workers serve Checks). */
  readonly grpcPort: number;
  readonly httpPort: number;
  /** The /admin/* listener's port; undefined when --admin-address is empty. */
  readonly adminPort: number | undefined;
  readonly holder: SnapshotHolder;
  readonly metrics: Metrics;
  readonly reloader: Reloader;
  /** The outcome path (report(), tick()). */
  readonly learner: Learner;
  /** Familiar sources and spray passwords (per process). */
  readonly signals: AccountSignals;
  /** Sign-in Checks waiting for their outcome. */
  readonly correlator: AttemptCorrelator<IpKey>;
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
  /**
   * The drain before stop() (SIGTERM): gRPC health and /readyz turn NOT_SERVING at once while Checks are still
   * answered normally, for settings.drainSeconds, so Envoy moves away before the port closes.
   */
  drain(): Promise<void>;
  /** Closes every listener (in-flight calls get a short grace). Safe to call more than once. */
  stop(): Promise<void>;
}

/** Wiring only: settings → sources → compile → snapshot → services → adapters. Behaviour lives in the modules. */
export async function startPortcullis(settings: Settings, overrides: Overrides = {}): Promise<Running> {
  requireSharedUsernameKey(settings.store, settings.usernameKey);
  const clock = overrides.clock ?? systemClock;
  const logger = overrides.logger ?? createLogger(settings.logLevel);
  const events = overrides.events ?? openEventSink(settings.events);
  const holder = new SnapshotHolder();
  const metrics = new Metrics(holder);
  // Everything started is closed in reverse order, on a failed start and on stop().
  const closers: Array<() => unknown> = [];
  let closed: Promise<void> | undefined;
  const closeAll = () => (closed ??= (async () => {
    for (const close of closers.reverse()) await close();
  })());
  let draining = false;

  try {
    // Threat feeds and dynamic zones: read off the request path; decide() reads one immutable index per Check.
    const g = settings.geoip;
    const feedMetrics = new FeedMetrics(metrics.registry, () => ({ feedStatus: () => feeds.feedStatus(), zoneStatus: () => feeds.zoneStatus(), geoStatus: () => geo?.status() ?? [] }));
    const geo = g.asn || g.country || g.anonymous
      ? await GeoDatabases.open({
        asn: g.asn || undefined, country: g.country || undefined, anonymous: g.anonymous || undefined,
        onStatus: (st) => {
          if (st.ok) logger.info({ db: st.db, path: st.path, databaseType: st.databaseType, buildEpoch: st.buildEpoch }, 'geoip database loaded');
          else logger.warn({ db: st.db, path: st.path, error: st.error, serving: st.serving }, 'geoip database not loaded');
          feeds.checkZones();
        },
      })
      : undefined;
    if (geo) closers.push(() => geo.close());
    // GeoDatabases.open reports its first status only after it resolves, so `feeds` exists by then.
    const feeds: FeedManager = new FeedManager({ clock, geo, observer: feedObserver({ metrics: feedMetrics, logger, events, clock, newId: randomUuid }) });
    closers.push(() => feeds.stop());

    // --max-tracked-ips is the cap unless the policy's spec.detection sets one.
    const defaults = detectionDefaults(settings.maxTrackedIps);
    const reloader = new Reloader(holder, () => clock.nowMs(), reloadObserver({ metrics, logger, events, newId: randomUuid, nowMs: () => clock.nowMs(), current: () => holder.current }), (f) => feeds.apply(f), defaults);

    // Detection: one engine and one Org Under Attack detector per process (the one policy in force), built with
    // the defaults and given the policy's spec.detection with the first config (applyPolicy below).
    const role = overrides.cluster;
    const engineOptions = { clock, thresholds: defaults.thresholds, aggressive: defaults.aggressive };
    const engine = role?.createEngine?.(engineOptions) ?? new DetectionEngine(engineOptions);
    const org = new OrgAttackDetector({ clock, ...defaults.orgUnderAttack });
    const signals = role?.signals ?? accountSignals();
    const store = await createStore(settings.store, { engine, org, clock, onHealth: storeHealthObserver({ logger, events, clock }), ...(role?.outbox ? { worker: { outbox: role.outbox, signals } } : {}) });
    // After the drain (closed first-in, last-out): the last outcomes reach the shared store before it closes.
    closers.push(() => store.close());
    if (store.mode !== 'memory' && !store.health().degraded) logger.info({ store: store.health().detail }, 'store connected');
    registerStoreMetrics(metrics.registry, () => ({ health: store.health(), counters: store.counters() }));
    if (!settings.usernameKey) logger.warn('no --username-key: usernames are hashed with a random per-process key (not stable across restarts or replicas)');

    // Kubernetes objects, plus any --config files alongside them (files stay all-or-nothing).
    // The Kubernetes client is imported only for that source: it is ~75 MB of RSS a file-source sidecar never uses.
    const kube = overrides.source || settings.configSource !== 'kubernetes' ? undefined
      : (await import('./sources/kubernetes/wiring.ts')).kubernetesSource(settings.kubernetes, {
        logger, registry: metrics.registry, feeds, // the leader writes feed reads and missing databases into status
        ...(settings.configPaths.length > 0 ? { files: new FileSource(settings.configPaths) } : {}),
      });
    // Files are parsed and their zone index built on a worker thread: a 100k-CIDR reload never blocks a Check.
    const source = overrides.source ?? kube ?? new FileSource(settings.configPaths, { offThread: true });

    const correlator = role?.correlator ?? new AttemptCorrelator<IpKey>();
    // Streamed outcomes (ALS, syslog) are learned from one bounded queue in ~0.25 ms slices, so Checks never wait
    // behind a large batch. Closed after the listeners (closers run last-in first-out), before the store.
    const outcomes: OutcomeQueue = new OutcomeQueue((source, reason, n) => threatMetrics.shed(source, reason, n));
    closers.push(() => outcomes.close(Math.min(2000, settings.drainSeconds * 1000)));
    const threatMetrics = new ThreatMetrics(metrics.registry, () => ({
      trackedIps: engine.trackedCount,
      activeBlocks: engine.activeBlockCount,
      memoryBytes: engine.memoryBytes,
      evictions: engine.evictions,
      underAttack: org.state.underAttack,
      pendingOutcomes: correlator.size,
      pendingOutcomeBytes: correlator.bytes,
      correlatorDropped: correlator.dropped,
      outcomeBacklogBytes: outcomes.backlogBytes,
    }));
    // The per-ASN aggregate needs the ASN database; it is read as a fact (geo.ts), never inside detect/.
    const asnOf = geo && g.asn ? (ip: string): number | undefined => geo.lookup(ip).asn : undefined;
    const learner = new Learner({
      store, correlator, clock, feeds, signals, asnOf, maxChainHops: settings.maxHops, snapshot: () => holder.current,
      // Outcome transports carry X-Forwarded-For, not Forwarded: the client match would fail on every outcome.
      verifyClient: settings.clientIpMode !== 'forwarded',
      observer: threatObserver({ metrics: threatMetrics, events, logger, clock, newId: randomUuid, onAttack: (p, t, m) => void kube?.orgUnderAttack(p, t, m) }),
    });
    // Outcomes from every transport; in a cluster they reach the primary's learner (src/cluster/).
    const ingest = role ? role.ingest(learner) : learner;
    holder.onSwap((s, previous) => {
      // The first config also sets what shapes the tables; later ones leave that for the next start, and say so.
      const deferred = learner.applyPolicy(s.policy, previous === undefined);
      if (deferred.length > 0) logger.warn({ fields: deferred, policy: s.policy.name }, 'spec.detection: these fields apply at the next start (they size or lay out the detector tables); the rest of the change is in force');
    });
    // One shared timer for every per-IP expiry and for closing attack buckets: no timer per IP.
    const ticker = setInterval(() => learner.tick(), 1000);
    ticker.unref();
    closers.push(() => clearInterval(ticker));

    const gate = new Gate({
      holder, metrics, events, logger, clock,
      options: {
        clientIp: { mode: settings.clientIpMode, maxHops: settings.maxHops },
        failureMode: settings.failureMode,
        newId: randomUuid,
        detectors: detectorView(store, clock, signals, asnOf),
        feeds,
        usernameKey: usernameKeyFrom(settings.usernameKey || undefined),
      },
      attempts: { store, correlator, keyOf: (a) => engine.keyOfAddress(a), detection: (r, l) => threatMetrics.detection(r, l) },
    });

    let inFlight = 0;
    const listenerMetrics = new ListenerMetrics(metrics.registry);
    // Check and StreamAccessLogs need the token when one is set (settings.ts refuses a remote address without).
    const grpcCredential = countingRefusals(bearerCredential(settings.grpcToken), listenerMetrics.unauthenticated('grpc'));
    const grpcListen = { host: settings.grpc.host, port: settings.grpc.port, unixSocket: settings.grpc.unixSocket, keepSocketFile: role?.kind === 'worker', limits: settings.grpcLimits, onRejected: listenerMetrics.rejected('grpc') };
    // The result header is per policy; read it per entry so a reload applies at once.
    const alsOptions = { resultHeader: () => holder.current?.policy.outcomes.resultHeader ?? 'x-portcullis-signin-result' };
    const onInFlight = (d: 1 | -1) => { inFlight += d; };
    const alsIntake = accessLogIntake(outcomes, accessLogEntryLearner(ingest, alsOptions, (ok) => threatMetrics.accessLogEntry(ok)));
    // A cluster primary serves no Check (its workers do); a worker serves no ops, admin or syslog listener.
    const servesChecks = role?.kind !== 'primary';
    const servesOps = role?.kind !== 'worker';
    const grpc: GrpcServerHandle | undefined = !servesChecks ? undefined : settings.grpcTransport === 'http2'
      ? await startH2GrpcServer(grpcListen, { check: checkHandler(gate, onInFlight, true), accessLog: alsIntake, credential: grpcCredential }, HEALTH_SERVICES)
      : await startGrpcServer(grpcListen, [
        { definition: AUTHORIZATION_DEFINITION, implementation: authorizationService(gate, onInFlight, grpcCredential) },
        { definition: ACCESS_LOG_DEFINITION, implementation: accessLogService(alsIntake, grpcCredential) },
      ]);
    if (grpc) closers.push(async () => {
      for (const s of HEALTH_SERVICES) grpc.health.setStatus(s, 'NOT_SERVING');
      logger.info({ inFlight }, 'closing the gRPC listener');
      // The drain window is over (or skipped): in-flight calls get a short grace, then streams are cut.
      await grpc.shutdown(Math.min(2000, settings.drainSeconds * 1000));
    });
    holder.onSwap(() => {
      if (draining || !grpc) return; // a reload during the drain must not announce SERVING again
      for (const s of HEALTH_SERVICES) grpc.health.setStatus(s, 'SERVING');
    });

    const routes = new Map<string, RouteHandler>();
    if (settings.outcomeToken) routes.set('/v1/outcomes', outcomeEndpoint(outcomes, ingest, settings.outcomeToken));
    const drainReadiness = { name: 'shutdown', check: () => ({ ok: !draining, detail: draining ? 'draining' : 'not draining' }) };
    const readiness = [configReadiness(holder), storeReadiness(store), feedsReadiness(feeds), drainReadiness, ...(role?.readiness ?? [])];
    const ops: OpsServerHandle | undefined = servesOps ? await startOpsServer(settings.http, role?.registry?.(metrics.registry) ?? metrics.registry, readiness, routes, { limits: settings.httpLimits, onRejected: listenerMetrics.rejected('http') }) : undefined;
    if (ops) closers.push(() => ops.close());
    const admin = servesOps && settings.admin && await startAdminServer(settings.admin, new Map([['/admin/ip', withStoreRefresh(adminIpEndpoint(engine, org, () => holder.current), store)]]), {
      token: settings.adminToken, limits: settings.httpLimits, onRejected: listenerMetrics.rejected('admin'), onUnauthenticated: listenerMetrics.unauthenticated('admin'),
    });
    if (admin) closers.push(() => admin.close());
    const listen = servesChecks && servesOps ? settings : servesChecks ? { ...settings, syslogUdp: undefined, syslogTcp: undefined } : { ...settings, authz: undefined };
    const proxies = await startProxyListeners(listen, { gate, ingest, queue: outcomes, holder, registry: metrics.registry, logger, nowMs: () => clock.nowMs(), onAuthzRejected: listenerMetrics.rejected('authz') });
    closers.push(() => proxies.close());

    // Releasing the Lease lets another replica take over status at once rather than after it expires.
    closers.push(() => (kube ? kube.stopAndRelease() : source.stop()));
    await source.start((batch) => reloader.apply(batch));
    // Fail fast: without a first good config there is nothing safe to serve (only reloads keep the last good one).
    if (!holder.ready) throw startupConfigError(reloader.lastReport);
    logger.info({ grpcPort: grpc?.port, unixSocket: settings.grpc.unixSocket, httpPort: ops?.port, adminPort: admin ? admin.port : undefined, authzPort: proxies.authzPort, syslogUdpPort: proxies.syslogUdpPort, syslogTcpPort: proxies.syslogTcpPort, grpcToken: settings.grpcToken !== '' }, role ? `cluster ${role.kind} listening` : 'portcullis listening');

    return {
      grpcPort: grpc?.port ?? 0,
      httpPort: ops?.port ?? 0,
      adminPort: admin ? admin.port : undefined,
      drain: async () => {
        if (draining) return;
        draining = true;
        if (grpc) for (const s of HEALTH_SERVICES) grpc.health.setStatus(s, 'NOT_SERVING');
        logger.info({ drainSeconds: settings.drainSeconds, inFlight }, 'draining: health NOT_SERVING, checks still answered');
        await new Promise((r) => setTimeout(r, settings.drainSeconds * 1000));
      },
      holder, metrics, reloader, learner, signals, correlator, engine, org, store, proxies, feeds,
      ...(geo ? { geo } : {}),
      ...(kube ? { kubernetes: kube } : {}),
      stop: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
