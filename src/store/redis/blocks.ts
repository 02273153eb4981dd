import type { DetectionEngine } from '../../detect/engine.ts';
import type { IpKey } from '../../detect/ip-key.ts';
import { B_FLAGS, ROW_BYTES, U32_STRIDE } from '../../detect/ip-table.ts';
import type { RedisClient } from './client.ts';
import type { RedisKeys } from './keys.ts';

/** Row fields the store reads without a full decode. */
export const rowUntilSec = (row: Uint8Array): number => (row[4]! | (row[5]! << 8) | (row[6]! << 16) | (row[7]! << 24)) >>> 0;
export const rowFlags = (row: Uint8Array): number => row[U32_STRIDE * 4 + B_FLAGS]!;
export const rowBlockLevel = (row: Uint8Array): number => (rowFlags(row) >>> 4) & 3;

/**
 * Fans rows out to every replica: a new block (and a changed level) is published on one channel, and every
 * active block is also in a sorted set (score = untilSec * 4 + level) that a replica reads at start and after
 * its subscriber reconnects, so a message missed while disconnected is not a block missed.
 */
export class BlockChannel {
  received = 0;
  #subscribed = false;

  constructor(
    private readonly client: RedisClient,
    private readonly subscriber: RedisClient,
    private readonly keys: RedisKeys,
    private readonly engine: DetectionEngine,
    private readonly origin: string,
    private readonly nowMs: () => number,
  ) {
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === keys.channel) this.#onMessage(message);
    });
    // After a reconnect the subscription is restored by ioredis, but messages sent meanwhile are gone.
    subscriber.on('ready', () => {
      if (this.#subscribed) this.resync().catch(() => undefined);
    });
  }

  async start(): Promise<void> {
    await this.subscriber.subscribe(this.keys.channel);
    this.#subscribed = true;
    await this.resync();
  }

  /** Announces a row; `block` also records it in the block index. Fire-and-forget. */
  publish(key: IpKey, row: Uint8Array, block: boolean): Promise<unknown> {
    const msg = Buffer.concat([Buffer.from(`${this.origin}|${key}|`), row]);
    const ops: Promise<unknown>[] = [this.client.publish(this.keys.channel, msg)];
    const level = rowBlockLevel(row);
    if (block && level >= 2) {
      ops.push(this.client.zadd(this.keys.blocks, rowUntilSec(row) * 4 + level, String(key)));
      // The longest block the profile in force can give (a reload may change it).
      ops.push(this.client.expire(this.keys.blocks, Math.ceil(this.engine.thresholds.maxBlockMs / 1000) + 60));
    }
    return Promise.all(ops);
  }

  /** Loads every active block from the index; returns the keys it holds. */
  async resync(): Promise<Set<number>> {
    const nowSec = Math.floor(this.nowMs() / 1000);
    const flat = await this.client.zrangebyscore(this.keys.blocks, nowSec * 4 + 4, '+inf', 'WITHSCORES');
    const now = this.nowMs();
    const keys = new Set<number>();
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const key = Number(flat[i]);
      const score = Number(flat[i + 1]);
      if (!Number.isFinite(key) || !Number.isFinite(score)) continue;
      keys.add(key);
      this.engine.loadBlock(key, Math.floor(score / 4) * 1000, score % 4 === 3 ? 'HIGH' : 'MEDIUM', now);
    }
    return keys;
  }

  /** Drops ended blocks from the index (any replica may; it is idempotent). */
  trim(): Promise<unknown> {
    const nowSec = Math.floor(this.nowMs() / 1000);
    return this.client.zremrangebyscore(this.keys.blocks, '-inf', nowSec * 4 + 3);
  }

  #onMessage(message: Buffer): void {
    const a = message.indexOf(0x7c);
    const b = message.indexOf(0x7c, a + 1);
    if (a < 0 || b < 0 || message.length - b - 1 !== ROW_BYTES) return;
    if (message.toString('latin1', 0, a) === this.origin) return;
    const key = Number(message.toString('latin1', a + 1, b));
    if (!Number.isFinite(key)) return;
    this.received++;
    this.engine.loadRow(key, new Uint8Array(message.subarray(b + 1)), this.nowMs());
  }
}
