import { parseArgs } from 'node:util';
import type { ConfigObject, ThreatPolicySpec } from '../api/objects.ts';
import { systemClock } from '../clock.ts';
import { compile } from '../config/compile.ts';
import { formatIssues } from '../config/reloader.ts';
import { decide, type DecideOptions } from '../decide/decide.ts';
import type { Decision, RequestFacts } from '../decide/decision.ts';
import { DEFAULT_SIGN_IN_ROUTES, type RouteMatcher } from '../decide/sign-in-routes.ts';
import type { DetectorFacts, DetectorView } from '../decide/threat.ts';
import { THREAT_LEVELS, THREAT_REASONS, type ThreatLevel } from '../detect/levels.ts';
import type { Verdict } from '../detect/verdict.ts';
import { PortcullisError } from '../errors.ts';
import { GeoDatabases } from '../feeds/geo.ts';
import { FeedManager } from '../feeds/manager.ts';
import { parseAddress } from '../net/address.ts';
import { readSettings, settingsParseOptions } from '../settings.ts';
import { loadPaths } from '../sources/files.ts';
import { settingsHelp } from './flags.ts';

const MAX_ADMIN_BODY = 64 * 1024;

/**
 * `explain` runs decide() — the server's decision — on one hypothetical request: the same snapshot, the same
 * ThreatFeeds and DynamicZones (read now), and with --server the live detector state of a running sidecar.
 * Exit 0: answered; 1: cannot answer (bad config, unreachable or refusing server); 2: usage.
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...settingsParseOptions(),
      peer: { type: 'string' },
      xff: { type: 'string' },
      forwarded: { type: 'string' },
      'external-address': { type: 'string' },
      method: { type: 'string' },
      path: { type: 'string' },
      host: { type: 'string' },
      json: { type: 'boolean' },
      server: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`usage: portcullis explain --config <file|dir> --peer IP [--xff "a, b"] [--forwarded ...] [--method M --path P --host H]
                          [--server http://127.0.0.1:9091 [--admin-token T]] [--geoip-* file.mmdb] [--json]

  Runs the server's decision on one request: zones, ThreatFeeds and DynamicZones (feeds are read now), and with
  --server the live detector state of a running sidecar. Exits 1 when it cannot answer.
  --method/--path   Default: the first sign-in route of the policy (said so in the output).
  --server          A running sidecar's admin address (GET /admin/ip).
${settingsHelp(['config', 'client-ip-mode', 'max-hops', 'failure-mode', 'geoip-asn', 'geoip-country', 'geoip-anonymous', 'admin-token'])}
`);
    return 0;
  }
  const settings = readSettings(values, process.env);
  if (!values.peer) throw new PortcullisError('USAGE', '--peer is required (the L4 peer Envoy sees, e.g. the load balancer)');
  const peer = parseAddress(values.peer);
  if (!peer) throw new PortcullisError('USAGE', `--peer: not an IP address: ${JSON.stringify(values.peer)}`);
  let serverUrl: URL | undefined;
  if (values.server !== undefined) {
    try {
      serverUrl = new URL('/admin/ip', values.server);
    } catch {
      throw new PortcullisError('USAGE', `--server: not a URL: ${JSON.stringify(values.server)} (e.g. http://127.0.0.1:9091)`);
    }
    if (serverUrl.protocol !== 'http:' && serverUrl.protocol !== 'https:') throw new PortcullisError('USAGE', `--server: expected http:// or https://, got ${serverUrl.protocol}`);
  }

  const batch = loadPaths(settings.configPaths);
  const { snapshot, feeds: feedConfig, issues } = compile(batch.objects, 1, Date.now());
  const allIssues = [...batch.issues, ...issues];
  if (allIssues.length > 0) {
    process.stderr.write(`config has problems:\n${formatIssues(allIssues).map((l) => `  ${l}`).join('\n')}\n`);
    return 1;
  }

  const assumptions: string[] = [];
  const warnings: string[] = [];
  const policy = snapshot.policy;
  const route = sampleRoute(snapshot.objects, policy.name, policy.signIn);
  if (values.method === undefined || values.path === undefined) {
    const what = route ? `a sign-in route of policy ${policy.name}` : `no sign-in route could be derived from policy ${policy.name}`;
    assumptions.push(`assuming ${values.method ?? route?.method ?? 'POST'} ${values.path ?? route?.path ?? '/login'} (${what}); use --method/--path`);
  }
  if (values.host === undefined) assumptions.push(`assuming host ${route?.host ?? 'localhost'}; use --host`);
  const facts: RequestFacts = {
    peer, xForwardedFor: values.xff, forwarded: values.forwarded, envoyExternalAddress: values['external-address'],
    method: values.method ?? route?.method ?? 'POST', path: values.path ?? route?.path ?? '/login', host: values.host ?? route?.host ?? 'localhost',
    requestId: undefined, userAgent: undefined,
  };
  assumptions.push('no username given: account-level (client + account) detections are not considered');

  // Feeds and dynamic zones exactly as the server builds them; every source is read once, now.
  const g = settings.geoip;
  const geo = g.asn || g.country || g.anonymous
    ? await GeoDatabases.open({ asn: g.asn || undefined, country: g.country || undefined, anonymous: g.anonymous || undefined, watch: false })
    : undefined;
  const feeds = new FeedManager({ clock: systemClock, geo });
  try {
    const badGeo = geo?.status().filter((s) => !s.ok) ?? [];
    if (badGeo.length > 0) {
      process.stderr.write(`geoip databases not loaded:\n${badGeo.map((s) => `  --geoip-${s.db} ${s.path}: ${s.error}`).join('\n')}\n`);
      return 1;
    }
    feeds.apply(feedConfig);
    for (const f of feedConfig.threatFeeds) await feeds.refresh(f.name);
    feeds.apply(feedConfig); // same sources: keeps the runners, rebuilds the index now with what was read
    for (const st of feeds.feedStatus()) {
      if (!st.serving) warnings.push(`ThreatFeed ${st.name} could not be read (${st.lastError ?? st.lastResult ?? 'unknown'}): not considered (the server may hold an older copy)`);
      else if (st.source === 'http') assumptions.push(`ThreatFeed ${st.name} read now from its URL (${st.entries} entries); the server's copy may be older`);
    }
    for (const z of feeds.zoneStatus()) if (!z.ready) warnings.push(`DynamicZone ${z.name}: ${z.message}`);

    const options: DecideOptions = { clientIp: { mode: settings.clientIpMode, maxHops: settings.maxHops }, failureMode: settings.failureMode, newId: () => 'explain', feeds };
    let d = decide(facts, snapshot, options);

    let live: LiveState | undefined;
    if (serverUrl && d.client) {
      const got = await liveState(serverUrl, d.client.text, settings.adminToken);
      if (typeof got === 'string') {
        process.stderr.write(`portcullis explain: ${got}\n`);
        return 1;
      }
      live = got;
      // The second run reads the server's detector state: the verdict is what the server would answer now.
      d = decide(facts, snapshot, { ...options, detectors: liveDetectors(got) });
    } else if (!serverUrl) {
      assumptions.push('no --server: detector state (brute force, spraying, blocks) is not considered');
    }
    return print(values.json === true, d, facts, snapshot, assumptions, warnings, live);
  } finally {
    feeds.stop();
    await geo?.close();
  }
}

function print(json: boolean, d: Decision, facts: RequestFacts, snapshot: ReturnType<typeof compile>['snapshot'], assumptions: string[], warnings: string[], live: LiveState | undefined): number {
  const hops = (d.chain?.chain ?? []).map((ip) => {
    const a = parseAddress(ip);
    const zones = a ? snapshot.index.lookup(a).map((m) => `${m.zone}:${m.role}${m.exempt ? ':exempt' : ''}`) : [];
    return { ip, trustedProxy: a ? snapshot.isTrustedProxy(a) : false, zones, client: ip === d.client?.text };
  });
  const report = {
    client: d.client?.text ?? null,
    resolution: d.chain?.reason ?? null,
    chain: hops,
    method: facts.method,
    path: facts.path,
    host: facts.host,
    signIn: d.signIn,
    verdict: d.verdict,
    reason: d.reason,
    httpStatus: d.httpStatus,
    retryAfterSeconds: d.retryAfterSeconds ?? null,
    zone: d.zone ?? null,
    feed: d.feed ?? null,
    threat: d.threat ? { level: d.threat.level, detections: d.threat.detections, feeds: d.threat.feeds ?? [] } : null,
    policy: `${snapshot.policy.name} (action ${snapshot.policy.action})`,
    assumptions,
    warnings,
    ...(live !== undefined ? { server: live } : {}),
  };
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const lines = ['chain (left = farthest from us, right = the direct peer):'];
  for (const h of hops) lines.push(`  ${h.client ? '→' : ' '} ${h.ip.padEnd(40)} ${h.trustedProxy ? 'trusted proxy' : 'untrusted'}${h.zones.length ? `  [${h.zones.join(', ')}]` : ''}`);
  const why = [d.zone ? `zone ${d.zone}` : '', d.feed ? `feed ${d.feed}` : '', d.threat && d.threat.level !== 'NONE' ? `threat ${d.threat.level}: ${Object.entries(d.threat.detections).map(([r, v]) => `${r}=${v}`).join(', ')}` : '']
    .filter(Boolean).join('; ');
  lines.push(
    `client:   ${report.client} (${report.resolution})`,
    `route:    ${facts.method} ${facts.path} ${d.signIn ? '(sign-in)' : '(not a sign-in route)'}`,
    `verdict:  ${d.verdict} ${d.httpStatus} — ${d.reason}${why ? ` (${why})` : ''}${d.retryAfterSeconds !== undefined ? `, retry after ${d.retryAfterSeconds}s` : ''}`,
    `policy:   ${report.policy}`,
  );
  if (live !== undefined) lines.push(...describeLive(live));
  for (const a of assumptions) lines.push(`note:     ${a}`);
  for (const w of warnings) lines.push(`warning:  ${w}`);
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** A method and path the policy treats as sign-in (its first exact or prefix route), so the default is never a silent miss. */
function sampleRoute(objects: readonly ConfigObject[], policyName: string, signIn: RouteMatcher): { method: string; path: string; host: string } | undefined {
  const obj = objects.find((o) => o.kind === 'ThreatPolicy' && o.name === policyName);
  const specs = (obj?.spec as ThreatPolicySpec | undefined)?.signIn?.routes;
  for (const r of specs && specs.length > 0 ? specs : DEFAULT_SIGN_IN_ROUTES) {
    const path = r.path?.exact ?? r.path?.prefix;
    const method = r.methods?.[0] ?? 'POST';
    const host = r.host === undefined ? 'localhost' : r.host.startsWith('*.') ? `www${r.host.slice(1)}` : r.host;
    if (path !== undefined && signIn.matches(method, path, host)) return { method, path, host };
  }
  return undefined;
}

