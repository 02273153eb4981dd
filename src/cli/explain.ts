import { parseArgs } from 'node:util';
import { compile } from '../config/compile.ts';
import { loadPaths } from '../sources/files.ts';
import { formatIssues } from '../config/reloader.ts';
import { decide } from '../decide/decide.ts';
import type { RequestFacts } from '../decide/decision.ts';
import { PortcullisError } from '../errors.ts';
import { parseAddress } from '../net/address.ts';
import { readSettings, settingsParseOptions } from '../settings.ts';
import { settingsHelp } from './flags.ts';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...settingsParseOptions(),
      peer: { type: 'string' },
      xff: { type: 'string' },
      forwarded: { type: 'string' },
      'external-address': { type: 'string' },
      method: { type: 'string', default: 'POST' },
      path: { type: 'string', default: '/login' },
      host: { type: 'string', default: 'localhost' },
      json: { type: 'boolean' },
      server: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`usage: portcullis explain --config <file|dir> --peer IP [--xff "a, b"] [--forwarded ...] [--method M --path P --host H]\n                          [--server http://host:9090] [--json]\n\n  --server          Also show the live detector state for the resolved client from a running sidecar's\n                    ops address (GET /admin/ip).\n${settingsHelp(['config', 'client-ip-mode', 'max-hops'])}\n`);
    return 0;
  }
  const settings = readSettings(values, process.env);
  if (!values.peer) throw new PortcullisError('USAGE', '--peer is required (the L4 peer Envoy sees, e.g. the load balancer)');
  const peer = parseAddress(values.peer);
  if (!peer) throw new PortcullisError('USAGE', `--peer: not an IP address: ${JSON.stringify(values.peer)}`);

  const batch = loadPaths(settings.configPaths);
  const { snapshot, issues } = compile(batch.objects, 1, Date.now());
  const allIssues = [...batch.issues, ...issues];
  if (allIssues.length > 0) {
    process.stderr.write(`config has problems:\n${formatIssues(allIssues).map((l) => `  ${l}`).join('\n')}\n`);
    return 1;
  }
  const facts: RequestFacts = {
    peer, xForwardedFor: values.xff, forwarded: values.forwarded, envoyExternalAddress: values['external-address'],
    method: values.method!, path: values.path!, host: values.host!, requestId: undefined, userAgent: undefined,
  };
  const d = decide(facts, snapshot, { clientIp: { mode: settings.clientIpMode, maxHops: settings.maxHops }, failureMode: settings.failureMode, newId: () => 'explain' });

  const hops = (d.chain?.chain ?? []).map((ip) => {
    const a = parseAddress(ip);
    const zones = a ? snapshot.index.lookup(a).map((m) => `${m.zone}:${m.role}${m.exempt ? ':exempt' : ''}`) : [];
    return { ip, trustedProxy: a ? snapshot.isTrustedProxy(a) : false, zones, client: ip === d.client?.text };
  });
  const live = values.server && d.client ? await liveState(values.server, d.client.text) : undefined;
  const report = {
    client: d.client?.text ?? null,
    resolution: d.chain?.reason ?? null,
    chain: hops,
    signIn: d.signIn,
    verdict: d.verdict,
    reason: d.reason,
    httpStatus: d.httpStatus,
    zone: d.zone ?? null,
    policy: `${snapshot.policy.name} (action ${snapshot.policy.action})`,
    ...(live !== undefined ? { detectors: live } : {}),
  };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const lines = ['chain (left = farthest from us, right = the direct peer):'];
  for (const h of hops) lines.push(`  ${h.client ? '→' : ' '} ${h.ip.padEnd(40)} ${h.trustedProxy ? 'trusted proxy' : 'untrusted'}${h.zones.length ? `  [${h.zones.join(', ')}]` : ''}`);
  lines.push(`client:   ${report.client} (${report.resolution})`, `route:    ${facts.method} ${facts.path} ${d.signIn ? '(sign-in)' : '(not a sign-in route)'}`, `decision: ${d.verdict} ${d.httpStatus} — ${d.reason}${d.zone ? ` (zone ${d.zone})` : ''}`, `policy:   ${report.policy}`);
  if (live !== undefined) lines.push(...describeLive(live));
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** The running sidecar's view of one client: counters, levels, block, org state. */
async function liveState(server: string, ip: string): Promise<unknown> {
  const url = new URL('/admin/ip', server);
  url.searchParams.set('ip', ip);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return await res.json();
  } catch (err) {
    return { error: `cannot reach ${url.origin}: ${(err as Error).message}` };
  }
}

function describeLive(live: unknown): string[] {
  const l = live as { error?: string; tracked?: boolean; detectors?: { level: string; detections: Record<string, string>; counters: Record<string, number>; block: { active: boolean; untilMs: number; level: string } }; org?: { underAttack: boolean; score: number } };
  if (l.error) return [`live:     ${l.error}`];
  const out = [`live:     org ${l.org?.underAttack ? 'UNDER ATTACK' : 'normal'} (score ${l.org?.score?.toFixed?.(2) ?? '?'})`];
  if (!l.tracked || !l.detectors) return [...out, '          client not tracked (no recent sign-in activity)'];
  const d = l.detectors;
  out.push(`          level ${d.level}${Object.keys(d.detections).length ? ` — ${Object.entries(d.detections).map(([r, v]) => `${r}=${v}`).join(', ')}` : ''}`);
  out.push(`          ${Object.entries(d.counters).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(1)}`).join(', ')}`);
  out.push(d.block.active ? `          BLOCKED (${d.block.level}) until ${new Date(d.block.untilMs).toISOString()}` : '          no active block');
  return out;
}
