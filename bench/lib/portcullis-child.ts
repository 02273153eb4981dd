// Child process entry: Portcullis itself, wired exactly as `portcullis serve` wires it, on the config file
// named by PORTCULLIS_BENCH_CONFIG and the gRPC transport named by PORTCULLIS_BENCH_TRANSPORT (grpc-js by
// default). Events go nowhere and logs are silent so the run measures the request path.
import { pino } from 'pino';
import { startPortcullis } from '../../src/main.ts';
import { readSettings } from '../../src/settings.ts';
import { serveParent } from './child.ts';

const config = process.env.PORTCULLIS_BENCH_CONFIG;
if (!config) throw new Error('PORTCULLIS_BENCH_CONFIG is not set');
const transport = process.env.PORTCULLIS_BENCH_TRANSPORT ?? 'grpc-js';
const started = performance.now();
const running = await startPortcullis(
  readSettings({ config: [config], 'grpc-address': '127.0.0.1:0', 'http-address': '127.0.0.1:0', 'admin-address': '', events: 'none', 'log-level': 'silent', 'grpc-transport': transport }, {}),
  { events: { emit() {} }, logger: pino({ level: 'silent' }) },
);
const snapshot = running.holder.current;
if (!snapshot) throw new Error(`config ${config} was not accepted: ${JSON.stringify(running.reloader.lastReport?.issues ?? [])}`);
serveParent({}, { port: running.grpcPort, entries: snapshot.entryCount, startMs: Math.round(performance.now() - started) });
