import type { CheckRequest } from '../gen/envoy/service/auth/v3/CheckRequest.ts';

export interface EnvoyRequestInit {
  peer: string;
  peerPort?: number;
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * A CheckRequest shaped the way Envoy's ext_authz filter builds it (check_request_utils.cc): source.address is
 * the L4 peer, headers are lower-case with pseudo-headers, duplicates joined with ",", request.http.id is the
 * stream id (not x-request-id), and path includes the query string.
 * The request it stands for: `curl -X POST http://app.example.com/login` through a load balancer to Envoy.
 */
export function envoyCheckRequest(init: EnvoyRequestInit): CheckRequest {
  const method = init.method ?? 'POST';
  const path = init.path ?? '/login';
  const host = init.host ?? 'app.example.com';
  const headers: Record<string, string> = {
    ':authority': host,
    ':method': method,
    ':path': path,
    ':scheme': 'http',
    'user-agent': 'curl/8.5.0',
    accept: '*/*',
    'x-forwarded-proto': 'https',
    'x-request-id': '6f2a0d3e-5b2c-4a6b-9f1d-1c8e2b7a9d10',
    ...init.headers,
  };
  return {
    attributes: {
      source: { address: { socketAddress: { address: init.peer, portValue: init.peerPort ?? 51234 } } },
      destination: { address: { socketAddress: { address: '10.0.3.7', portValue: 8080 } } },
      request: {
        time: { seconds: 1_780_000_000, nanos: 0 },
        http: {
          id: '12345678901234567',
          method,
          path,
          host,
          scheme: 'http',
          protocol: 'HTTP/1.1',
          size: init.body ? init.body.length : 0,
          headers,
          ...(init.body !== undefined ? { body: init.body } : {}),
        },
      },
    },
  };
}
