// Child process for micro-benchmarks that allocate large tables (bench/evict-micro.ts, bench/correlator-memory.ts):
// their own process, so their arrays and RSS cannot disturb the other figures.
import { serveParent } from './child.ts';
import { runEvictMicro } from '../evict-micro.ts';

serveParent({
  evict: (opts) => runEvictMicro(opts as Parameters<typeof runEvictMicro>[0]),
}, {});
