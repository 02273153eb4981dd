// Reloads through the real file watcher and reloader of a running sidecar: hostile YAML and a deleted policy
// must never take the process down or silently change what is enforced.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startPortcullis, type Running } from '../../src/main.ts';
import { readSettings } from '../../src/settings.ts';
import { FileSource } from '../../src/sources/files.ts';
import { MemoryEventSink } from '../../src/telemetry/events.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { describeIssue } from '../../src/api/objects.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { eventually, lbPolicyYaml, scrapeMetric } from '../helpers/portcullis.ts';

const BLOCKLIST = `
apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: attackers }
spec: { usage: Blocklist, gateways: [192.0.2.0/24] }
`;

const ALIAS_BOMB = `apiVersion: portcullis.dev/v1alpha1
kind: IPZone
metadata: { name: bomb }
spec:
  usage: Blocklist
  a: &a [x, x, x, x, x, x, x, x, x, x]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
  gateways: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
`;

interface Harness {
  running: Running;
  dir: string;
  events: MemoryEventSink;
  logs: () => Array<Record<string, unknown>>;
  httpBase: string;
  client: AuthzClient;
}

let h: Harness | undefined;
afterEach(async () => {
  if (!h) return;
  h.client.close();
  await h.running.stop();
  rmSync(h.dir, { recursive: true, force: true });
  h = undefined;
});

async function start(files: Record<string, string>): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-reload-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  let text = '';
  const sink = new Writable({ write(chunk, _enc, cb) { text += chunk; cb(); } });
  const events = new MemoryEventSink();
  const running = await startPortcullis(
    readSettings({ 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '127.0.0.1:0', 'drain-seconds': '1', config: [dir] }, {}),
    { events, logger: createLogger('info', sink), source: new FileSource([dir], { pollMs: 100, debounceMs: 20 }) },
  );
  const logs = () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  h = { running, dir, events, logs, httpBase: `http://127.0.0.1:${running.httpPort}`, client: new AuthzClient(`127.0.0.1:${running.grpcPort}`) };
  return h;
}

const blocked = () => envoyCheckRequest({ peer: '10.0.1.5', headers: { 'x-forwarded-for': '192.0.2.44' } });

describe('YAML alias errors in a watched file', () => {
  it.each([
    ['an alias bomb', ALIAS_BOMB, /aliases expand to more than 100 nodes \(an alias bomb\?\); first alias at line 7, column/],
    ['an undefined alias', `${BLOCKLIST.replace('attackers', 'other')}---\nkind: IPZone\nmetadata: { name: *missing }\n`, /\(document 2\): YAML: alias \*missing refers to no anchor defined before it at line 8, column 19/],
  ])('%s is rejected as CONFIG_PARSE naming file and line; the last good snapshot keeps serving', async (_name, yaml, expected) => {
    const p = await start({ 'zones.yaml': BLOCKLIST, 'policy.yaml': lbPolicyYaml('Block') });
    const version = p.running.holder.current!.version;
    writeFileSync(join(p.dir, 'extra.yaml'), yaml);
    await eventually(() => p.running.reloader.lastReport?.accepted === false);

    const report = p.running.reloader.lastReport!;
    expect(report.issues.map((i) => i.code)).toEqual(['CONFIG_PARSE']);
    expect(describeIssue(report.issues[0]!)).toMatch(new RegExp(`^${join(p.dir, 'extra.yaml').replace(/[.]/g, '\\.')}`));
    expect(describeIssue(report.issues[0]!)).toMatch(expected);
    expect(p.running.holder.current!.version).toBe(version);
    expect((await p.client.check(blocked())).status?.code).toBe(7); // still served, still blocked
    expect(await scrapeMetric(p.httpBase, 'portcullis_errors_total{code="CONFIG_PARSE"}')).toBe(1);
    expect(p.logs().find((l) => l.msg === 'config rejected; keeping the last good snapshot')).toMatchObject({ keeping: version });

    // Fixed: accepted again.
    writeFileSync(join(p.dir, 'extra.yaml'), BLOCKLIST.replace('attackers', 'more').replace('192.0.2.0/24', '198.51.100.0/24'));
    await eventually(() => p.running.holder.current!.version > version);
  });
});

describe('removing the ThreatPolicy in force', () => {
  it('deleting the policy file is refused: the Block policy stays, with a log line, an event and a metric', async () => {
    const p = await start({ 'zones.yaml': BLOCKLIST, 'policy.yaml': lbPolicyYaml('Block') });
    const version = p.running.holder.current!.version;
    expect(p.running.holder.current!.policy).toMatchObject({ name: 'default', action: 'Block' });
    unlinkSync(join(p.dir, 'policy.yaml'));
    await eventually(() => p.running.reloader.lastReport?.accepted === false);

    expect(p.running.holder.current!.version).toBe(version);
    expect(p.running.holder.current!.policy).toMatchObject({ name: 'default', action: 'Block' });
    expect(p.running.reloader.lastReport).toMatchObject({ refusedPolicyRemoval: { policy: 'default', action: 'Block' }, issues: [{ code: 'CONFIG_POLICY_REMOVED', kind: 'ThreatPolicy', name: 'default' }] });
    expect(await scrapeMetric(p.httpBase, 'portcullis_errors_total{code="CONFIG_POLICY_REMOVED"}')).toBe(1);
    expect(await scrapeMetric(p.httpBase, 'portcullis_config_reloads_total{result="invalid"}')).toBe(1);
    const event = p.events.events.find((e) => e.eventType === 'system.config.policy_removal_refused');
    expect(event).toMatchObject({ severity: 'WARN', outcome: { result: 'DENY', reason: 'policy_removal_refused' }, debugContext: { debugData: { policy: 'default', action: 'Block', keepingVersion: String(version) } } });
    const line = p.logs().find((l) => l.code === 'CONFIG_POLICY_REMOVED');
    expect(line).toMatchObject({ level: 50, policy: 'default', action: 'Block', keeping: version });
    expect(String(line!.msg)).toContain('removes the ThreatPolicy in force');

    // An explicit policy in the new config is what lifts enforcement: accepted.
    writeFileSync(join(p.dir, 'policy.yaml'), lbPolicyYaml('None').replace('name: default', 'name: relaxed'));
    await eventually(() => p.running.holder.current!.version > version);
    expect(p.running.holder.current!.policy).toMatchObject({ name: 'relaxed', action: 'None' });
  });

  it('a config that never had a ThreatPolicy keeps reloading with the implicit one', async () => {
    const p = await start({ 'zones.yaml': BLOCKLIST });
    const version = p.running.holder.current!.version;
    writeFileSync(join(p.dir, 'zones.yaml'), BLOCKLIST.replace('192.0.2.0/24', '198.51.100.0/24'));
    await eventually(() => p.running.holder.current!.version > version);
    expect(p.running.holder.current!.policy.name).toBe('(default)');
    expect(p.events.events.filter((e) => e.eventType === 'system.config.policy_removal_refused')).toEqual([]);
  });
});
