// Redis store vs memory store, same run: Check latency at fixed rates (open-loop, no coordinated omission),
// Redis commands and batches per Check (INFO commandstats deltas), and Redis memory per tracked client IP.
// Each Check is a sign-in from one of 1,000 clients, so every allowed Check writes an attempt to the store.
// Run alone: node --import tsx bench/redis-check.ts [--quick]
import { Redis } from 'ioredis';
import { pathToFileURL } from 'node:url';
import { ManualClock } from '../src/clock.ts';
import { DetectionEngine } from '../src/detect/engine.ts';
import { OrgAttackDetector } from '../src/detect/org-attack.ts';
import { RedisKeys } from '../src/store/redis/keys.ts';
import { RedisStore } from '../src/store/redis/store.ts';
import { envoyCheckRequest } from '../test/helpers/envoy-request.ts';
import { startProcessInstance, type ProcessInstance } from '../test/helpers/portcullis-process.ts';
import { redisStoreSettings, startRedisServer, type RedisServer } from '../test/helpers/redis.ts';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { h2loadAvailable, runH2load } from './lib/h2load.ts';
import { openLoopInChild } from './lib/open-loop.ts';
import { authorizationDefinition, CHECK_PATH, grpcFrame } from './lib/requests.ts';
import { markdownTable } from './lib/table.ts';
import { lbPolicyYaml } from '../test/helpers/portcullis.ts';

export interface RedisBenchRow {
  readonly store: 'memory' | 'redis';
  /** open-loop: 1,000 clients, grpc-js generator (CPU-bound near 5k/s on 2 cores); h2load: 4 clients, C generator. */
  readonly generator: 'open-loop' | 'h2load';
  readonly target: number;
  readonly achieved: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
  readonly serviceP99Us: number;
  readonly sendLagP99Us: number;
  readonly errors: number;
  readonly serverCpu: number;
  /** The server's event-loop delay over the row, ms: work the Checks queued behind. */
  readonly loopDelayP99Ms: number;
  /** Redis only: script calls and pipelined batches (round trips) per Check, all off the Check's path. */
  readonly scriptsPerCheck?: number;
  readonly batchesPerCheck?: number;
}

export interface RedisBenchReport {
  readonly plan: { readonly rates: readonly number[]; readonly h2loadRates: readonly number[]; readonly durationS: number; readonly clients: number };
  readonly rows: readonly RedisBenchRow[];
  readonly memory: RedisMemory;
  /** MONITOR over a short run at the lowest rate: commands per Check sent by Portcullis and run inside its scripts. */
  readonly commands: { readonly rate: number; readonly checks: number; readonly clientPerCheck: number; readonly luaPerCheck: number; readonly byCommand: Readonly<Record<string, number>> };
  readonly notes: readonly string[];
}

export interface RedisMemory {
  readonly ips: number;
  /** used_memory growth per client IP: a row only (attempts), and a row plus a one-username pairs hash (a failure). */
  readonly bytesPerIpRow: number;
  readonly bytesPerIpRowAndPairs: number;
  /** MEMORY USAGE of single keys. */
  readonly memoryUsage: Readonly<Record<string, number>>;
}

const POLICY = lbPolicyYaml('Block');

