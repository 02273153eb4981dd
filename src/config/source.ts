import type { ConfigIssue, ConfigObject } from '../api/objects.ts';
import type { ZoneIndexParts } from './compile.ts';

/** One whole delivery from a config source: the objects, or the problems that stopped them being read. */
export interface SourceBatch {
  readonly objects: readonly ConfigObject[];
  readonly issues: readonly ConfigIssue[];
  /** The zone index, already compiled without issues from exactly these objects off the event loop (files: a worker thread). */
  readonly zones?: ZoneIndexParts;
}

/** Where config objects come from (a provider). Files and Kubernetes both deliver whole batches to the same compile step. */
export interface ConfigSource {
  /** Delivers the first batch before resolving, then one batch per change. */
  start(onBatch: (batch: SourceBatch) => void): Promise<void>;
  stop(): void;
}
