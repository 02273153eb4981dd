// Issue 11 item 14: free text an attacker (or a huge config) controls is capped in every event and log line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { startPortcullis, type Running } from '../../src/main.ts';
import { readSettings } from '../../src/settings.ts';
import { FileSource } from '../../src/sources/files.ts';
import { createLogger } from '../../src/telemetry/logger.ts';
import { bounded } from '../../src/bounded.ts';
import { envoyCheckRequest } from '../helpers/envoy-request.ts';
import { AuthzClient } from '../helpers/grpc-client.ts';
import { eventually, ZONES_YAML } from '../helpers/portcullis.ts';

/** A pino destination that keeps each JSON line. */
function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(l);
      done();
    },
  });
  return { lines, stream };
}

let running: Running | undefined;
let dir: string | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

async function start(flags: Record<string, string>, logLines?: Writable) {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-bounded-'));
  writeFileSync(join(dir, 'zones.yaml'), ZONES_YAML);
  running = await startPortcullis(
    readSettings({ 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '127.0.0.1:0', 'drain-seconds': '1', ...flags, config: [dir] }, {}),
    { logger: createLogger('info', logLines ?? capture().stream), source: new FileSource([dir], { pollMs: 100, debounceMs: 20 }) },
  );
  return running;
}

describe('bounded free text', () => {
  it('a Check with a 100 KB User-Agent, request id and path writes a small event to the events file', async () => {
    const eventsFile = join(mkdtempSync(join(tmpdir(), 'portcullis-events-')), 'events.jsonl');
    const r = await start({ events: eventsFile });
    const client = new AuthzClient(`127.0.0.1:${r.grpcPort}`);
    const ua = 'Mozilla/5.0 '.padEnd(100_000, 'A');
    const id = 'r'.repeat(100_000);
    const path = `/login/${'p'.repeat(100_000)}?token=secret`;
    // 192.0.2.44 is in the bad-actors Blocklist zone: the Check is denied and an event written.
    const res = await client.check(envoyCheckRequest({ peer: '10.0.1.5', method: 'POST', path, headers: { 'x-forwarded-for': '192.0.2.44', 'user-agent': ua, 'x-request-id': id } }));
    client.close();
    expect(res.status?.code).toBe(7);
    let line = '';
    await eventually(() => (line = readFileSync(eventsFile, 'utf8').trim()).length > 0);
    expect(line.length).toBeLessThan(3000);
    const event = JSON.parse(line);
    expect(event.eventType).toBe('security.request.blocked');
    expect(event.client.userAgent.rawUserAgent).toBe(`${ua.slice(0, 256)}…(+${100_000 - 256} chars)`);
    expect(event.debugContext.debugData.requestId).toBe(`${'r'.repeat(128)}…(+${100_000 - 128} chars)`);
    expect(event.debugContext.debugData.requestUri).toBe(`${path.slice(0, 128)}…(+${path.indexOf('?') - 128} chars)`);
    expect(line).not.toContain('secret');
  });

  it('a reload with 5000 invalid entries logs one bounded line: the first 20 issues and the count', async () => {
    const { lines, stream } = capture();
    await start({ events: 'none' }, stream);
    const bad = Array.from({ length: 5000 }, (_, i) => `not-an-ip-${i}`);
    writeFileSync(join(dir!, 'more.yaml'), `apiVersion: portcullis.dev/v1alpha1\nkind: IPZone\nmetadata: { name: huge }\nspec: { usage: Blocklist, gateways: ${JSON.stringify(bad)} }\n`);
    let rejected: string | undefined;
    await eventually(() => (rejected = lines.find((l) => l.includes('config rejected'))) !== undefined, 10_000);
    expect(rejected!.length).toBeLessThan(20_000);
    const entry = JSON.parse(rejected!);
    expect(entry.issueCount).toBe(5000);
    expect(entry.issues).toHaveLength(21);
    expect(entry.issues[0]).toContain('not-an-ip-0');
    expect(entry.issues[20]).toBe('… and 4980 more');
    expect(entry.keeping).toBe(1);
  });

  it('caps any string and list in a log line, and still redacts credentials', () => {
    const { lines, stream } = capture();
    const logger = createLogger('info', stream);
    logger.warn({ err: { message: 'e'.repeat(50_000) }, list: Array.from({ length: 1000 }, (_, i) => i), headers: { authorization: 'Bearer s3cret' } }, `msg ${'m'.repeat(50_000)}`);
    logger.flush();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.length).toBeLessThan(4000);
    const entry = JSON.parse(lines[0]!);
    expect(entry.err.message).toBe(bounded('e'.repeat(50_000), 1024));
    expect(entry.list).toHaveLength(33);
    expect(entry.list[32]).toBe('… and 968 more');
    expect(entry.msg).toBe(bounded(`msg ${'m'.repeat(50_000)}`, 1024));
    expect(entry.msg).toMatch(/…\(\+48980 chars\)$/);
    expect(entry.headers.authorization).toBe('[redacted]');
  });

  it('never splits a surrogate pair', () => {
    expect(bounded('ab😀cd', 3)).toBe('ab…(+4 chars)');
    expect(bounded('short', 10)).toBe('short');
  });
});
