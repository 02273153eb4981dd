import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startPortcullis, type Running } from '../../src/main.ts';
import { readSettings } from '../../src/settings.ts';
import { MemoryEventSink } from '../../src/telemetry/events.ts';
import { FileSource } from '../../src/sources/files.ts';
import type { Clock } from '../../src/clock.ts';
import type { Logger } from '../../src/telemetry/logger.ts';

export interface TestInstance {
  readonly running: Running;
  readonly dir: string;
  readonly events: MemoryEventSink;
  readonly grpcTarget: string;
  readonly httpBase: string;
  /** Base URL of the /admin/* listener (its own port, loopback). */
  readonly adminBase: string;
  /** Base URL of the HTTP decision endpoint, when started with an authz-address flag. */
  readonly authzBase: string | undefined;
  write(name: string, yaml: string): void;
  stop(): Promise<void>;
}

/** Starts the real server on 127.0.0.1:0 with config files in a fresh temp folder. */
export async function startTestInstance(files: Record<string, string>, flags: Record<string, string> = {}, clock?: Clock, logger?: Logger): Promise<TestInstance> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const settings = readSettings({ 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '127.0.0.1:0', 'drain-seconds': '1', ...flags, config: [dir] }, {});
  const events = new MemoryEventSink();
  const running = await startPortcullis(settings, {
    events,
    clock,
    logger: logger ?? pino({ level: 'silent' }),
    source: new FileSource([dir], { pollMs: 100, debounceMs: 20 }),
  });
  return {
    running,
    dir,
    events,
    grpcTarget: `127.0.0.1:${running.grpcPort}`,
    httpBase: `http://127.0.0.1:${running.httpPort}`,
    adminBase: `http://127.0.0.1:${running.adminPort}`,
    authzBase: running.proxies.authzPort === undefined ? undefined : `http://127.0.0.1:${running.proxies.authzPort}`,
    write: (name, yaml) => writeFileSync(join(dir, name), yaml),
    async stop() {
      await running.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until fn returns true or the timeout passes. */
export async function eventually(fn: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const ZONES_YAML = `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: lb }
spec:
  usage: Policy
  proxies: [10.0.0.0/16, "2001:db8:ffff::/48"]
---
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: office }
spec:
  usage: Policy
  gateways: [203.0.113.0/24]
---
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: bad-actors }
spec:
  usage: Blocklist
  gateways: [192.0.2.0/24, "2001:db8:bad::/48", 203.0.113.66]
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatPolicy
metadata: { name: default }
spec:
  action: Audit
  exemptZones: [office]
`;

/** One sample from /metrics, e.g. `portcullis_checks_total{verdict="deny",reason="blocklist_feed"}`; NaN when absent. */
export async function scrapeMetric(httpBase: string, series: string): Promise<number> {
  const text = await (await fetch(`${httpBase}/metrics`)).text();
  const m = new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** The usual test policy: a load balancer on 10.0.0.0/16 as trusted proxy, and a ThreatPolicy on POST /login. */
export function lbPolicyYaml(action: 'None' | 'Audit' | 'Block'): string {
  return `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: lb }
spec: { usage: Policy, proxies: [10.0.0.0/16] }
---
apiVersion: portcullis.dev/v1alpha1
kind: ThreatPolicy
metadata: { name: default }
spec:
  action: ${action}
  signIn:
    routes: [{ path: { exact: /login }, methods: [POST] }]
`;
}
