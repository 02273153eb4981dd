import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startSyslogListener, type SyslogHandle, type SyslogOptions } from '../../../src/adapters/syslog/syslog-server.ts';
import type { OutcomeReport } from '../../../src/decide/outcome.ts';
import { Registry } from 'prom-client';
import { SyslogMetrics } from '../../../src/telemetry/syslog-metrics.ts';
import { OutcomeQueue, type OutcomeQueueOptions } from '../../../src/service/outcome-queue.ts';
import { eventually } from '../../helpers/portcullis.ts';

const line = (id: string, status = 401) => `<190>Jan  7 10:00:00 web-1 nginx: {"request_id":"${id}","peer":"10.0.1.5","xff":"198.51.100.7","method":"POST","uri":"/login","host":"a","status":${status},"result":""}`;

let handle: SyslogHandle | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await handle?.close();
  handle = undefined;
});

async function start(overrides: Partial<SyslogOptions> = {}, trusted: (a: string) => boolean = () => true, queueOptions?: OutcomeQueueOptions) {
  const reports: OutcomeReport[] = [];
  const registry = new Registry();
  const metrics = new SyslogMetrics(registry);
  const shed: Record<string, number> = {};
  const queue = new OutcomeQueue((source, reason, n) => (shed[`${source}|${reason}`] = (shed[`${source}|${reason}`] ?? 0) + n), queueOptions);
  handle = await startSyslogListener(
    { udp: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0 }, maxLineBytes: 4096, maxConnections: 4, linesPerSecond: 1000, ...overrides },
    { ingest: { report: (r) => reports.push(r) }, queue, isTrustedSource: trusted, metrics, logger: pino({ level: 'silent' }), nowMs: Date.now },
  );
  const count = async (transport: string, result: string) => {
    const text = await registry.metrics();
    const m = new RegExp(`^portcullis_syslog_lines_total\\{transport="${transport}",result="${result}"\\} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return { reports, metrics, count, queue, shed, registry };
}

function udpSend(port: number, messages: Array<string | Buffer>): Promise<void> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    let left = messages.length;
    for (const m of messages) s.send(m, port, '127.0.0.1', () => { if (--left === 0) { s.close(); resolve(); } });
  });
}

async function tcpOpen(port: number): Promise<Socket> {
  const s = connect(port, '127.0.0.1');
  sockets.push(s);
  s.on('error', () => undefined);
  await new Promise((r) => s.once('connect', r));
  return s;
}

describe('syslog outcome listener', () => {
  it('delivers UDP and TCP (both framings) lines to the ingest', async () => {
    const { reports, count } = await start();
    await udpSend(handle!.udpPort!, [line('u1'), `${line('u2')}\n${line('u3')}\n`]);
    const tcp = await tcpOpen(handle!.tcpPort!);
    const counted = line('t2');
    tcp.write(`${line('t1')}\n${Buffer.byteLength(counted)} ${counted}`);
    await eventually(() => reports.length === 5);
    expect(reports.map((r) => r.requestId).sort()).toEqual(['t1', 't2', 'u1', 'u2', 'u3']);
    expect(reports[0]).toMatchObject({ method: 'POST', path: '/login', status: 401, clientIp: '10.0.1.5', forwardedFor: '198.51.100.7' });
    expect(await count('udp', 'accepted')).toBe(3);
    expect(await count('tcp', 'accepted')).toBe(2);
  });

  it('counts and drops malformed, hostile and oversize lines without stalling', async () => {
    const { reports, count } = await start({ maxLineBytes: 512 });
    await udpSend(handle!.udpPort!, ['garbage', '<13>x {not json', Buffer.from([0xff, 0xfe, 0x00, 0x7b]), line('big').padEnd(2000, ' '), line('ok')]);
    const tcp = await tcpOpen(handle!.tcpPort!);
    tcp.write(`{"status":\n${'z'.repeat(5000)}\n${line('ok2')}\n`);
    await eventually(() => reports.length === 2);
    expect(await count('udp', 'malformed')).toBe(3);
    expect(await count('udp', 'oversize')).toBe(1);
    expect(await count('tcp', 'malformed')).toBe(1);
    expect(await count('tcp', 'oversize')).toBe(1);
  });

  it('bounds a flood: the token bucket drops the excess, connections are capped', async () => {
    const { reports, count } = await start({ linesPerSecond: 50 });
    const tcp = await tcpOpen(handle!.tcpPort!);
    tcp.write(Array.from({ length: 500 }, (_, i) => line(`f${i}`)).join('\n') + '\n');
    await eventually(async () => (await count('tcp', 'accepted')) + (await count('tcp', 'rate_limited')) === 500);
    expect(reports.length).toBeLessThanOrEqual(55);
    expect(await count('tcp', 'rate_limited')).toBeGreaterThanOrEqual(445);

    for (let i = 0; i < 3; i++) await tcpOpen(handle!.tcpPort!); // 4 open now: the cap
    const refused = connect(handle!.tcpPort!, '127.0.0.1');
    sockets.push(refused);
    refused.on('error', () => undefined);
    await new Promise((r) => refused.once('close', r));
  });

  it('takes outcomes only from trusted proxies', async () => {
    const { reports, count } = await start({}, () => false);
    await udpSend(handle!.udpPort!, [line('x')]);
    await eventually(async () => (await count('udp', 'untrusted_source')) === 1);
    const tcp = connect(handle!.tcpPort!, '127.0.0.1');
    sockets.push(tcp);
    tcp.on('error', () => undefined);
    await new Promise((r) => tcp.once('close', r));
    expect(reports).toEqual([]);
  });

  it('learns a TCP flood from the queue, pausing the connection while the backlog is high (nothing shed)', async () => {
    // 16 KiB high water, 64 KiB cap: one 64 KiB read would overflow it if the socket were never paused.
    const { reports, count, queue, shed } = await start({ linesPerSecond: 1_000_000 }, () => true, { sliceMs: 1, sliceUnits: 20_000, stepUnits: 32, highWaterBytes: 16 * 1024, lowWaterBytes: 4 * 1024, maxBytes: 64 * 1024 });
    const tcp = await tcpOpen(handle!.tcpPort!);
    const lines = Array.from({ length: 8000 }, (_, i) => line(`p${i}`)).join('\n') + '\n'; // ~1.4 MB
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, queue.backlogBytes)), 0);
    tcp.write(lines);
    await eventually(async () => (await count('tcp', 'accepted')) === 8000, 20_000);
    clearInterval(sampler);
    expect(reports.length).toBe(8000);
    expect(shed).toEqual({});
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(64 * 1024);
  });

  it('counts UDP datagrams the full backlog refuses (UDP cannot be paused)', async () => {
    // A cap below one datagram: the queue has room for none, so every line is refused and counted.
    const { reports, shed, count } = await start({ linesPerSecond: 1_000_000 }, () => true, { sliceMs: 1, sliceUnits: 20_000, stepUnits: 32, highWaterBytes: 64, lowWaterBytes: 16, maxBytes: 128 });
    const datagram = `${line('d1')}\n${line('d2')}\r\n\n`; // two lines each
    await udpSend(handle!.udpPort!, Array.from({ length: 20 }, () => datagram));
    await eventually(() => shed['syslog_udp|backlog_full'] === 40);
    expect(reports).toEqual([]);
    expect(await count('udp', 'accepted')).toBe(0);
  });

  it('exports the datagrams the kernel dropped (receive buffer full) as /proc/net/udp counts them (issue 11 item 17)', async () => {
    const { registry, count } = await start({ udpReceiveBufferBytes: 4096 });
    const port = handle!.udpPort!;
    const exported = async () => Number(/^portcullis_syslog_udp_kernel_drops_total (\d+)$/m.exec(await registry.metrics())?.[1] ?? NaN);
    expect(await exported()).toBe(0);
    // A child process sends 3000 datagrams while this process sits in spawnSync: nothing reads the socket, its
    // tiny buffer fills, and the kernel drops the rest.
    const sender = `const s = require('node:dgram').createSocket('udp4'); let n = 0; const line = ${JSON.stringify(line('k'))};
      const next = () => (n++ < 3000 ? s.send(line, ${port}, '127.0.0.1', next) : s.close()); next();`;
    const r = spawnSync(process.execPath, ['-e', sender], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const fromProc = procUdpDrops(port);
    expect(fromProc).toBeGreaterThan(0);
    expect(await exported()).toBe(fromProc);
    // What the buffer held is still read and learned.
    await eventually(async () => (await count('udp', 'accepted')) + fromProc === 3000);
  });
});

/** The drops column of this port's rows in /proc/net/udp and /proc/net/udp6, read independently of the server. */
function procUdpDrops(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  let drops = 0;
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = row.trim().split(/\s+/);
      if (f.length >= 13 && f[1]!.endsWith(`:${hex}`)) drops += Number(f.at(-1));
    }
  }
  return drops;
}
