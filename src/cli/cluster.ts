import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../clock.ts';
import { ClusterPrimary } from '../cluster/primary.ts';
import { UNIX_SOCKET_OWNER } from '../cluster/supervisor.ts';
import { ClusterWorker, processChannel } from '../cluster/worker.ts';
import { PortcullisError } from '../errors.ts';
import { startPortcullis } from '../main.ts';
import type { Settings } from '../settings.ts';
import { createLogger } from '../telemetry/logger.ts';

/** `serve --workers N` (N > 1) in the primary: start the primary's services, fork the workers, wait for a signal. */
export async function servePrimary(settings: Settings): Promise<number> {
  const logger = createLogger(settings.logLevel).child({ role: 'primary' });
  // Every worker hashes usernames with the same key, or the primary would count one account under N hashes.
  const env: Record<string, string> = settings.usernameKey ? {} : { PORTCULLIS_USERNAME_KEY: randomBytes(24).toString('base64url') };
  const primary = new ClusterPrimary({ workers: settings.workers, clock: systemClock, logger, env, stopTimeoutMs: settings.drainSeconds * 1000 + 5000 });
  const running = await startPortcullis(settings, { logger, cluster: primary.role });
  let ports;
  try {
    ports = await primary.start(running);
  } catch (err) {
    await primary.stop();
    await running.stop();
    throw new PortcullisError('WORKER_START', `${(err as Error).message}; its error is above`);
  }
  logger.info({ grpcPort: ports.grpcPort, unixSocket: settings.grpc.unixSocket, httpPort: running.httpPort, adminPort: running.adminPort, authzPort: ports.authzPort, syslogUdpPort: running.proxies.syslogUdpPort, syslogTcpPort: running.proxies.syslogTcpPort, workers: settings.workers, grpcToken: settings.grpcToken !== '' }, 'portcullis listening');
  await new Promise<void>((resolve) => {
    let signalled = false;
    const onSignal = (signal: string) => {
      if (signalled) {
        process.stderr.write(`portcullis: ${signal} again, closing now\n`);
        for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
        running.stop().then(resolve, resolve);
        return;
      }
      signalled = true;
      process.stderr.write(`portcullis: ${signal}, draining ${settings.workers} workers for ${settings.drainSeconds}s\n`);
      // Readiness turns false at once; the workers answer Checks through their own drain, then stop.
      Promise.all([running.drain(), primary.stop()]).then(() => running.stop()).then(resolve, resolve);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  return 0;
}

/** A cluster worker: serve Checks on the shared ports until the primary says drain, or goes away. */
export async function serveWorker(settings: Settings): Promise<number> {
  const id = cluster.worker?.id ?? 0;
  const logger = createLogger(settings.logLevel).child({ role: 'worker', worker: id });
  const worker = new ClusterWorker(processChannel());
  // Signals are the primary's to handle (a terminal's Ctrl-C reaches the whole process group).
  process.on('SIGTERM', () => undefined);
  process.on('SIGINT', () => undefined);
  let running;
  try {
    // One worker serves --grpc-socket (src/cluster/supervisor.ts, UNIX_SOCKET_OWNER says why).
    const own = process.env[UNIX_SOCKET_OWNER] === '1' ? settings : { ...settings, grpc: { host: settings.grpc.host, port: settings.grpc.port } };
    running = await startPortcullis(own, { logger, cluster: worker.role });
  } catch (err) {
    // The open channel would keep this process alive: the primary learns of the failure from the exit.
    letGo();
    throw err;
  }
  worker.attach(running);
  await worker.done;
  letGo();
  return 0;
}

/** Lets go of the channel so the process can end; a handle left open must not keep it alive past 2 s. */
function letGo(): void {
  if (process.connected) process.disconnect();
  setTimeout(() => process.exit(), 2000).unref();
}