function messages(clients: number): string[] {
  const def = authorizationDefinition()['Check']!;
  return Array.from({ length: clients }, (_, i) => {
    const ip = `100.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    return def.requestSerialize(envoyCheckRequest({
      peer: '10.0.0.5',
      body: `username=user${i}%40example.com&password=x`,
      headers: { 'x-forwarded-for': ip, 'content-type': 'application/x-www-form-urlencoded' },
    })).toString('base64');
  });
}

/** Script calls (EVALSHA + EVAL) from INFO commandstats; commands run inside scripts are counted apart by Redis. */
function scriptCalls(redis: RedisServer): number {
  let total = 0;
  for (const m of redis.cli('info', 'commandstats').matchAll(/^cmdstat_(evalsha|eval):calls=(\d+)/gm)) total += Number(m[2]);
  return total;
}

/** Every command Redis receives over one short run, from MONITOR: sent by clients vs run inside scripts. */
async function monitorPass(redis: RedisServer, p: ProcessInstance, msgs: string[], rate: number, seconds: number): Promise<{ checks: number; clientCommands: number; luaCommands: number; byCommand: Record<string, number> }> {
  const client = new Redis(redis.port, '127.0.0.1');
  const mon = await client.monitor();
  let clientCommands = 0;
  let luaCommands = 0;
  const byCommand: Record<string, number> = {};
  mon.on('monitor', (_time: string, args: string[], source: string) => {
    if (source === 'lua') luaCommands++;
    else {
      clientCommands++;
      const name = String(args[0]).toLowerCase();
      byCommand[name] = (byCommand[name] ?? 0) + 1;
    }
  });
  try {
    const r = await openLoopInChild({ target: p.grpcTarget, rate, count: rate * seconds, messages: msgs, connections: 2 });
    await p.settled();
    await new Promise((res) => setTimeout(res, 200));
    return { checks: r.completed, clientCommands, luaCommands, byCommand };
  } finally {
    mon.disconnect();
    client.disconnect();
  }
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

export async function measureRedisMemory(redis: RedisServer, ips = 10_000): Promise<RedisMemory> {
  const clock = new ManualClock(Date.UTC(2026, 0, 5, 12));
  const settings = redisStoreSettings([redis.url], { keyPrefix: 'mem:' });
  const store = new RedisStore({ settings, engine: new DetectionEngine({ clock }), org: new OrgAttackDetector({ clock }), clock });
  await store.start();
  const used = (): number => Number(/used_memory:(\d+)/.exec(redis.cli('info', 'memory'))?.[1]);
  const fill = async (base: number, failure: boolean): Promise<number> => {
    const before = used();
    for (let i = 0; i < ips; i++) {
      const key = base + i;
      if (failure) store.recordOutcome(key, 'failure', { usernameHash: i * 2654435761 }, undefined);
      else store.recordAttempt(key, { usernameHash: i }, undefined);
      if (i % 1000 === 999) await store.settled();
    }
    await store.settled();
    return round((used() - before) / ips, 1);
  };
  try {
    const bytesPerIpRow = await fill(0x0a000000, false);
    const bytesPerIpRowAndPairs = await fill(0x0b000000, true);
    const keys = new RedisKeys('mem:');
    const memoryUsage: Record<string, number> = {};
    for (const [name, key] of [['row (10.0.0.0)', keys.row(0x0a000000)], ['pairs, 1 username (11.0.0.0)', keys.pairs(0x0b000000)]] as const) {
      memoryUsage[name] = Number(redis.cli('memory', 'usage', key, 'samples', '0'));
    }
    return { ips, bytesPerIpRow, bytesPerIpRowAndPairs, memoryUsage };
  } finally {
    await store.close();
  }
}

/**
 * h2load sends one body per process: four processes, each a different client at a quarter of the rate. The
 * row reports the worst of the four percentiles (h2load gives no merged histogram).
 */
async function h2loadRows(servers: { store: 'memory' | 'redis'; p: ProcessInstance }[], redis: RedisServer, rates: readonly number[], durationS: number, log: (l: string) => void): Promise<RedisBenchRow[]> {
  const def = authorizationDefinition()['Check']!;
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-redis-bench-'));
  const bodies = [0, 1, 2, 3].map((i) => {
    const file = join(dir, `check-${i}.grpc`);
    writeFileSync(file, grpcFrame(def.requestSerialize(envoyCheckRequest({
      peer: '10.0.0.5', body: `username=h2-${i}%40example.com&password=x`,
      headers: { 'x-forwarded-for': `100.100.0.${i + 1}`, 'content-type': 'application/x-www-form-urlencoded' },
    }))));
    return file;
  });
  const rows: RedisBenchRow[] = [];
  try {
    for (const rate of rates) {
      for (const s of servers) {
        const scripts0 = scriptCalls(redis);
        const batches0 = (await s.p.metric('portcullis_store_batches_total')) || 0;
        const cpu0 = await s.p.cpuMs();
        await s.p.loopDelay();
        const t0 = performance.now();
        const rs = await Promise.all(bodies.map((bodyFile) => runH2load({ url: `http://${s.p.grpcTarget}${CHECK_PATH}`, bodyFile, clients: 1, streams: 32, rate: rate / 4, durationS, warmupS: 1 })));
        const cpu = Math.round((((await s.p.cpuMs()) - cpu0) / (performance.now() - t0)) * 100);
        const loop = await s.p.loopDelay();
        await s.p.settled();
        const sent = rs.reduce((a, r) => a + r.requests, 0) + rate; // + the warm-up second
        const worst = (f: (r: (typeof rs)[number]) => number): number => Math.max(...rs.map(f));
        const row: RedisBenchRow = {
          store: s.store, generator: 'h2load', target: rate, achieved: rs.reduce((a, r) => a + r.achievedRate, 0),
          p50Us: worst((r) => r.latencyUs.p50), p99Us: worst((r) => r.latencyUs.p99), p999Us: worst((r) => r.latencyUs.p999), maxUs: worst((r) => r.latencyUs.max),
          serviceP99Us: worst((r) => r.latencyUs.p99), sendLagP99Us: 0, errors: rs.reduce((a, r) => a + r.failed + r.errored + r.timeout, 0), serverCpu: cpu, loopDelayP99Ms: loop.p99,
          ...(s.store === 'redis' ? {
            scriptsPerCheck: round((scriptCalls(redis) - scripts0) / sent, 3),
            batchesPerCheck: round((((await s.p.metric('portcullis_store_batches_total')) || 0) - batches0) / sent, 3),
          } : {}),
        };
        rows.push(row);
        log(`h2load ${row.store.padEnd(6)} @ ${rate}/s: got ${row.achieved}/s, p50 ${row.p50Us} µs, p99 ${row.p99Us} µs, max ${row.maxUs} µs, errors ${row.errors}, cpu ${cpu}%, loop delay p99 ${loop.p99} ms`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export async function runRedisBench(quick: boolean, log: (line: string) => void = () => undefined): Promise<RedisBenchReport> {
  const rates = quick ? [1000] : [1000, 2500];
  const h2loadRates = quick ? [5000] : [2500, 5000, 7500];
  const durationS = quick ? 3 : 10;
  const clients = 1000;
  const notes: string[] = [];
  const redis = await startRedisServer();
  const servers: { store: 'memory' | 'redis'; p: ProcessInstance }[] = [];
  try {
    const flags = { 'username-key': 'k'.repeat(32), events: 'none' };
    servers.push({ store: 'memory', p: await startProcessInstance({ 'p.yaml': POLICY }, flags) });
    servers.push({ store: 'redis', p: await startProcessInstance({ 'p.yaml': POLICY }, { ...flags, 'redis-url': redis.url }) });
    const msgs = messages(clients);
    const rows: RedisBenchRow[] = [];
    for (const rate of rates) {
      // Take turns at every rate, so neighbours' noise on a shared machine lands on both.
      for (const s of servers) {
        const scripts0 = scriptCalls(redis);
        const batches0 = (await s.p.metric('portcullis_store_batches_total')) || 0;
        const cpu0 = await s.p.cpuMs();
        await s.p.loopDelay();
        const t0 = performance.now();
        const warmup = Math.round(rate / 2);
        const r = await openLoopInChild({ target: s.p.grpcTarget, rate, count: rate * durationS, warmup, messages: msgs, connections: 2 });
        const cpu = Math.round((((await s.p.cpuMs()) - cpu0) / (performance.now() - t0)) * 100);
        const loop = await s.p.loopDelay();
        await s.p.settled();
        const sent = r.requested + warmup;
        const row: RedisBenchRow = {
          store: s.store, generator: 'open-loop', target: rate, achieved: r.achievedRate, p50Us: r.latencyUs.p50, p99Us: r.latencyUs.p99, p999Us: r.latencyUs.p999,
          maxUs: r.latencyUs.max, serviceP99Us: r.serviceUs.p99, sendLagP99Us: r.sendLagUs.p99, errors: r.errors, serverCpu: cpu, loopDelayP99Ms: loop.p99,
          ...(s.store === 'redis' ? {
            scriptsPerCheck: round((scriptCalls(redis) - scripts0) / sent, 3),
            batchesPerCheck: round((((await s.p.metric('portcullis_store_batches_total')) || 0) - batches0) / sent, 3),
          } : {}),
        };
        rows.push(row);
        log(`${row.store.padEnd(6)} @ ${rate}/s: got ${row.achieved}/s, p50 ${row.p50Us} µs, p99 ${row.p99Us} µs, max ${row.maxUs} µs, errors ${row.errors}, cpu ${cpu}%${row.scriptsPerCheck !== undefined ? `, scripts/check ${row.scriptsPerCheck}, batches/check ${row.batchesPerCheck}` : ''}`);
        if (r.sendLagUs.p99 > 2000) notes.push(`${s.store} @ ${rate}/s: generator send lag p99 ${r.sendLagUs.p99} µs (the generator, not the server, limits this row)`);
        if (r.achievedRate < rate * 0.95) notes.push(`${s.store} @ ${rate}/s achieved only ${r.achievedRate}/s`);
      }
    }
    if (h2loadAvailable()) rows.push(...(await h2loadRows(servers, redis, h2loadRates, durationS, log)));
    else notes.push('h2load not found: the h2load rows are missing');
    const redisServer = servers.find((x) => x.store === 'redis')!.p;
    const m = await monitorPass(redis, redisServer, msgs, rates[0]!, 2);
    const commands = { rate: rates[0]!, checks: m.checks, clientPerCheck: round(m.clientCommands / m.checks, 3), luaPerCheck: round(m.luaCommands / m.checks, 3), byCommand: m.byCommand };
    log(`MONITOR @ ${commands.rate}/s: ${commands.clientPerCheck} commands/check sent, ${commands.luaPerCheck} run inside scripts (${JSON.stringify(m.byCommand)})`);
    const memory = await measureRedisMemory(redis);
    log(`Redis memory per client IP: ${memory.bytesPerIpRow} B (row), ${memory.bytesPerIpRowAndPairs} B (row + pairs)`);
    return { plan: { rates, h2loadRates, durationS, clients }, rows, memory, commands, notes };
  } finally {
    await Promise.all(servers.map((s) => s.p.stop()));
    await redis.stop();
  }
}

export function renderRedisBench(r: RedisBenchReport): string {
  const out: string[] = [];
  out.push(`open-loop: ${r.plan.clients} sign-in clients round-robin, latency from the scheduled send (no coordinated omission); h2load: 4 clients (one body per h2load process), worst of the four runs' percentiles, from the actual send. ${r.plan.durationS} s per row; latency in µs.`, '');
  out.push(markdownTable(
    ['generator', 'store', 'target/s', 'checks/s', 'p50', 'p99', 'p99.9', 'max', 'service p99', 'errors', 'server CPU %', 'loop delay p99 ms', 'scripts/check', 'batches/check'],
    r.rows.map((x) => [x.generator, x.store, x.target, x.achieved, x.p50Us, x.p99Us, x.p999Us, x.maxUs, x.serviceP99Us, x.errors, x.serverCpu, x.loopDelayP99Ms, x.scriptsPerCheck, x.batchesPerCheck]),
  ));
  out.push('', 'Added by Redis (redis − memory, µs):', '');
  out.push(markdownTable(['generator', 'target/s', 'p50', 'p99'], r.rows.filter((x) => x.store === 'redis').map((d) => {
    const m = r.rows.find((x) => x.store === 'memory' && x.target === d.target && x.generator === d.generator);
    return [d.generator, d.target, m ? round(d.p50Us - m.p50Us, 1) : undefined, m ? round(d.p99Us - m.p99Us, 1) : undefined];
  })));
  const c = r.commands;
  out.push('', `Redis commands per Check (MONITOR, ${c.checks} Checks at ${c.rate}/s): ${c.clientPerCheck} sent by Portcullis (${Object.entries(c.byCommand).map(([k, v]) => `${k} ${v}`).join(', ')}), ${c.luaPerCheck} run inside its scripts. None is on a Check's path: Checks read the local view.`);
  out.push('', `Redis memory per tracked client IP (${r.memory.ips} IPs each): ${r.memory.bytesPerIpRow} B with a row only, ${r.memory.bytesPerIpRowAndPairs} B with a row and a one-username pairs hash (used_memory growth).`, '');
  out.push(markdownTable(['key', 'MEMORY USAGE (B)'], Object.entries(r.memory.memoryUsage)));
  if (r.notes.length > 0) out.push('', ...r.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const report = await runRedisBench(process.argv.includes('--quick'), (l) => console.error(`  ${l}`));
  console.log(renderRedisBench(report));
}
