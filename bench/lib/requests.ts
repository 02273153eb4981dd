// CheckRequests as Envoy's ext_authz filter sends them, serialized once so the load generators only move bytes.
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadEnvoyProtos, serviceDefinition } from '../../src/adapters/grpc/protos.ts';
import type { CheckRequest } from '../../src/gen/envoy/service/auth/v3/CheckRequest.ts';
import { envoyCheckRequest } from '../../test/helpers/envoy-request.ts';
import { prng } from '../net-fixtures.ts';
import { addressInside, EDGE_PROXY, PEER, publicV4 } from './big-config.ts';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

let cached: ServiceDefinition | undefined;
/** The same service definition both servers and the generator use, so all decode alike. */
export function authorizationDefinition(): ServiceDefinition {
  cached ??= serviceDefinition(loadEnvoyProtos(), 'envoy.service.auth.v3.Authorization');
  return cached;
}

export interface RequestPool {
  /** Serialized CheckRequest messages (no gRPC frame). */
  readonly messages: readonly Buffer[];
  /** How many of them name a client taken from the blocklist. */
  readonly fromBlocklist: number;
}

const FORM = 'username=alice%40example.com&password=correct-horse-battery-staple';

function request(client: string, signIn: boolean, index: number): CheckRequest {
  return envoyCheckRequest({
    peer: PEER,
    ...(signIn
      ? { method: 'POST', path: '/login', body: FORM }
      : { method: 'GET', path: '/app/dashboard?tab=activity' }),
    headers: {
      // Client, then the edge load balancer; Envoy's peer (10.0.0.5) is appended by the walk.
      'x-forwarded-for': `${client}, ${EDGE_PROXY}`,
      // Envoy gives every request its own id; Portcullis keys outcome correlation on it.
      'x-request-id': `6f2a0d3e-5b2c-4a6b-9f1d-${index.toString(16).padStart(12, '0')}`,
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
      'accept-language': 'en-GB,en;q=0.9',
      cookie: 'session=eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOiJhYmMxMjMifQ.c2lnbmF0dXJl',
      ...(signIn ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(FORM.length) } : {}),
    },
  });
}

/**
 * `size` requests: every `blockEvery`-th client is inside a blocklisted CIDR, the rest are random public
 * addresses (a few of which the random blocklist also covers); three in four are sign-in POSTs.
 */
export function requestPool(blocklist: readonly string[], size = 256, blockEvery = 10, seed = 0xc0ffee): RequestPool {
  const rand = prng(seed);
  const def = authorizationDefinition()['Check']!;
  const messages: Buffer[] = [];
  let fromBlocklist = 0;
  for (let i = 0; i < size; i++) {
    const blocked = blocklist.length > 0 && i % blockEvery === 0;
    const n = publicV4(rand);
    const client = blocked ? addressInside(blocklist[rand() % blocklist.length]!, rand) : `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
    if (blocked) fromBlocklist++;
    messages.push(def.requestSerialize(request(client, i % 4 !== 3, i)));
  }
  return { messages, fromBlocklist };
}

/** One gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, then the bytes. */
export function grpcFrame(message: Buffer): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}
