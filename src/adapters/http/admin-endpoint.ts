import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DetectionEngine } from '../../detect/engine.ts';
import { formatIpKey } from '../../detect/ip-key.ts';
import type { OrgAttackDetector } from '../../detect/org-attack.ts';
import { parseAddress } from '../../net/address.ts';
import type { DetectorStore } from '../../store/store.ts';
import type { RouteHandler } from './ops-server.ts';
import type { Snapshot } from '../../decide/snapshot.ts';
import { detectionSpecOf } from '../../config/detection.ts';

/**
 * GET /admin/ip?ip=<address> — what the detectors know about one client: counters, levels, reasons, active
 * block, and the org's attack state; and the policy in force with its detection settings, so `explain --server`
 * can say when the server runs other settings than the config it was given. Read-only; admin listener only.
 */
export function adminIpEndpoint(engine: DetectionEngine, org: OrgAttackDetector, current: () => Snapshot | undefined): RouteHandler {
  return (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    if (req.method !== 'GET') return send(405, { error: 'method_not_allowed' });
    const text = url.searchParams.get('ip') ?? '';
    const ip = parseAddress(text);
    if (!ip) return send(400, { error: 'invalid_ip', detail: 'give ?ip=<IPv4 or IPv6 address>' });
    const key = engine.keyOfAddress(ip);
    const inspection = engine.inspect(key);
    const snapshot = current();
    send(200, {
      ip: ip.text,
      key: formatIpKey(key),
      tracked: inspection !== undefined,
      detectors: inspection ?? null,
      org: org.state,
      policy: snapshot ? { name: snapshot.policy.name, configVersion: snapshot.version, detection: detectionSpecOf(snapshot.policy.detection) } : null,
    });
  };
}

/** Wraps the admin endpoint so it shows the shared state of the client asked about, not only the local copy. */
export function withStoreRefresh(handler: RouteHandler, store: DetectorStore): RouteHandler {
  if (store.mode === 'memory') return handler;
  return async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const ip = parseAddress(url.searchParams.get('ip') ?? '');
    if (ip) await store.refresh(store.engine.keyOfAddress(ip));
    return handler(req, res, url);
  };
}

