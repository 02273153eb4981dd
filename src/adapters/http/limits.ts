import type { Server } from 'node:http';

/** Bounds of the HTTP listeners (docs/security.md, "Limits"). */
export interface HttpLimits {
  /** Connections open at once on the ops listener, and on the admin listener. */
  readonly maxConnections: number;
  /** Connections open at once on the decision endpoint (proxies keep pools of them). */
  readonly authzMaxConnections: number;
  /** A request's headers must be complete this long after its first byte; else 408 and close (slowloris). */
  readonly headersTimeoutMs: number;
  /** A whole request must arrive within this time. */
  readonly requestTimeoutMs: number;
  /** A keep-alive connection idle this long is closed. */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  maxConnections: 64, authzMaxConnections: 1024, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, idleTimeoutMs: 65_000,
});

/** How often Node sweeps for requests past their header/request deadline (its default, 30 s, is too coarse). */
export function checkingIntervalMs(limits: HttpLimits): number {
  return Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)));
}

/**
 * Applies the timeouts to a node:http server. Node closes a connection over maxConnections at accept and
 * emits 'drop' for it, which is what onRejected counts.
 */
export function applyHttpLimits(server: Server, limits: HttpLimits, maxConnections: number | undefined, onRejected?: () => void): void {
  server.headersTimeout = limits.headersTimeoutMs;
  // Node requires requestTimeout ≥ headersTimeout when both are set.
  server.requestTimeout = Math.max(limits.requestTimeoutMs, limits.headersTimeoutMs);
  server.keepAliveTimeout = limits.idleTimeoutMs;
  if (maxConnections !== undefined) {
    server.maxConnections = maxConnections;
    server.on('drop', () => onRejected?.());
  }
}
