// Child process entry: Portcullis itself, wired exactly as `portcullis serve` wires it, on the config file
// named by PORTCULLIS_BENCH_CONFIG and the gRPC transport named by PORTCULLIS_BENCH_TRANSPORT (grpc-js by
// default). PORTCULLIS_BENCH_SOURCE=loop reads the files on the event loop instead of a worker thread (the
// reload benchmark's baseline). Events go nowhere and logs are silent so the run measures the request path.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { startPortcullis } from '../../src/main.ts';
import { readSettings } from '../../src/settings.ts';
import { FileSource } from '../../src/sources/files.ts';
import { serveParent } from './child.ts';

const config = process.env.PORTCULLIS_BENCH_CONFIG;
if (!config) throw new Error('PORTCULLIS_BENCH_CONFIG is not set');
const transport = process.env.PORTCULLIS_BENCH_TRANSPORT ?? 'grpc-js';
const onLoop = process.env.PORTCULLIS_BENCH_SOURCE === 'loop';
const started = performance.now();
const running = await startPortcullis(
  readSettings({ config: [config], 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '', events: 'none', 'log-level': 'silent', 'grpc-transport': transport }, {}),
  { events: { emit() {} }, logger: pino({ level: 'silent' }), ...(onLoop ? { source: new FileSource([config]) } : {}) },
);
const snapshot = running.holder.current;
if (!snapshot) throw new Error(`config ${config} was not accepted: ${JSON.stringify(running.reloader.lastReport?.issues ?? [])}`);
// A 1 ms timer in the server's loop: only where a benchmark reads it (the reload one). The load benchmark's
// baselines run no such timer, so neither does Portcullis there.
const delay = monitorEventLoopDelay({ resolution: 1 });
if (process.env.PORTCULLIS_BENCH_LOOP_DELAY === '1') delay.enable();
serveParent({
  /** Version of the snapshot in force, and the main thread's time in the last reload (compile + swap), ms. */
  config: () => ({ version: running.holder.current?.version, accepted: running.reloader.lastReport?.accepted, compileMs: running.reloader.lastReport?.compileMs }),
  /** The longest event-loop delay since the last call, ms (with PORTCULLIS_BENCH_LOOP_DELAY=1). */
  loopDelayMax: () => {
    const max = delay.max / 1e6;
    delay.reset();
    return Math.round(max * 10) / 10;
  },
}, { port: running.grpcPort, entries: snapshot.entryCount, startMs: Math.round(performance.now() - started) });
