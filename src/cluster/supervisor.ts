import cluster, { type Worker } from 'node:cluster';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { backoffDelay } from '../backoff.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { WorkerPort } from './hub.ts';
import { isWorkerMessage, type WorkerMessage } from './messages.ts';

/**
 * Set for the one worker that also listens on --grpc-socket. The gRPC listeners remove a stale socket file
 * before binding, so a second worker binding the shared path would delete the file the first one's listener
 * is reached by; until they skip that in a cluster worker, one worker serves the Unix socket (and its
 * replacement takes it over), every worker serves TCP.
 */
export const UNIX_SOCKET_OWNER = 'PORTCULLIS_CLUSTER_UNIX_SOCKET_OWNER';

export type WorkerMetrics = ReadonlyArray<MetricObjectWithValues<MetricValue<string>>>;

export interface SupervisorOptions {
  readonly workers: number;
  readonly logger: Logger;
  /** Extra environment for every worker (the generated username key when none was set). */
  readonly env?: Readonly<Record<string, string>>;
  /** How long workers may take to drain and stop on shutdown before they are killed. */
  readonly stopTimeoutMs: number;
  /** Restarts allowed within `restartWindowMs` before each further one waits (backoff up to 30 s). */
  readonly maxRestarts?: number;
  readonly restartWindowMs?: number;
  onMessage(m: WorkerMessage): void;
  onServing(port: WorkerPort): void;
  onGone(id: number): void;
}

export interface ServingPorts {
  readonly grpcPort: number;
  readonly authzPort: number | undefined;
}

/**
 * Forks the workers (node:cluster, round-robin: the primary accepts and hands each whole connection to one
 * worker, so an HTTP/2 connection and all its streams stay on one worker), restarts any that die (bounded),
 * and drains them on shutdown. The primary itself never serves a Check.
 */
export class Supervisor {
  /** Workers restarted after dying (not counting shutdown). */
  restarts = 0;
  readonly #o: SupervisorOptions;
  readonly #serving = new Set<number>();
  readonly #live = new Map<number, Worker>();
  readonly #recent: number[] = [];
  readonly #metricWaits = new Map<number, { readonly want: Set<number>; readonly got: WorkerMetrics[]; readonly done: () => void }>();
  #nextId = 1;
  /** The worker that listens on the Unix socket (see UNIX_SOCKET_OWNER). */
  #socketOwner: number | undefined;
  #stopping = false;
  #ports: ServingPorts | undefined;
  readonly #restartTimers = new Set<NodeJS.Timeout>();

  constructor(options: SupervisorOptions) {
    this.#o = options;
  }

  get serving(): number {
    return this.#serving.size;
  }

  get size(): number {
    return this.#o.workers;
  }

