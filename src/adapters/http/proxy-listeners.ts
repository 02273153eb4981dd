import type { SnapshotHolder } from '../../config/snapshot-holder.ts';
import type { OutcomeIngest } from '../../service/ingest.ts';
import type { OutcomeQueue } from '../../service/outcome-queue.ts';
import type { ClientHeader } from './original-request.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { Registry } from 'prom-client';
import type { Gate } from '../../service/check.ts';
import type { SyslogHandle } from '../syslog/syslog-server.ts';
import type { HttpLimits } from './limits.ts';
import type { DecisionServerHandle } from './decision-server.ts';

/** The --authz-* and --syslog-* settings slice (read by src/settings.ts). */
export interface ProxyListenerSettings {
  readonly authz: { readonly host: string; readonly port: number } | undefined;
  readonly authzClientHeader: ClientHeader;
  readonly authzDenialPage: string | undefined;
  readonly syslogUdp: { readonly host: string; readonly port: number } | undefined;
  readonly syslogTcp: { readonly host: string; readonly port: number } | undefined;
  readonly syslogMaxLineBytes: number;
  readonly syslogMaxConnections: number;
  readonly syslogLinesPerSecond: number;
  readonly drainSeconds: number;
  /** Connection caps and timeouts of the HTTP listeners (authzMaxConnections for the decision endpoint). */
  readonly httpLimits?: HttpLimits;
}

export interface ProxyListeners {
  readonly authzPort: number | undefined;
  readonly syslogUdpPort: number | undefined;
  readonly syslogTcpPort: number | undefined;
  close(): Promise<void>;
}

/**
 * The listeners for proxies other than an Envoy sidecar, each only when its address is set: the HTTP decision
 * endpoint (same Gate as gRPC) and the syslog outcome listener (same ingest as Envoy's access-log service).
 */
export async function startProxyListeners(
  settings: ProxyListenerSettings,
  deps: { gate: Gate; ingest: OutcomeIngest; queue: OutcomeQueue; holder: SnapshotHolder; registry: Registry; logger: Logger; nowMs: () => number; onAuthzRejected?: () => void },
): Promise<ProxyListeners> {
  let authz: DecisionServerHandle | undefined;
  let syslog: SyslogHandle | undefined;
  try {
    // Each listener's modules are imported only when its address is set: a sidecar behind Envoy runs neither,
    // and their code (with node:dgram) would be kept for the life of the process (docs/benchmarks.md, Idle RSS).
    if (settings.authz) {
      const { startDecisionServer } = await import('./decision-server.ts');
      authz = await startDecisionServer(deps.gate, {
        address: settings.authz,
        clientHeader: settings.authzClientHeader,
        denialPage: settings.authzDenialPage,
        logger: deps.logger,
        drainSeconds: settings.drainSeconds,
        limits: settings.httpLimits,
        onRejected: deps.onAuthzRejected,
      });
    }
    if (settings.syslogUdp || settings.syslogTcp) {
      const [{ startSyslogListener, trustedProxySource }, { SyslogMetrics }] = await Promise.all([import('../syslog/syslog-server.ts'), import('../../telemetry/syslog-metrics.ts')]);
      syslog = await startSyslogListener(
        {
          udp: settings.syslogUdp,
          tcp: settings.syslogTcp,
          maxLineBytes: settings.syslogMaxLineBytes,
          maxConnections: settings.syslogMaxConnections,
          linesPerSecond: settings.syslogLinesPerSecond,
        },
        { ingest: deps.ingest, queue: deps.queue, isTrustedSource: trustedProxySource(deps.holder), metrics: new SyslogMetrics(deps.registry), logger: deps.logger, nowMs: deps.nowMs },
      );
    }
  } catch (err) {
    await authz?.close();
    throw err;
  }
  return {
    authzPort: authz?.port,
    syslogUdpPort: syslog?.udpPort,
    syslogTcpPort: syslog?.tcpPort,
    close: async () => {
      await Promise.all([authz?.close(), syslog?.close()]);
    },
  };
}
