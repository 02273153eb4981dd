import { randomUUID } from 'node:crypto';
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

  const decideOptions: DecideOptions = {
    clientIp: { mode: settings.clientIpMode, maxHops: settings.maxHops },
    failureMode: settings.failureMode,
    newId: randomUUID,
  };
  const gate = new Gate({ holder, options: decideOptions, metrics, events, logger, clock });

  let inFlight = 0;
  const protos = loadEnvoyProtos();
  let grpc: GrpcServerHandle | undefined;
  let ops: OpsServerHandle | undefined;
  const source = overrides.source ?? new FileSource(settings.configPaths);
  try {
    grpc = await startGrpcServer(
      { address: `${settings.grpc.host.includes(':') ? `[${settings.grpc.host}]` : settings.grpc.host}:${settings.grpc.port}`, unixSocket: settings.grpc.unixSocket },
      [{ definition: serviceDefinition(protos, 'envoy.service.auth.v3.Authorization'), implementation: authorizationService(gate, (d) => { inFlight += d; }) }],
    );
    const health = grpc.health;
    holder.onSwap(() => {
      for (const s of HEALTH_SERVICES) health.setStatus(s, 'SERVING');
    });
    ops = await startOpsServer(settings.http, metrics.registry, [
      { name: 'config', check: () => (holder.current ? { ok: true, detail: `version ${holder.current.version}` } : { ok: false, detail: 'no valid config loaded yet' }) },
    ]);
    await source.start((batch) => reloader.apply(batch));
  } catch (err) {
    source.stop();
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
    async stop() {
      source.stop();
      for (const s of HEALTH_SERVICES) grpcHandle.health.setStatus(s, 'NOT_SERVING');
      logger.info({ inFlight }, 'draining');
      await grpcHandle.shutdown(settings.drainSeconds * 1000);
      await opsHandle.close();
    },
  };
}