  /** Forks every worker; resolves when all serve, rejects when one exits first (its error is on stderr). */
  start(): Promise<ServingPorts> {
    cluster.schedulingPolicy = cluster.SCHED_RR;
    // Typed arrays cross the channel as bytes, not as JSON objects keyed by index.
    cluster.setupPrimary({ serialization: 'advanced' });
    return new Promise<ServingPorts>((resolve, reject) => {
      let pending = this.#o.workers;
      for (let i = 0; i < this.#o.workers; i++) {
        this.#fork({
          serving: (ports) => {
            this.#ports ??= ports;
            if (--pending === 0) resolve(this.#ports);
          },
          failed: (why) => reject(new Error(why)),
        });
      }
    });
  }

  /** Every serving worker's metrics as JSON (the ones answering within timeoutMs). */
  collectMetrics(timeoutMs: number): Promise<WorkerMetrics[]> {
    const id = this.#nextId++;
    const want = new Set(this.#serving);
    const got: WorkerMetrics[] = [];
    if (want.size === 0) return Promise.resolve(got);
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.#metricWaits.delete(id);
        resolve(got);
      };
      const timer = setTimeout(finish, timeoutMs);
      this.#metricWaits.set(id, { want, got, done: finish });
      for (const wid of want) this.#live.get(wid)?.send({ t: 'metrics', id });
    });
  }

  /** Drains and stops every worker (they answer Checks during their drain); kills what is left after the timeout. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const t of this.#restartTimers) clearTimeout(t);
    const exits = [...this.#live.values()].map((w) => new Promise<void>((resolve) => {
      if (w.isDead()) return resolve();
      w.once('exit', () => resolve());
      if (w.isConnected()) w.send({ t: 'drain' });
      else w.process.kill('SIGTERM');
    }));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.#o.stopTimeoutMs);
    });
    if (await Promise.race([Promise.all(exits), timedOut]) === 'timeout') {
      for (const w of this.#live.values()) {
        if (!w.isDead()) {
          this.#o.logger.warn({ worker: w.id, pid: w.process.pid }, 'worker did not stop in time: killed');
          w.process.kill('SIGKILL');
        }
      }
      await Promise.all(exits);
    }
    clearTimeout(timer);
  }

  #fork(startup?: { serving: (p: ServingPorts) => void; failed: (why: string) => void }): void {
    const owns = this.#socketOwner === undefined;
    const w = cluster.fork({ ...this.#o.env, ...(owns ? { [UNIX_SOCKET_OWNER]: '1' } : {}) });
    if (owns) this.#socketOwner = w.id;
    this.#live.set(w.id, w);
    const log = this.#o.logger;
    let up = false;
    w.on('message', (m: unknown) => {
      if (!isWorkerMessage(m)) return;
      if (m.t === 'ready') {
        up = true;
        this.#serving.add(w.id);
        log.info({ worker: w.id, pid: w.process.pid }, 'worker serving');
        this.#o.onServing({ id: w.id, get connected() { return w.isConnected(); }, send: (msg, done) => w.send(msg, undefined, done) });
        startup?.serving({ grpcPort: m.grpcPort, authzPort: m.authzPort });
      } else if (m.t === 'metrics') {
        const wait = this.#metricWaits.get(m.id);
        if (wait && wait.want.delete(w.id)) {
          wait.got.push(Array.isArray(m.metrics) ? m.metrics : []);
          if (wait.want.size === 0) wait.done();
        }
      } else if (m.t !== 'stopped') this.#o.onMessage(m);
    });
    w.on('exit', (code, signal) => {
      this.#live.delete(w.id);
      if (this.#socketOwner === w.id) this.#socketOwner = undefined;
      this.#serving.delete(w.id);
      this.#o.onGone(w.id);
      for (const wait of this.#metricWaits.values()) if (wait.want.delete(w.id) && wait.want.size === 0) wait.done();
      if (this.#stopping) return log.info({ worker: w.id, code, signal }, 'worker stopped');
      if (!up && startup) return startup.failed(`worker ${w.id} exited (${signal ?? `code ${code}`}) before it was serving`);
      log.warn({ worker: w.id, pid: w.process.pid, code, signal }, 'worker died; starting another');
      this.#restart();
    });
  }

  /** A replacement at once, unless maxRestarts happened within the window: then after a growing delay. */
  #restart(): void {
    const now = Date.now();
    const window = this.#o.restartWindowMs ?? 60_000;
    while (this.#recent.length > 0 && now - this.#recent[0]! > window) this.#recent.shift();
    const over = this.#recent.length - (this.#o.maxRestarts ?? 5);
    const delay = over < 0 ? 0 : backoffDelay(over, 1000, 30_000);
    this.#recent.push(now);
    this.restarts++;
    if (delay > 0) this.#o.logger.warn({ delayMs: Math.round(delay), restartsInWindow: this.#recent.length }, 'workers keep dying: waiting before the next restart');
    if (delay === 0) return this.#fork();
    const t = setTimeout(() => {
      this.#restartTimers.delete(t);
      if (!this.#stopping) this.#fork();
    }, delay);
    this.#restartTimers.add(t);
  }
}