/** What the server's /admin/ip says, validated (it is input from the network). */
interface LiveState {
  readonly ip: string;
  readonly tracked: boolean;
  readonly org: { readonly underAttack: boolean; readonly score: number | undefined };
  readonly detectors: {
    readonly level: ThreatLevel;
    readonly detections: Readonly<Record<string, ThreatLevel>>;
    readonly counters: Readonly<Record<string, number>>;
    readonly block: { readonly active: boolean; readonly untilMs: number; readonly level: ThreatLevel };
  } | null;
}

const isLevel = (v: unknown): v is ThreatLevel => typeof v === 'string' && (THREAT_LEVELS as readonly string[]).includes(v);

/** GET /admin/ip; a string is the reason it cannot answer. */
async function liveState(url: URL, ip: string, token: string): Promise<LiveState | string> {
  const u = new URL(url);
  u.searchParams.set('ip', ip);
  let res: Response;
  try {
    res = await fetch(u, { signal: AbortSignal.timeout(5000), headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return `cannot reach ${u.origin}: ${cause?.code ?? cause?.message ?? (err as Error).message} (is --server the sidecar's admin address, e.g. http://127.0.0.1:9091?)`;
  }
  const text = await res.text();
  if (res.status === 401 || res.status === 403) return `${u.origin}/admin/ip answered ${res.status}: give the admin token with --admin-token or PORTCULLIS_ADMIN_TOKEN`;
  if (res.status !== 200) return `${u.origin}/admin/ip answered ${res.status}${res.status === 404 ? ' (not the admin address? try --admin-address of the sidecar, default 127.0.0.1:9091)' : ''}`;
  if (text.length > MAX_ADMIN_BODY) return `${u.origin}/admin/ip: answer larger than ${MAX_ADMIN_BODY} bytes`;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return `${u.origin}/admin/ip: answer is not JSON`;
  }
  return parseLive(body) ?? `${u.origin}/admin/ip: answer has an unexpected shape (a different Portcullis version?)`;
}

function parseLive(body: unknown): LiveState | undefined {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as Record<string, unknown>;
  const org = (b.org ?? {}) as Record<string, unknown>;
  if (typeof b.tracked !== 'boolean' || typeof b.ip !== 'string') return undefined;
  const orgState = { underAttack: org.underAttack === true, score: typeof org.score === 'number' ? org.score : undefined };
  if (b.detectors === null || b.detectors === undefined) return { ip: b.ip, tracked: b.tracked, org: orgState, detectors: null };
  const d = b.detectors as Record<string, unknown>;
  const block = (d.block ?? {}) as Record<string, unknown>;
  if (!isLevel(d.level) || typeof block.active !== 'boolean' || typeof block.untilMs !== 'number' || !isLevel(block.level)) return undefined;
  const detections: Record<string, ThreatLevel> = {};
  for (const [k, v] of Object.entries((d.detections ?? {}) as Record<string, unknown>)) {
    if ((THREAT_REASONS as readonly string[]).includes(k) && isLevel(v)) detections[k] = v;
  }
  const counters: Record<string, number> = {};
  for (const [k, v] of Object.entries((d.counters ?? {}) as Record<string, unknown>).slice(0, 32)) if (typeof v === 'number') counters[k] = v;
  return { ip: b.ip, tracked: b.tracked, org: orgState, detectors: { level: d.level, detections, counters, block: { active: block.active, untilMs: block.untilMs, level: block.level } } };
}

/** The server's answer as the DetectorView decide() reads, so assessThreat turns it into 403/429 as the server does. */
function liveDetectors(live: LiveState): DetectorView {
  const d = live.detectors;
  const verdict: Verdict = d
    ? { level: d.level, detections: d.detections, blockedUntilMs: d.block.active ? d.block.untilMs : 0, blockLevel: d.block.active ? d.block.level : 'NONE' }
    : { level: 'NONE', detections: {}, blockedUntilMs: 0, blockLevel: 'NONE' };
  return {
    facts(): DetectorFacts {
      // The server compared the block with its own clock; a block it calls active stays active here.
      const nowMs = d?.block.active ? Math.min(Date.now(), d.block.untilMs - 1) : Date.now();
      return { verdict, account: 'NONE', nowMs };
    },
  };
}

function describeLive(l: LiveState): string[] {
  const out = [`server:   org ${l.org.underAttack ? 'UNDER ATTACK' : 'normal'}${l.org.score !== undefined ? ` (score ${l.org.score.toFixed(2)})` : ''}`];
  if (!l.tracked || !l.detectors) return [...out, '          client not tracked (no recent sign-in activity)'];
  const d = l.detectors;
  out.push(`          level ${d.level}${Object.keys(d.detections).length ? ` — ${Object.entries(d.detections).map(([r, v]) => `${r}=${v}`).join(', ')}` : ''}`);
  out.push(`          ${Object.entries(d.counters).map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(1)}`).join(', ')}`);
  out.push(d.block.active ? `          blocked (${d.block.level}) until ${new Date(d.block.untilMs).toISOString()}` : '          no active block');
  return out;
}
