import { readFileSync } from 'node:fs';
import { CLIENT_IP_MODES, type ClientIpMode } from './decide/client-ip.ts';
import { FAILURE_MODES, type FailureMode } from './decide/decide.ts';
import { PortcullisError } from './errors.ts';

/** Process settings, read once from flags and environment (flags win) and frozen. */
export interface Settings {
  readonly configPaths: readonly string[];
  readonly grpc: { readonly host: string; readonly port: number; readonly unixSocket?: string };
  readonly http: { readonly host: string; readonly port: number };
  readonly clientIpMode: ClientIpMode;
  readonly maxHops: number;
  readonly failureMode: FailureMode;
  readonly logLevel: string;
  /** "stdout", "none", or a file path. */
  readonly events: string;
  readonly drainSeconds: number;
  /** Secret for username hashes; empty: random per process. */
  readonly usernameKey: string;
  /** Bearer token for the outcome endpoint; empty: off. */
  readonly outcomeToken: string;
  readonly maxTrackedIps: number;
}

/** One row per setting: flag, environment variable, default, help. The CLI help and docs are built from it. */
export const SETTING_FLAGS = {
  config: { env: 'PORTCULLIS_CONFIG', default: '', help: 'Config file or folder; repeat the flag (or separate with "," in the variable).', multiple: true },
  'grpc-address': { env: 'PORTCULLIS_GRPC_ADDRESS', default: '0.0.0.0:9001', help: 'host:port for ext_authz and health gRPC.' },
  'grpc-socket': { env: 'PORTCULLIS_GRPC_SOCKET', default: '', help: 'Also listen on this Unix domain socket path.' },
  'http-address': { env: 'PORTCULLIS_HTTP_ADDRESS', default: '0.0.0.0:9090', help: 'host:port for /metrics, /healthz, /readyz and admin endpoints.' },
  'client-ip-mode': { env: 'PORTCULLIS_CLIENT_IP_MODE', default: 'xff', help: `Forwarding header to walk: ${CLIENT_IP_MODES.join(' | ')}.` },
  'max-hops': { env: 'PORTCULLIS_MAX_HOPS', default: '10', help: 'Most addresses examined in a forwarding chain, counting the peer.' },
  'failure-mode': { env: 'PORTCULLIS_FAILURE_MODE', default: 'allow', help: `Answer when a check cannot be decided: ${FAILURE_MODES.join(' | ')}.` },
  'log-level': { env: 'PORTCULLIS_LOG_LEVEL', default: 'info', help: 'trace | debug | info | warn | error | silent.' },
  events: { env: 'PORTCULLIS_EVENTS', default: 'stdout', help: 'Where security events go: stdout | none | a file path.' },
  'drain-seconds': { env: 'PORTCULLIS_DRAIN_SECONDS', default: '10', help: 'On SIGTERM, how long in-flight checks may take to finish.' },
  'username-key': { env: 'PORTCULLIS_USERNAME_KEY', default: '', help: 'Secret for hashing usernames (>= 16 chars, or file:<path>). Unset: random per process (not shared between replicas or restarts).' },
  'outcome-token': { env: 'PORTCULLIS_OUTCOME_TOKEN', default: '', help: 'Bearer token for POST /v1/outcomes on the HTTP address (or file:<path>). Unset: the endpoint is off.' },
  'max-tracked-ips': { env: 'PORTCULLIS_MAX_TRACKED_IPS', default: '1000000', help: 'Cap on client IPs tracked by the detectors; the least risky are evicted beyond it.' },
} as const;

export type SettingFlag = keyof typeof SETTING_FLAGS;

export function parseHostPort(flag: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new PortcullisError('USAGE', `--${flag}: expected host:port (e.g. 0.0.0.0:9001 or [::]:9001), got ${JSON.stringify(value)}`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new PortcullisError('USAGE', `--${flag}: must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new PortcullisError('USAGE', `--${flag}: must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** A secret given inline or as file:<path> (a mounted Secret). Too short a secret is refused, not weakened. */
function secretValue(flag: string, value: string, minLength: number): string {
  if (value === '') return '';
  let secret = value;
  if (value.startsWith('file:')) {
    try {
      secret = readFileSync(value.slice(5), 'utf8').trim();
    } catch (err) {
      throw new PortcullisError('USAGE', `--${flag}: cannot read ${value.slice(5)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  if (secret.length < minLength) throw new PortcullisError('USAGE', `--${flag}: must be at least ${minLength} characters`);
  return secret;
}

/** parseArgs options for the settings flags (shared by serve and explain). */
export function settingsParseOptions() {
  const options: Record<string, { type: 'string'; multiple?: boolean }> = {};
  for (const [flag, spec] of Object.entries(SETTING_FLAGS)) options[flag] = { type: 'string', ...('multiple' in spec ? { multiple: true } : {}) };
  return options;
}

export function readSettings(values: Record<string, string | string[] | boolean | undefined>, env: NodeJS.ProcessEnv): Settings {
  const get = (flag: SettingFlag): string => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    return env[SETTING_FLAGS[flag].env] ?? SETTING_FLAGS[flag].default;
  };
  const flagConfig = values.config;
  const configPaths = Array.isArray(flagConfig) && flagConfig.length > 0
    ? flagConfig
    : (env.PORTCULLIS_CONFIG ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const grpc = parseHostPort('grpc-address', get('grpc-address'));
  const socket = get('grpc-socket');
  return Object.freeze({
    configPaths: Object.freeze([...configPaths]),
    grpc: Object.freeze(socket ? { ...grpc, unixSocket: socket } : grpc),
    http: Object.freeze(parseHostPort('http-address', get('http-address'))),
    clientIpMode: oneOf('client-ip-mode', get('client-ip-mode'), CLIENT_IP_MODES),
    maxHops: positiveInt('max-hops', get('max-hops')),
    failureMode: oneOf('failure-mode', get('failure-mode'), FAILURE_MODES),
    logLevel: oneOf('log-level', get('log-level'), ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    events: get('events'),
    drainSeconds: positiveInt('drain-seconds', get('drain-seconds')),
    usernameKey: secretValue('username-key', get('username-key'), 16),
    outcomeToken: secretValue('outcome-token', get('outcome-token'), 16),
    maxTrackedIps: positiveInt('max-tracked-ips', get('max-tracked-ips')),
  });
}
