import { createHash, timingSafeEqual } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';

/**
 * The bearer credential of the gRPC listener (Check and StreamAccessLogs; health stays open). Envoy sends it
 * as `authorization: Bearer <token>` through grpc_service.initial_metadata. Transport-neutral on purpose: the
 * grpc-js services and any other gRPC transport call checkBearer with the raw header value.
 */
export interface BearerCredential {
  /** false: no token configured, every call passes (a loopback-only listener). */
  readonly required: boolean;
  /** true when the header is exactly "Bearer <the token>", or when no token is configured. */
  checkBearer(headerValue: string | undefined): boolean;
}

// Far above any token we accept; a longer header is refused before hashing it.
const MAX_HEADER_BYTES = 4096;
const PREFIX = 'Bearer ';

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** token '' → open. Digests are compared, so neither the content nor the length of the token leaks by timing. */
export function bearerCredential(token: string): BearerCredential {
  if (token === '') return { required: false, checkBearer: () => true };
  const want = sha256(token);
  return {
    required: true,
    checkBearer(headerValue) {
      if (typeof headerValue !== 'string' || headerValue.length > MAX_HEADER_BYTES || !headerValue.startsWith(PREFIX)) return false;
      return timingSafeEqual(sha256(headerValue.slice(PREFIX.length)), want);
    },
  };
}

/** The first `authorization` value of a grpc-js call (a binary or repeated header is not a bearer token). */
export function authorizationOf(metadata: Metadata | undefined): string | undefined {
  const v = metadata?.get('authorization')[0];
  return typeof v === 'string' ? v : undefined;
}

/** What an unauthenticated caller gets: a gRPC error, never a CheckResponse (docs/security.md). */
export const UNAUTHENTICATED_DETAILS = 'missing or wrong bearer token (authorization metadata)';

/** The same credential, calling onRefused for every refused call (a metric), so services need no counter. */
export function countingRefusals(credential: BearerCredential, onRefused: () => void): BearerCredential {
  if (!credential.required) return credential;
  return {
    required: true,
    checkBearer(headerValue) {
      const ok = credential.checkBearer(headerValue);
      if (!ok) onRefused();
      return ok;
    },
  };
}

export const OPEN_CREDENTIAL: BearerCredential = bearerCredential('');
