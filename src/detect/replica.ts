import type { IpKey } from './ip-key.ts';

/**
 * A compare-and-set on one key's block: `expect*` are the block fields now, `until*`/`flags` the new ones
 * (flags never include local bookkeeping).
 */
export interface BlockPlan {
  readonly expectUntilSec: number;
  readonly expectFlags: number;
  readonly untilSec: number;
  readonly flags: number;
}

/**
 * The surface a shared store (src/store/redis) needs to keep an engine's local view in step with other
 * replicas: rows in the shared format (ip-table.ts ROW_BYTES) in and out, and the block decision as a plan
 * the store applies atomically. The Check and outcome paths never see it: DetectorStore exposes the engine
 * as a Detector, which omits these methods.
 */
export interface ReplicatedRows {
  /** End of the key's stored block in seconds (active or not, blocking on or off); 0 when untracked. */
  blockUntilSec(key: IpKey): number;
  /** A tracked key's row in the shared-store format, or undefined. */
  exportRow(key: IpKey): Uint8Array | undefined;
  /** Replaces a key's row with the shared copy; a longer active local block is kept (never shortened). */
  loadRow(key: IpKey, row: Uint8Array, nowMs?: number): void;
  /** Failures of one (IP, username) pair as the shared store holds them (0: reset by a success). */
  loadAccountFailures(key: IpKey, usernameHash: number, failures: number, nowSec: number): void;
  /** An active block learnt from a block index (no counters); never shortens a longer local block. */
  loadBlock(key: IpKey, untilMs: number, level: 'MEDIUM' | 'HIGH', nowMs?: number): void;
  /** The block the key's current level calls for; undefined when none is due. */
  planBlock(key: IpKey, nowMs?: number): BlockPlan | undefined;
  /** Every key with an active block (a full scan: reconciling after an outage). */
  forEachActiveBlock(fn: (key: IpKey, row: Uint8Array) => void, nowMs?: number): void;
}
