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
  #kernelDrops: () => number = () => 0;

  constructor(registry: Registry) {
    const registers = [registry];
    const lines = new Counter({ name: 'portcullis_syslog_lines_total', help: 'Syslog access-log lines received, by transport and result; all but accepted are dropped.', labelNames: ['transport', 'result'], registers });
    for (const t of SYSLOG_TRANSPORTS) for (const r of SYSLOG_RESULTS) this.#lines.set(`${t}|${r}`, lines.labels(t, r));
    const rejected = new Counter({ name: 'portcullis_syslog_connections_rejected_total', help: 'Syslog TCP connections refused, by reason.', labelNames: ['reason'], registers });
    for (const r of SYSLOG_REJECTIONS) this.#rejected.set(r, rejected.labels(r));
    this.connections = new Gauge({ name: 'portcullis_syslog_tcp_connections', help: 'Syslog TCP connections open now.', registers });
    // The kernel's own count, read at scrape time: it only grows while the socket lives.
    const drops = () => this.#kernelDrops();
    let exported = 0;
    new Counter({
      name: 'portcullis_syslog_udp_kernel_drops_total', registers,
      help: 'Syslog UDP datagrams the kernel dropped before Portcullis read them (receive buffer full), from /proc/net/udp; 0 where that cannot be read.',
      collect() {
        const v = drops();
        this.inc(Math.max(0, v - exported)); // inc(0) exports the series from the start
        exported = Math.max(exported, v);
      },
    });
  }

  /** Where the UDP socket's kernel drop count is read from (adapters/syslog/udp-drops.ts). */
  readKernelDrops(read: () => number): void {
    this.#kernelDrops = read;
  }

  line(transport: SyslogTransport, result: SyslogResult): void {
    this.#lines.get(`${transport}|${result}`)!.inc();
  }

  rejectedConnection(reason: SyslogRejection): void {
    this.#rejected.get(reason)!.inc();
  }
}
