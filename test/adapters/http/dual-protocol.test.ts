import { connect as h2connect } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenDual, type DualListenerHandle } from '../../../src/adapters/http/dual-protocol.ts';

let server: DualListenerHandle | undefined;
afterEach(async () => {
  await server?.close(0);
  server = undefined;
});

async function start() {
  server = await listenDual({ host: '127.0.0.1', port: 0 }, (req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${req.httpVersion} ${req.url}`);
  });
  return server.port;
}

/** A socket whose first write goes out one byte first, so the sniffer sees a partial preface. */
function trickle(port: number): Socket {
  const s = connect(port, '127.0.0.1');
  s.setNoDelay(true);
  const write = s.write.bind(s) as (chunk: Buffer | string, ...rest: unknown[]) => boolean;
  let first = true;
  (s as unknown as { write: typeof write }).write = (chunk, ...rest) => {
    if (!first) return write(chunk, ...rest);
    first = false;
    const buf = Buffer.from(chunk);
    write(buf.subarray(0, 1));
    setTimeout(() => write(buf.subarray(1), ...rest), 30);
    return true;
  };
  return s;
}

describe('HTTP/1.1 and h2c on one port', () => {
  it('routes HTTP/1.1 (keep-alive, pipelined) even when the first bytes arrive one at a time', async () => {
    const port = await start();
    const s = trickle(port);
    let text = '';
    s.setEncoding('utf8').on('data', (c) => (text += c));
    s.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((resolve) => { const t = setInterval(() => { if (text.includes('1.1 /b')) { clearInterval(t); resolve(); } }, 10); });
    expect(text).toContain('1.1 /a');
    expect(text).toContain('1.1 /b');
    s.destroy();
  });

  it('routes h2c with prior knowledge, also with a split preface', async () => {
    const port = await start();
    const session = h2connect(`http://127.0.0.1:${port}`, { createConnection: () => trickle(port) });
    const body = await new Promise<string>((resolve, reject) => {
      const r = session.request({ ':path': '/h2' });
      let b = '';
      r.setEncoding('utf8').on('data', (c) => (b += c));
      r.on('end', () => resolve(b));
      r.on('error', reject);
    });
    expect(body).toBe('2.0 /h2');
    session.close();
  });

  it('closes idle keep-alive connections at once when draining, without waiting for the grace period', async () => {
    const port = await start();
    const s = connect(port, '127.0.0.1');
    s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => s.once('data', r));
    const closed = new Promise((r) => s.once('close', r));
    const t0 = Date.now();
    await server!.close(5000);
    await closed;
    expect(Date.now() - t0).toBeLessThan(1000);
    server = undefined;
  });
});
