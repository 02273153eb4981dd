import type { SignalEvent } from '../store.ts';
import type { RedisClient } from './client.ts';
import type { RedisKeys } from './keys.ts';

/**
 * Account signals (familiar sources, accounts under attack, spray passwords, distinct wrong passwords) shared by
 * sharing their inputs: every replica appends the events it learns to one capped stream (`XADD MAXLEN ~`, with a
 * TTL) and publishes them; every replica applies every other replica's events to its own detectors with the same
 * rules, so a spray password failing through replica A marks the sources that carry it on replica B too. A
 * replica starting reads the stream first (the familiar networks of the last `maxEvents` events survive a
 * restart), then follows the channel. Bounded: the stream holds about `maxEvents` entries of ~40 bytes.
 */
export class SignalChannel {
  received = 0;
  #listener: ((e: SignalEvent) => void) | undefined;
  /** Events that came before a listener did (the stream read at start): handed over when one is set. */
  #backlog: SignalEvent[] = [];

  constructor(
    private readonly client: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly keys: RedisKeys,
    private readonly origin: string,
    private readonly maxEvents: number,
    private readonly ttlMs: () => number,
  ) {
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === keys.signalChannel) this.#onMessage(message.toString('latin1'));
    });
  }

  setListener(fn: (e: SignalEvent) => void): void {
    this.#listener = fn;
    const backlog = this.#backlog;
    this.#backlog = [];
    for (const e of backlog) fn(e);
  }

  /** Subscribes, then replays the stream (oldest first). Events published meanwhile may arrive twice: harmless. */
  async start(): Promise<void> {
    await this.subscriber.subscribe(this.keys.signalChannel);
    const entries = (await this.client.xrange(this.keys.signalLog, '-', '+', 'COUNT', this.maxEvents)) as [string, string[]][];
    for (const [, fields] of entries) if (fields[1] !== undefined) this.#deliver(fields[1], false);
  }

  /** Appends and publishes one event. Fire-and-forget: the caller tracks the promise. */
  share(e: SignalEvent): Promise<unknown> {
    const text = `${this.origin}|${encode(e)}`;
    return this.client.pipeline()
      .xadd(this.keys.signalLog, 'MAXLEN', '~', this.maxEvents, '*', 'e', text)
      .pexpire(this.keys.signalLog, this.ttlMs())
      .publish(this.keys.signalChannel, text)
      .exec();
  }

  #onMessage(text: string): void {
    this.#deliver(text, true);
  }

  #deliver(text: string, live: boolean): void {
    const bar = text.indexOf('|');
    if (bar < 0 || (live && text.slice(0, bar) === this.origin)) return;
    const e = decode(text.slice(bar + 1));
    if (!e) return;
    this.received++;
    if (this.#listener) this.#listener(e);
    else if (this.#backlog.length < this.maxEvents) this.#backlog.push(e);
  }
}

/** "s,account,net,atMs" or "f,account,net,fingerprint,source,atMs": numbers in base 36. */
function encode(e: SignalEvent): string {
  const n = (v: number): string => v.toString(36);
  return e.kind === 'success' ? `s,${n(e.account)},${n(e.net)},${n(e.atMs)}` : `f,${n(e.account)},${n(e.net)},${n(e.fingerprint)},${n(e.source)},${n(e.atMs)}`;
}

function decode(text: string): SignalEvent | undefined {
  const p = text.split(',');
  const v = p.slice(1).map((x) => parseInt(x, 36));
  if (v.some((x) => !Number.isFinite(x))) return undefined;
  if (p[0] === 's' && v.length === 3) return { kind: 'success', account: v[0]!, net: v[1]!, atMs: v[2]! };
  if (p[0] === 'f' && v.length === 5) return { kind: 'failure', account: v[0]!, net: v[1]!, fingerprint: v[2]!, source: v[3]!, atMs: v[4]! };
  return undefined;
}
