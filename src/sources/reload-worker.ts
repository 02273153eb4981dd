// Worker-thread side of an off-thread file reload (off-thread.ts starts it): read and parse the files, validate,
// and compile the zone index, then post the objects and the index back (the index's typed arrays transferred,
// not copied). The main thread only assembles the snapshot and swaps it. The thread ends after one reload, so
// the garbage of a large parse (hundreds of MB for 100k YAML lines) leaves with it.
import { parentPort, workerData } from 'node:worker_threads';
import { compile, zoneIndexParts } from '../config/compile.ts';
import { RangeIndex } from '../net/range-index.ts';
import type { ConfigObject } from '../api/objects.ts';
import type { SourceBatch } from '../config/source.ts';
import { loadPaths } from './files.ts';
import { lowerThreadPriority } from './thread-priority.ts';

/** An IPZone without its entry lists (their counts stay in the index's zone summaries). */
function withoutZoneEntries(o: ConfigObject): ConfigObject {
  if (o.kind !== 'IPZone') return o;
  const { gateways: _g, proxies: _p, ...spec } = o.spec;
  return { ...o, spec };
}

lowerThreadPriority(); // a reload is no hurry: the Check thread keeps the core
const { paths } = workerData as { paths: readonly string[] };
const batch = loadPaths(paths);
let reply: SourceBatch = batch;
if (batch.issues.length === 0) {
  const compiled = compile(batch.objects, 0, 0);
  // With issues the main thread compiles again and reports them as usual (a rejected reload is no hurry).
  // The zones' entries are in the index now; posting them too would make the main thread deserialize them
  // (~16-21 ms for 100k CIDRs, a stall every Check would wait behind) and keep them alive in the snapshot.
  if (compiled.issues.length === 0) reply = { ...batch, objects: batch.objects.map(withoutZoneEntries), zones: zoneIndexParts(compiled) };
}
parentPort!.postMessage(reply, reply.zones ? RangeIndex.transferList(reply.zones.index) : []);
