// Child process entry for bench/detect-memory.ts (written separately): its own process so its large typed
// arrays cannot disturb the other figures, with --expose-gc so its RSS numbers are stable. Imported
// dynamically: when the module is absent or broken the run reports a note instead of failing.
import { serveParent } from './child.ts';

type Runner = (opts: { ipv4?: number; ipv6?: number; cap?: number }) => Promise<Record<string, number>>;

serveParent({
  run: async (opts) => {
    const specifier = '../detect-memory.ts'; // a variable, so type-checking does not depend on the file
    const mod = (await import(specifier)) as { runDetectMemory?: Runner };
    if (typeof mod.runDetectMemory !== 'function') throw new Error('bench/detect-memory.ts has no runDetectMemory()');
    return mod.runDetectMemory(opts as Parameters<Runner>[0]);
  },
}, {});
