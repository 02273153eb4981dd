import { describe, expect, it } from 'vitest';
import { networkKey } from '../../src/detect/ip-key.ts';
import { DEFAULT_THRESHOLDS } from '../../src/detect/thresholds.ts';
import { isolated, MIN, SEC, setup, v4 } from './helpers.ts';

const net24 = (c: number) => networkKey(4, ((198 << 24) | (18 << 16) | (c << 8)) >>> 0, 0, 0, 0);
const thresholds = isolated({ network: DEFAULT_THRESHOLDS.network });

describe('network aggregates (/24, /48)', () => {
  it('keys IPv4 per /24, IPv4-mapped IPv6 as IPv4, IPv6 per /48', () => {
    expect(networkKey(4, 0xc6120507, 0, 0, 0)).toBe(networkKey(4, 0xc61205ff, 0, 0, 0));
    expect(networkKey(4, 0xc6120507, 0, 0, 0)).not.toBe(networkKey(4, 0xc6120607, 0, 0, 0));
    expect(networkKey(6, 0, 0, 0xffff, 0xc6120507)).toBe(networkKey(4, 0xc6120507, 0, 0, 0));
    const a = networkKey(6, 0x20010db8, 0x00010000, 1, 2);
    expect(networkKey(6, 0x20010db8, 0x0001ffff, 9, 9)).toBe(a); // same /48, other /64
    expect(networkKey(6, 0x20010db8, 0x00020000, 1, 2)).not.toBe(a);
    expect(a).toBeGreaterThanOrEqual(2 ** 52);
  });

  it('one failure each from many IPs of one /24 makes it MEDIUM, then HIGH; one IP alone never does', () => {
    const { engine, clock } = setup({ thresholds, blocking: true });
    const net = net24(5);
    for (let i = 1; i <= 20; i++) {
      engine.recordOutcome(v4(198, 18, 5, i), 'failure', { netKey: net });
      clock.advance(SEC);
      if (i === 9) expect(engine.networkLevel(net, v4(198, 18, 5, 200))).toBe('LOW');
      if (i === 10) expect(engine.networkLevel(net, v4(198, 18, 5, 200))).toBe('MEDIUM');
    }
    expect(engine.networkLevel(net, v4(198, 18, 5, 200))).toBe('HIGH');
    expect(engine.evaluate(v4(198, 18, 5, 1)).level).toBe('NONE'); // no single IP did anything
    // An IP of that network seen to succeed is not refused for its neighbours.
    engine.recordOutcome(v4(198, 18, 5, 99), 'success', { netKey: net });
    expect(engine.networkLevel(net, v4(198, 18, 5, 99))).toBe('NONE');
    // Another /24 is untouched; the window forgets.
    expect(engine.networkLevel(net24(6), v4(198, 18, 6, 1))).toBe('NONE');
    clock.advance(20 * MIN);
    expect(engine.networkLevel(net, v4(198, 18, 5, 200))).toBe('NONE');

    const solo = setup({ thresholds });
    for (let i = 0; i < 40; i++) solo.engine.recordOutcome(v4(198, 18, 7, 1), 'failure', { netKey: net24(7) });
    expect(solo.engine.networkLevel(net24(7), v4(198, 18, 7, 2))).toBe('NONE'); // one IP: the per-IP detectors' job
  });

  it('a busy network that mostly succeeds is damped by success tolerance', () => {
    const { engine, clock } = setup({ thresholds });
    const net = net24(9);
    for (let i = 1; i <= 60; i++) {
      engine.recordOutcome(v4(198, 18, 9, i), i % 5 === 0 ? 'failure' : 'success', { netKey: net });
      clock.advance(5 * SEC);
    }
    expect(engine.networkCounts(net)!.failures).toBe(12);
    expect(engine.networkLevel(net, v4(198, 18, 9, 250))).toBe('NONE'); // HIGH would need 20; MEDIUM - 2 levels
  });

  it('stays within its cap', () => {
    const { engine } = setup({ thresholds: { ...thresholds, maxTrackedNetworks: 64 } });
    for (let c = 0; c < 1000; c++) engine.recordOutcome(v4(10, c >> 8, c & 255, 1), 'failure', { netKey: networkKey(4, ((10 << 24) | (c << 8)) >>> 0, 0, 0, 0) });
    expect(engine.trackedNetworkCount).toBe(64);
  });
});
