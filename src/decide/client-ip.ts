import { forwardedToXff, resolveClientChain, type ChainOptions, type ChainResult } from '../net/chain.ts';
import { parseAddress } from '../net/address.ts';
import type { Snapshot } from './snapshot.ts';
import type { RequestFacts } from './decision.ts';

/**
 * Which header carries the forwarding chain.
 * - xff: X-Forwarded-For (default).
 * - forwarded: RFC 7239 Forwarded; X-Forwarded-For is ignored.
 * - envoy-external-address: trust x-envoy-external-address when the peer is a trusted proxy. Use only when Envoy
 *   does XFF handling itself (use_remote_address + xff_num_trusted_hops), which makes Envoy set that header.
 */
export const CLIENT_IP_MODES = ['xff', 'forwarded', 'envoy-external-address'] as const;
export type ClientIpMode = (typeof CLIENT_IP_MODES)[number];

export interface ClientIpOptions extends ChainOptions {
  readonly mode: ClientIpMode;
}

/** Resolves the real client with the snapshot's trusted proxies. facts.peer must be defined. */
export function resolveClient(facts: RequestFacts, snapshot: Snapshot, options: ClientIpOptions): ChainResult {
  const peer = facts.peer!;
  switch (options.mode) {
    case 'xff':
      return resolveClientChain(peer, facts.xForwardedFor, snapshot.isTrustedProxy, options);
    case 'forwarded':
      return resolveClientChain(peer, facts.forwarded === undefined ? undefined : forwardedToXff(facts.forwarded), snapshot.isTrustedProxy, options);
    case 'envoy-external-address': {
      const external = facts.envoyExternalAddress === undefined ? undefined : parseAddress(facts.envoyExternalAddress);
      // Only a trusted peer may vouch for the external address; otherwise it is just another client header.
      if (external && snapshot.isTrustedProxy(peer)) {
        return { client: external, chain: [external.text, peer.text], reason: 'first-untrusted' };
      }
      return resolveClientChain(peer, undefined, snapshot.isTrustedProxy, options);
    }
  }
}
