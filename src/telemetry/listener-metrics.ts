import { Counter, type Registry } from 'prom-client';

/** The listeners with a connection cap (label `listener`, docs/metrics.md). */
export const CAPPED_LISTENERS = ['grpc', 'http', 'admin', 'authz'] as const;
export type CappedListener = (typeof CAPPED_LISTENERS)[number];
/** The listeners that can require a bearer token. */
export const TOKEN_LISTENERS = ['grpc', 'admin'] as const;
export type TokenListener = (typeof TOKEN_LISTENERS)[number];

/** Connections refused over a cap and calls refused for a missing or wrong token; children bound once. */
export class ListenerMetrics {
  readonly #rejected = new Map<CappedListener, Counter.Internal>();
  readonly #unauthenticated = new Map<TokenListener, Counter.Internal>();

  constructor(registry: Registry) {
    const registers = [registry];
    const rejected = new Counter({ name: 'portcullis_connections_rejected_total', help: 'Connections closed at accept because the listener\'s connection cap was reached.', labelNames: ['listener'], registers });
    for (const l of CAPPED_LISTENERS) this.#rejected.set(l, rejected.labels(l));
    const unauth = new Counter({ name: 'portcullis_unauthenticated_requests_total', help: 'gRPC calls and admin requests refused for a missing or wrong bearer token.', labelNames: ['listener'], registers });
    for (const l of TOKEN_LISTENERS) this.#unauthenticated.set(l, unauth.labels(l));
  }

  /** A callback for one listener (bound once, so the accept path does no lookup). */
  rejected(listener: CappedListener): () => void {
    const c = this.#rejected.get(listener)!;
    return () => c.inc();
  }

  unauthenticated(listener: TokenListener): () => void {
    const c = this.#unauthenticated.get(listener)!;
    return () => c.inc();
  }
}
