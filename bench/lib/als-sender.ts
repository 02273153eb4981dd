// Envoy's http_grpc access logger as a bench client, in its own process: a grpc-js client stream writing
// StreamAccessLogsMessages serialized before the run (so the run moves bytes only), honouring write backpressure.
import { pathToFileURL } from 'node:url';
import { alsMessages, streamAccessLogs, type AlsPlan } from '../../test/helpers/als-messages.ts';
import { forkTs, serveParent } from './child.ts';

export type { AlsPlan };

export interface AlsSendResult {
  readonly entries: number;
  readonly messages: number;
  readonly bytes: number;
  /** From the first write to the server's answer (it answers once the last entry is learned). */
  readonly wallMs: number;
}

let prepared: Buffer[] = [];
let preparedEntries = 0;

export interface AlsSender {
  /** Serializes the messages (outside any measurement). */
  prepare(plan: AlsPlan): Promise<void>;
  /** Streams them all on one call and waits for the answer. */
  send(target: string): Promise<AlsSendResult>;
  /** CPU the sender process has used, ms. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

export async function startAlsSender(): Promise<AlsSender> {
  const { child } = await forkTs<object>('bench/lib/als-sender.ts');
  return {
    prepare: async (plan) => void (await child.call('prepare', plan)),
    send: (target) => child.call<AlsSendResult>('send', target),
    cpuMs: () => child.cpuMs(),
    stop: () => child.stop(),
  };
}

if (process.send && process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  serveParent({
    prepare: (plan) => {
      prepared = alsMessages(plan as AlsPlan);
      preparedEntries = (plan as AlsPlan).entries;
      return prepared.length;
    },
    send: async (target): Promise<AlsSendResult> => {
      const { wallMs } = await streamAccessLogs(target as string, prepared);
      return { entries: preparedEntries, messages: prepared.length, bytes: prepared.reduce((n, m) => n + m.length, 0), wallMs };
    },
  }, {});
}
