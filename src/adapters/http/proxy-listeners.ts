import type { SnapshotHolder } from '../../config/snapshot-holder.ts';
import type { OutcomeIngest } from '../../service/ingest.ts';
import type { Settings } from '../../settings.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { Metrics } from '../../telemetry/metrics.ts';
import type { Gate } from '../../service/check.ts';
import { startSyslogListener, trustedProxySource, type SyslogHandle } from '../syslog/syslog-server.ts';
import { startDecisionServer, type DecisionServerHandle } from './decision-server.ts';

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
  settings: Settings,
  deps: { gate: Gate; ingest: OutcomeIngest; holder: SnapshotHolder; metrics: Metrics; logger: Logger; nowMs: () => number },
): Promise<ProxyListeners> {
  let authz: DecisionServerHandle | undefined;
  let syslog: SyslogHandle | undefined;
  try {
    if (settings.authz) {
      authz = await startDecisionServer(deps.gate, {
        address: settings.authz,
        clientHeader: settings.authzClientHeader,
        denialPage: settings.authzDenialPage,
        logger: deps.logger,
        drainSeconds: settings.drainSeconds,
      });
    }
    if (settings.syslogUdp || settings.syslogTcp) {
      syslog = await startSyslogListener(
        {
          udp: settings.syslogUdp,
          tcp: settings.syslogTcp,
          maxLineBytes: settings.syslogMaxLineBytes,
          maxConnections: settings.syslogMaxConnections,
          linesPerSecond: settings.syslogLinesPerSecond,
        },
        { ingest: deps.ingest, isTrustedSource: trustedProxySource(deps.holder), metrics: deps.metrics, logger: deps.logger, nowMs: deps.nowMs },
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
