import { formatIpKey, type IpKey } from '../../detect/ip-key.ts';

/**
 * The key layout (docs/redis.md). Every key of one client IP carries the same hash tag `{<ip>}` so a Lua
 * script touching them runs on one Cluster slot; the org keys share `{org}`, the block index `{blocks}`.
 * The prefix lets several clusters or policies share one Redis.
 */
export class RedisKeys {
  readonly blocks: string;
  readonly channel: string;
  readonly orgState: string;
  /** Account-signal events: a capped stream and the channel they are published on. */
  readonly signalLog: string;
  readonly signalChannel: string;

  constructor(readonly prefix: string) {
    this.blocks = `${prefix}{blocks}:active`;
    this.channel = `${prefix}blocks`;
    this.orgState = `${prefix}{org}:state`;
    this.signalLog = `${prefix}{signals}:log`;
    this.signalChannel = `${prefix}signals`;
  }

  /** The client's counters, block and offences: a 46-byte string (the engine's row). */
  row(key: IpKey): string {
    return `${this.prefix}{${formatIpKey(key)}}:r`;
  }

  /** Failures per username hash since its last success: a hash, field = username hash. */
  pairs(key: IpKey): string {
    return `${this.prefix}{${formatIpKey(key)}}:p`;
  }

  orgBucket(idx: number): string {
    return `${this.prefix}{org}:b:${idx}`;
  }

  orgSketch(idx: number): string {
    return `${this.prefix}{org}:i:${idx}`;
  }
}
