import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { SnapshotHolder } from '../../config/snapshot-holder.ts';
import { parseAddress } from '../../net/address.ts';
import type { OutcomeIngest } from '../../service/ingest.ts';
import type { OutcomeJob, OutcomeQueue } from '../../service/outcome-queue.ts';
import type { Logger } from '../../telemetry/logger.ts';
import type { SyslogMetrics, SyslogResult, SyslogTransport } from '../../telemetry/syslog-metrics.ts';
import { accessLineToOutcome } from './access-line.ts';
import { SyslogFramer } from './framer.ts';
import { syslogPayload } from './message.ts';
import { TokenBucket } from './token-bucket.ts';
import { udpDropCounter } from './udp-drops.ts';

export interface SyslogOptions {
  readonly udp?: { readonly host: string; readonly port: number };
  readonly tcp?: { readonly host: string; readonly port: number };
  /** Longest message kept; also the most a TCP connection buffers. */
  readonly maxLineBytes: number;
  readonly maxConnections: number;
  /** Lines accepted per second over both transports (burst: one second's worth). */
  readonly linesPerSecond: number;
  readonly idleTimeoutMs?: number;
  /** SO_RCVBUF of the UDP socket (default 4 MiB; the kernel may cap it at net.core.rmem_max). */
  readonly udpReceiveBufferBytes?: number;
}

export interface SyslogDeps {
  readonly ingest: OutcomeIngest;
  /** Lines are learned from here in slices; TCP connections stop reading while it is congested. */
  readonly queue: OutcomeQueue;
  /** Only proxies may report outcomes: a forged "failure" line could get an innocent address blocked. */
  readonly isTrustedSource: (address: string) => boolean;
  readonly metrics: SyslogMetrics;
  readonly logger: Logger;
  readonly nowMs: () => number;
}

export interface SyslogHandle {
  readonly udpPort: number | undefined;
  readonly tcpPort: number | undefined;
  close(): Promise<void>;
}

/** Sources allowed to send outcome lines: the trusted proxies of the current snapshot (none before the first load). */
export function trustedProxySource(holder: SnapshotHolder): (address: string) => boolean {
  return (address) => {
    const s = holder.current;
    const a = parseAddress(address);
    return s !== undefined && a !== undefined && s.isTrustedProxy(a);
  };
}

const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

type LineHandler = (transport: SyslogTransport, bytes: Buffer) => void;

/** One datagram: one message (RFC 5426), or LF-separated lines as some senders batch them. */
class DatagramLines implements OutcomeJob {
  readonly source = 'syslog_udp' as const;
  #at = 0;
  constructor(private readonly msg: Buffer, private readonly line: LineHandler) {}

  step(max: number): number {
    const msg = this.msg;
    let n = 0;
    while (n < max && this.#at < msg.length) {
      const start = this.#at;
      let end = msg.indexOf(10, start);
      if (end === -1) end = msg.length;
      this.#at = end + 1;
      let stop = end;
      if (stop > start && msg[stop - 1] === 13) stop--;
      if (stop > start) this.line('udp', msg.subarray(start, stop));
      n++;
    }
    return n;
  }

  remaining(): number {
    let n = 0;
    for (let at = this.#at; at < this.msg.length;) {
      let end = this.msg.indexOf(10, at);
      if (end === -1) end = this.msg.length;
      if (end > at && !(end === at + 1 && this.msg[at] === 13)) n++;
      at = end + 1;
    }
    return n;
  }
}

/** The frames of one TCP chunk. */
class ChunkLines implements OutcomeJob {
  readonly source = 'syslog_tcp' as const;
  #at = 0;
  constructor(private readonly frames: readonly Buffer[], private readonly line: LineHandler) {}

