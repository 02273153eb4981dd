import { describe, expect, it } from 'vitest';
import { SyslogFramer, type FrameProblem } from '../../../src/adapters/syslog/framer.ts';
import { TokenBucket } from '../../../src/adapters/syslog/token-bucket.ts';

function framer(max = 64) {
  const frames: string[] = [];
  const problems: FrameProblem[] = [];
  const f = new SyslogFramer(max, (b) => frames.push(b.toString()), (p) => problems.push(p));
  return { f, frames, problems };
}

const octet = (msg: string) => `${Buffer.byteLength(msg)} ${msg}`;

describe('syslog TCP framing (RFC 6587)', () => {
  it('splits LF-framed and octet-counted messages, mixed, across arbitrary chunk boundaries', () => {
    const stream = Buffer.from(`<13>a\n<13>b\r\n${octet('<13>c with\nnewline')}${octet('<13>d')}<13>e\n`);
    for (let cut = 1; cut < stream.length; cut++) {
      const { f, frames, problems } = framer();
      expect(f.push(stream.subarray(0, cut))).toBe(true);
      expect(f.push(stream.subarray(cut))).toBe(true);
      expect(frames, `cut at ${cut}`).toEqual(['<13>a', '<13>b', '<13>c with\nnewline', '<13>d', '<13>e']);
      expect(problems).toEqual([]);
    }
  });

  it('skips an oversize octet-counted frame without buffering it, then resyncs', () => {
    const { f, frames, problems } = framer(16);
    const big = 'x'.repeat(10_000);
    const stream = Buffer.from(`${octet(big)}${octet('<13>ok')}`);
    for (let i = 0; i < stream.length; i += 1000) expect(f.push(stream.subarray(i, i + 1000))).toBe(true);
    expect(frames).toEqual(['<13>ok']);
    expect(problems).toEqual(['oversize']);
  });

  it('drops an oversize LF-framed frame up to its newline and keeps going', () => {
    const { f, frames, problems } = framer(16);
    f.push(Buffer.from(`<13>${'y'.repeat(40)}`));
    f.push(Buffer.from('y'.repeat(40)));
    f.push(Buffer.from('tail\n<13>ok\n'));
    expect(frames).toEqual(['<13>ok']);
    expect(problems).toEqual(['oversize']);
  });

  it('gives up on a broken length prefix (no way to resync)', () => {
    const { f, problems } = framer();
    expect(f.push(Buffer.from('12345678 x'))).toBe(false);
    expect(framer().f.push(Buffer.from('12x'))).toBe(false);
    expect(problems).toEqual(['malformed']);
  });
});

describe('token bucket', () => {
  it('allows a burst of one second, then the rate', () => {
    const b = new TokenBucket(10, 0);
    let ok = 0;
    for (let i = 0; i < 50; i++) if (b.take(0)) ok++;
    expect(ok).toBe(10);
    expect(b.take(50)).toBe(false); // half a token
    expect(b.take(100)).toBe(true);
    let later = 0;
    for (let i = 0; i < 50; i++) if (b.take(10_000)) later++;
    expect(later).toBe(10);
  });
});
