// grpc.health.v1 for both gRPC transports: the status of each service, the Watch subscribers, and the two
// messages, read and written by hand: HealthCheckRequest { string service = 1 } and HealthCheckResponse
// { ServingStatus status = 1 }. Why by hand: grpc-health-check loads its .proto through @grpc/proto-loader and
// protobufjs when imported (~12 MB of RSS on Node 24, docs/benchmarks.md "Idle RSS") for two one-field
// messages; test/adapters/grpc/health.test.ts holds these bytes to proto-loader's.

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

const SERVING_STATUS: Readonly<Record<HealthStatus, number>> = Object.freeze({ UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 });

// One serialized HealthCheckResponse per status, made once. The field is written even for UNKNOWN (0), as
// proto-loader wrote it when grpc-health-check served health (a reader takes either form).
const RESPONSES: Readonly<Record<HealthStatus, Buffer>> = Object.freeze({
  UNKNOWN: Buffer.from([0x08, SERVING_STATUS.UNKNOWN]),
  SERVING: Buffer.from([0x08, SERVING_STATUS.SERVING]),
  NOT_SERVING: Buffer.from([0x08, SERVING_STATUS.NOT_SERVING]),
  SERVICE_UNKNOWN: Buffer.from([0x08, SERVING_STATUS.SERVICE_UNKNOWN]),
});

/** The serialized HealthCheckResponse for a status. Shared: callers must not write into it. */
export function healthCheckResponse(status: HealthStatus): Buffer {
  return RESPONSES[status];
}

/**
 * The service name of a serialized HealthCheckRequest ('' when absent), or undefined for bytes that are not
 * one. Unknown fields are skipped, as any protobuf reader does; a repeated field 1 keeps the last value. A
 * string running past the end is refused (protobufjs' Buffer reader cuts it short and reads the rest).
 */
export function healthCheckRequestService(request: Buffer): string | undefined {
  let p = 0;
  let service = '';
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (p >= request.length) throw new RangeError('truncated');
      const b = request[p++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
    throw new RangeError('bad varint');
  };
  try {
    while (p < request.length) {
      const tag = varint();
      const wire = tag & 7;
      if (wire === 0) varint();
      else if (wire === 1) p += 8;
      else if (wire === 5) p += 4;
      else if (wire === 2) {
        const len = varint();
        if (p + len > request.length) return undefined;
        if (tag >>> 3 === 1) service = request.toString('utf8', p, p + len);
        p += len;
      } else return undefined;
      if (p > request.length) return undefined;
    }
  } catch {
    return undefined;
  }
  return service;
}

/** One Watch call, as its transport delivers to it. */
export interface HealthWatcher {
  /** A status to send (the current one at subscription, then each change). */
  send(status: HealthStatus): void;
  /** The server is shutting down: end the call (UNAVAILABLE), so it does not hold the drain open. */
  end(): void;
}

/** Watch calls open at once, over every service name; more are refused (RESOURCE_EXHAUSTED). */
export const MAX_HEALTH_WATCHERS = 1024;

/**
 * The serving status of each service name the process reports, and the Watch calls on them. Watchers are
 * bounded in total, and an emptied subscriber set is removed, so clients naming arbitrary services cannot
 * grow the map.
 */
export class HealthState {
  readonly #statuses = new Map<string, HealthStatus>();
  readonly #watchers = new Map<string, Set<HealthWatcher>>();
  #watching = 0;

  /** Every service starts NOT_SERVING: Envoy's health check waits for a loaded config. */
  constructor(services: readonly string[]) {
    for (const s of services) this.#statuses.set(s, 'NOT_SERVING');
  }

  /** undefined for a service this process does not report (Check answers NOT_FOUND). */
  status(service: string): HealthStatus | undefined {
    return this.#statuses.get(service);
  }

  /** Watchers hear only real changes: a reload that keeps SERVING sends nothing. */
  setStatus(service: string, status: HealthStatus): void {
    if (this.#statuses.get(service) === status) return;
    this.#statuses.set(service, status);
    for (const w of this.#watchers.get(service) ?? []) w.send(status);
  }

  /**
   * Subscribes and sends the current status at once (SERVICE_UNKNOWN for a service not reported). Returns the
   * unsubscribe function, or undefined when MAX_HEALTH_WATCHERS are open (nothing was sent).
   */
  watch(service: string, watcher: HealthWatcher): (() => void) | undefined {
    if (this.#watching >= MAX_HEALTH_WATCHERS) return undefined;
    let set = this.#watchers.get(service);
    if (!set) this.#watchers.set(service, (set = new Set()));
    set.add(watcher);
    this.#watching++;
    watcher.send(this.#statuses.get(service) ?? 'SERVICE_UNKNOWN');
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#watching--;
      set.delete(watcher);
      if (set.size === 0 && this.#watchers.get(service) === set) this.#watchers.delete(service);
    };
  }

  /** Ends every Watch call (shutdown). */
  endWatches(): void {
    for (const set of [...this.#watchers.values()]) for (const w of [...set]) w.end();
  }

  /** Watch calls open now. */
  get watching(): number {
    return this.#watching;
  }
}