  step(max: number): number {
    const end = Math.min(this.frames.length, this.#at + max);
    const n = end - this.#at;
    while (this.#at < end) this.line('tcp', this.frames[this.#at++]!);
    return n;
  }

  remaining(): number {
    return this.frames.length - this.#at;
  }
}

/**
 * Outcome listener for proxies without Envoy's access-log service: syslog (RFC 5424 or 3164) over UDP and TCP
 * (octet counting or LF framing), each message one JSON access-log line (docs/proxies.md). Hostile input is
 * counted and dropped, never thrown: lines are capped in length, TCP connections in number and buffer, and
 * every line passes one token bucket before it is parsed.
 */
export async function startSyslogListener(options: SyslogOptions, deps: SyslogDeps): Promise<SyslogHandle> {
  const { metrics, logger } = deps;
  const bucket = new TokenBucket(options.linesPerSecond, deps.nowMs());
  let ingestFailed = false;

  const line = (transport: SyslogTransport, bytes: Buffer): void => {
    let result: SyslogResult;
    if (bytes.length > options.maxLineBytes) result = 'oversize';
    else if (!bucket.take(deps.nowMs())) result = 'rate_limited';
    else {
      const payload = syslogPayload(bytes.toString('utf8'));
      const report = payload === undefined ? undefined : accessLineToOutcome(payload);
      result = report ? 'accepted' : 'malformed';
      if (report) {
        try {
          deps.ingest.report(report);
        } catch (err) {
          if (!ingestFailed) logger.error({ err: { message: (err as Error)?.message } }, 'outcome ingest failed on a syslog line');
          ingestFailed = true;
        }
      }
    }
    metrics.line(transport, result);
  };

  let udp: UdpSocket | undefined;
  let tcp: Server | undefined;
  const sockets = new Set<Socket>();
  try {
    if (options.udp) {
      const u = createSocket({ type: options.udp.host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: options.udpReceiveBufferBytes ?? RECV_BUFFER_BYTES });
      udp = u;
      u.on('message', (msg, rinfo) => {
        if (!deps.isTrustedSource(rinfo.address)) return metrics.line('udp', 'untrusted_source');
        // UDP cannot be paused: past the backlog bound a datagram is refused and its lines counted as shed.
        deps.queue.offer(new DatagramLines(msg, line), msg.length);
      });
      await new Promise<void>((resolve, reject) => {
        u.once('error', reject);
        u.bind(options.udp!.port, options.udp!.host, () => {
          u.off('error', reject);
          u.on('error', (err) => logger.error({ err: { message: err.message } }, 'syslog UDP socket error'));
          resolve();
        });
      });
      // What the kernel drops when the buffer is full never reaches 'message': read its count at scrape time.
      metrics.readKernelDrops(udpDropCounter(u.address().port));
    }
    if (options.tcp) {
      const idle = options.idleTimeoutMs ?? 300_000;
      tcp = createServer((socket) => {
        if (sockets.size >= options.maxConnections) {
          metrics.rejectedConnection('limit');
          return void socket.destroy();
        }
        if (!deps.isTrustedSource(socket.remoteAddress ?? '')) {
          metrics.rejectedConnection('untrusted_source');
          return void socket.destroy();
        }
        sockets.add(socket);
        metrics.connections.inc();
        socket.once('close', () => {
          sockets.delete(socket);
          metrics.connections.dec();
        });
        socket.on('error', () => socket.destroy());
        socket.setTimeout(idle, () => socket.destroy());
        // The lines of one chunk are framed at once (cheap) and learned later, from the queue.
        let framed: Buffer[] = [];
        const framer = new SyslogFramer(options.maxLineBytes, (f) => framed.push(f), (p) => metrics.line('tcp', p));
        let paused = false;
        const resume = (): void => {
          paused = false;
          if (!socket.destroyed) socket.resume();
        };
        socket.on('data', (chunk: Buffer) => {
          const ok = framer.push(chunk);
          if (framed.length > 0) {
            deps.queue.offer(new ChunkLines(framed, line), chunk.length);
            framed = [];
          }
          if (!ok) return void socket.destroy();
          if (!paused && deps.queue.congested) {
            paused = true;
            socket.pause(); // TCP flow control holds the sender back
            deps.queue.whenUncongested(resume);
          }
        });
      });
      const server = tcp;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.tcp!.port, options.tcp!.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
  } catch (err) {
    udp?.close();
    tcp?.close();
    throw err;
  }

  return {
    udpPort: udp ? udp.address().port : undefined,
    tcpPort: tcp ? (tcp.address() as AddressInfo).port : undefined,
    close: async () => {
      if (udp) await new Promise<void>((resolve) => udp!.close(() => resolve()));
      if (tcp) {
        const closed = new Promise<void>((resolve) => tcp!.close(() => resolve()));
        for (const s of sockets) s.destroy();
        await closed;
      }
    },
  };
}
