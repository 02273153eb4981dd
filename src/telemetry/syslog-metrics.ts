import { Counter, Gauge, type Registry } from 'prom-client';

export const SYSLOG_TRANSPORTS = ['udp', 'tcp'] as const;
export type SyslogTransport = (typeof SYSLOG_TRANSPORTS)[number];
/** accepted: handed to the outcome ingest; the others are dropped (docs/metrics.md). */
export const SYSLOG_RESULTS = ['accepted', 'malformed', 'oversize', 'rate_limited', 'untrusted_source'] as const;
export type SyslogResult = (typeof SYSLOG_RESULTS)[number];
export const SYSLOG_REJECTIONS = ['limit', 'untrusted_source'] as const;
export type SyslogRejection = (typeof SYSLOG_REJECTIONS)[number];

/**
 * The syslog outcome listener's metrics, registered only when that listener runs (an Envoy-only sidecar
 * exports none of them). Children are bound once for every closed-set label pair.
 */
export class SyslogMetrics {
  readonly #lines = new Map<string, Counter.Internal>();
  readonly #rejected = new Map<SyslogRejection, Counter.Internal>();
  readonly connections: Gauge;

  constructor(registry: Registry) {
    const registers = [registry];
    const lines = new Counter({ name: 'portcullis_syslog_lines_total', help: 'Syslog access-log lines received, by transport and result; all but accepted are dropped.', labelNames: ['transport', 'result'], registers });
    for (const t of SYSLOG_TRANSPORTS) for (const r of SYSLOG_RESULTS) this.#lines.set(`${t}|${r}`, lines.labels(t, r));
    const rejected = new Counter({ name: 'portcullis_syslog_connections_rejected_total', help: 'Syslog TCP connections refused, by reason.', labelNames: ['reason'], registers });
    for (const r of SYSLOG_REJECTIONS) this.#rejected.set(r, rejected.labels(r));
    this.connections = new Gauge({ name: 'portcullis_syslog_tcp_connections', help: 'Syslog TCP connections open now.', registers });
  }

  line(transport: SyslogTransport, result: SyslogResult): void {
    this.#lines.get(`${transport}|${result}`)!.inc();
  }

  rejectedConnection(reason: SyslogRejection): void {
    this.#rejected.get(reason)!.inc();
  }
}
