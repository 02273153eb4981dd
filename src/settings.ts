import { readFileSync } from 'node:fs';
import { CLIENT_IP_MODES, type ClientIpMode } from './decide/client-ip.ts';
import { FAILURE_MODES, type FailureMode } from './decide/decide.ts';
import { PortcullisError } from './errors.ts';
import { readStoreSettings, STORE_SETTING_FLAGS, type StoreSettings } from './store/settings.ts';
import { CLIENT_HEADERS, type ClientHeader } from './adapters/http/original-request.ts';
import type { GrpcLimits } from './adapters/grpc/server.ts';
import type { HttpLimits } from './adapters/http/limits.ts';
import { cpuLimit } from './cluster/cpu-limit.ts';

/** Process settings, read once from flags and environment (flags win) and frozen. */
import type { KubernetesSettings } from './sources/kubernetes/wiring.ts';
import type { ProxyListenerSettings } from './adapters/http/proxy-listeners.ts';

export type { KubernetesSettings };

export interface Settings extends ProxyListenerSettings {
  readonly configPaths: readonly string[];
  readonly grpc: { readonly host: string; readonly port: number; readonly unixSocket?: string };
  /** Which gRPC implementation serves Check, health and ALS: node:http2 (src/adapters/grpc/h2/) or grpc-js. */
  readonly grpcTransport: GrpcTransport;
  readonly http: { readonly host: string; readonly port: number };
  /** Bearer token Check and StreamAccessLogs calls must carry; empty: none (loopback only). */
  readonly grpcToken: string;
  readonly grpcLimits: GrpcLimits;
  /** /admin/* listener; undefined: off. */
  readonly admin: { readonly host: string; readonly port: number } | undefined;
  /** Bearer token for /admin/*; empty: none (loopback only). */
  readonly adminToken: string;
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
  /** HTTP decision endpoint for auth subrequests; undefined: off. */
  readonly authz: { readonly host: string; readonly port: number } | undefined;
  readonly authzClientHeader: ClientHeader;
  /** HTML denial page (template text, read at start); undefined: JSON only. */
  readonly authzDenialPage: string | undefined;
  /** Syslog outcome listeners; undefined: off. */
  readonly syslogUdp: { readonly host: string; readonly port: number } | undefined;
  readonly syslogTcp: { readonly host: string; readonly port: number } | undefined;
  readonly syslogMaxLineBytes: number;
  readonly syslogMaxConnections: number;
  readonly syslogLinesPerSecond: number;
  /** Where zones and policies come from. */
  readonly configSource: 'files' | 'kubernetes';
  readonly kubernetes: KubernetesSettings;
  /** MaxMind database paths for DynamicZones; '' when not set. */
  readonly geoip: { readonly asn: string; readonly country: string; readonly anonymous: string };
  /** Where detector state lives: this process or Redis (docs/redis.md). */
  readonly store: StoreSettings;
  /** Processes serving Checks on the one port (node:cluster; docs/architecture.md, Workers); 1: this process alone. */
  readonly workers: number;
}


export const GRPC_TRANSPORTS = ['http2', 'grpc-js'] as const;
export type GrpcTransport = (typeof GRPC_TRANSPORTS)[number];

/** One row per setting: flag, environment variable, default, help. The CLI help and docs are built from it. */
export const SETTING_FLAGS = {
  config: { env: 'PORTCULLIS_CONFIG', default: '', help: 'Config file or folder; repeat the flag (or separate with "," in the variable).', multiple: true },
  'grpc-address': { env: 'PORTCULLIS_GRPC_ADDRESS', default: '127.0.0.1:9001', help: 'host:port for ext_authz, the access-log service and health gRPC. Beyond loopback it needs --grpc-token.' },
  'grpc-transport': { env: 'PORTCULLIS_GRPC_TRANSPORT', default: 'http2', help: `gRPC implementation: ${GRPC_TRANSPORTS.join(' | ')} (http2: the small gRPC surface Envoy uses, hand-written on node:http2, ~27 µs less per call; grpc-js: the library, kept as the reference).` },
  'grpc-socket': { env: 'PORTCULLIS_GRPC_SOCKET', default: '', help: 'Also listen on this Unix domain socket path.' },
  'grpc-token': { env: 'PORTCULLIS_GRPC_TOKEN', default: '', help: 'Bearer token (>= 16 chars of A-Z a-z 0-9 - . _ ~ + / =, or file:<path>) that Check and StreamAccessLogs calls must send as "authorization: Bearer <token>" metadata; others get UNAUTHENTICATED. Health stays open.' },
  'grpc-insecure-allow-remote': { env: 'PORTCULLIS_GRPC_INSECURE_ALLOW_REMOTE', default: 'false', help: 'true: allow a non-loopback --grpc-address without --grpc-token (only behind mTLS or a network policy that admits Envoy alone: anyone who reaches the port can get any IP blocked).' },
  'grpc-max-connections': { env: 'PORTCULLIS_GRPC_MAX_CONNECTIONS', default: '128', help: 'Most gRPC connections open at once (TCP and Unix socket); more are closed at accept.' },
  'grpc-max-streams': { env: 'PORTCULLIS_GRPC_MAX_STREAMS', default: '1000', help: 'Most concurrent calls on one gRPC connection (HTTP/2 max concurrent streams).' },
  'grpc-idle-timeout-seconds': { env: 'PORTCULLIS_GRPC_IDLE_TIMEOUT_SECONDS', default: '300', help: 'Close a gRPC connection with no call open for this long (Envoy reconnects on demand).' },
  'grpc-keepalive-seconds': { env: 'PORTCULLIS_GRPC_KEEPALIVE_SECONDS', default: '60', help: 'Ping a quiet gRPC peer this often; drop it when no answer comes within --grpc-keepalive-timeout-seconds.' },
  'grpc-keepalive-timeout-seconds': { env: 'PORTCULLIS_GRPC_KEEPALIVE_TIMEOUT_SECONDS', default: '20', help: 'How long a keepalive ping may go unanswered.' },
  'http-address': { env: 'PORTCULLIS_HTTP_ADDRESS', default: '0.0.0.0:9090', help: 'host:port for /metrics, /healthz, /readyz (and POST /v1/outcomes with --outcome-token).' },
  'admin-address': { env: 'PORTCULLIS_ADMIN_ADDRESS', default: '127.0.0.1:9091', help: 'host:port for /admin/* (detector state per IP). Beyond loopback it needs --admin-token. Empty: off.' },
  'admin-token': { env: 'PORTCULLIS_ADMIN_TOKEN', default: '', help: 'Bearer token /admin/* requests must send (or file:<path>); others get 401.' },
  'http-max-connections': { env: 'PORTCULLIS_HTTP_MAX_CONNECTIONS', default: '64', help: 'Most connections open at once on the HTTP address, and on the admin address.' },
  'authz-max-connections': { env: 'PORTCULLIS_AUTHZ_MAX_CONNECTIONS', default: '1024', help: 'Most connections open at once on the HTTP decision endpoint.' },
  'http-header-timeout-seconds': { env: 'PORTCULLIS_HTTP_HEADER_TIMEOUT_SECONDS', default: '10', help: 'HTTP listeners (ops, admin, decision endpoint): a request\'s headers must arrive within this time, or the connection is closed (slowloris).' },
  'http-request-timeout-seconds': { env: 'PORTCULLIS_HTTP_REQUEST_TIMEOUT_SECONDS', default: '30', help: 'HTTP listeners: a whole request (headers and body) must arrive within this time.' },
  'http-idle-timeout-seconds': { env: 'PORTCULLIS_HTTP_IDLE_TIMEOUT_SECONDS', default: '65', help: 'HTTP listeners: close a keep-alive connection idle this long (above the proxies\' upstream keep-alive).' },
  'client-ip-mode': { env: 'PORTCULLIS_CLIENT_IP_MODE', default: 'xff', help: `Forwarding header to walk: ${CLIENT_IP_MODES.join(' | ')}.` },
  'max-hops': { env: 'PORTCULLIS_MAX_HOPS', default: '10', help: 'Most addresses examined in a forwarding chain, counting the peer.' },
  'failure-mode': { env: 'PORTCULLIS_FAILURE_MODE', default: 'allow', help: `Answer when a check cannot be decided: ${FAILURE_MODES.join(' | ')}.` },
  'log-level': { env: 'PORTCULLIS_LOG_LEVEL', default: 'info', help: 'trace | debug | info | warn | error | silent.' },
  events: { env: 'PORTCULLIS_EVENTS', default: 'stdout', help: 'Where security events go: stdout | none | a file path.' },
  'drain-seconds': { env: 'PORTCULLIS_DRAIN_SECONDS', default: '10', help: 'On SIGTERM, how long in-flight checks may take to finish.' },
  'username-key': { env: 'PORTCULLIS_USERNAME_KEY', default: '', help: 'Secret for hashing usernames (>= 16 chars, or file:<path>). Unset: random per process (not shared between replicas or restarts).' },
  'outcome-token': { env: 'PORTCULLIS_OUTCOME_TOKEN', default: '', help: 'Bearer token for POST /v1/outcomes on the HTTP address (or file:<path>). Unset: the endpoint is off.' },
  'max-tracked-ips': { env: 'PORTCULLIS_MAX_TRACKED_IPS', default: '1000000', help: 'Cap on client IPs tracked by the detectors; the least risky are evicted beyond it.' },
  'authz-address': { env: 'PORTCULLIS_AUTHZ_ADDRESS', default: '', help: 'host:port for the HTTP decision endpoint (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth, Envoy http_service); HTTP/1.1 and h2c. Unset: off.' },
  'authz-client-header': { env: 'PORTCULLIS_AUTHZ_CLIENT_HEADER', default: 'x-forwarded-for', help: `Header of an auth request the client chain is read from: ${CLIENT_HEADERS.join(' | ')} (X-Real-IP counts as a one-entry chain).` },
  'authz-denial-page': { env: 'PORTCULLIS_AUTHZ_DENIAL_PAGE', default: '', help: 'HTML file sent instead of JSON to browsers on a denial; {{eventId}}, {{status}}, {{retryAfter}} are filled in.' },
  'syslog-udp-address': { env: 'PORTCULLIS_SYSLOG_UDP_ADDRESS', default: '', help: 'host:port receiving syslog access-log lines (outcomes) over UDP. Unset: off.' },
  'syslog-tcp-address': { env: 'PORTCULLIS_SYSLOG_TCP_ADDRESS', default: '', help: 'host:port receiving syslog access-log lines over TCP (octet counting or newline framing). Unset: off.' },
  'syslog-max-line-bytes': { env: 'PORTCULLIS_SYSLOG_MAX_LINE_BYTES', default: '32768', help: 'Longest syslog message kept (and the most one TCP connection buffers); longer ones are dropped.' },
  'syslog-max-connections': { env: 'PORTCULLIS_SYSLOG_MAX_CONNECTIONS', default: '64', help: 'Most syslog TCP connections open at once.' },
  'syslog-lines-per-second': { env: 'PORTCULLIS_SYSLOG_LINES_PER_SECOND', default: '20000', help: 'Syslog lines parsed per second over UDP and TCP together; the excess is dropped.' },
  'config-source': { env: 'PORTCULLIS_CONFIG_SOURCE', default: 'files', help: 'Where zones and policies come from: files (--config) | kubernetes (CRDs; docs/kubernetes.md).' },
  'kube-namespaces': { env: 'PORTCULLIS_KUBE_NAMESPACES', default: '', help: 'Namespaces to watch, comma-separated. Empty: the pod\'s own (POD_NAMESPACE, else the service account\'s). "*": all.' },
  kubeconfig: { env: 'PORTCULLIS_KUBECONFIG', default: '', help: 'kubeconfig file. Empty: $KUBECONFIG, ~/.kube/config, then the in-cluster service account.' },
  'kube-lease-name': { env: 'PORTCULLIS_KUBE_LEASE_NAME', default: 'portcullis', help: 'Lease electing the one replica that writes status and Events.' },
  'kube-resync-seconds': { env: 'PORTCULLIS_KUBE_RESYNC_SECONDS', default: '600', help: 'Full relist of every kind this often, a backstop for missed watch events.' },
  'kube-write-status': { env: 'PORTCULLIS_KUBE_WRITE_STATUS', default: 'true', help: 'true: join leader election; the leader writes status and Events. false: read only.' },
  'geoip-asn': { env: 'PORTCULLIS_GEOIP_ASN', default: '', help: 'GeoLite2-ASN / GeoIP2-ISP .mmdb for DynamicZone asns (reloaded when the file changes).' },
  'geoip-country': { env: 'PORTCULLIS_GEOIP_COUNTRY', default: '', help: 'GeoIP2/GeoLite2 Country or City .mmdb for DynamicZone locations (City for regions).' },
  'geoip-anonymous': { env: 'PORTCULLIS_GEOIP_ANONYMOUS', default: '', help: 'GeoIP2 Anonymous IP .mmdb for DynamicZone proxyType (Tor also works from a Tor exit ThreatFeed).' },
  workers: { env: 'PORTCULLIS_WORKERS', default: '', help: 'Worker processes serving Checks on the same ports (node:cluster; a primary owns the detector state and the ops, admin and syslog listeners). 1: one process, no cluster. Empty: the CPU limit (cgroup cpu.max, else the CPU count); 1 with --config-source kubernetes.' },
  ...STORE_SETTING_FLAGS,
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
  const grpcToken = bearerToken('grpc-token', get('grpc-token'));
  const allowRemote = oneOf('grpc-insecure-allow-remote', get('grpc-insecure-allow-remote'), ['true', 'false'] as const) === 'true';
  if (!grpcToken && !allowRemote && !isLoopback(grpc.host)) {
    throw new PortcullisError('UNSAFE_LISTEN', `--grpc-address ${get('grpc-address')} is reachable beyond loopback without a credential: anyone who reaches it can send forged access-log entries and get any IP blocked. Set --grpc-token (PORTCULLIS_GRPC_TOKEN) and send it from Envoy with grpc_service.initial_metadata, or listen on 127.0.0.1 (docs/security.md)`);
  }
  const admin = optionalHostPort('admin-address', get('admin-address'));
  const adminToken = bearerToken('admin-token', get('admin-token'));
  if (admin && !adminToken && !isLoopback(admin.host)) {
    throw new PortcullisError('UNSAFE_LISTEN', `--admin-address ${get('admin-address')} is reachable beyond loopback without a credential: /admin/ip tells anyone how close an address is to a block. Set --admin-token (PORTCULLIS_ADMIN_TOKEN), or listen on 127.0.0.1 (docs/security.md)`);
  }
  const seconds = (flag: SettingFlag) => positiveInt(flag, get(flag)) * 1000;
  return Object.freeze({
    configPaths: Object.freeze([...configPaths]),
    grpc: Object.freeze(socket ? { ...grpc, unixSocket: socket } : grpc),
    grpcTransport: oneOf('grpc-transport', get('grpc-transport'), GRPC_TRANSPORTS),
    http: Object.freeze(parseHostPort('http-address', get('http-address'))),
    grpcToken,
    grpcLimits: Object.freeze({
      maxConnections: positiveInt('grpc-max-connections', get('grpc-max-connections')),
      maxConcurrentStreams: positiveInt('grpc-max-streams', get('grpc-max-streams')),
      idleTimeoutMs: seconds('grpc-idle-timeout-seconds'),
      keepaliveTimeMs: seconds('grpc-keepalive-seconds'),
      keepaliveTimeoutMs: seconds('grpc-keepalive-timeout-seconds'),
    }),
    admin,
    adminToken,
    httpLimits: Object.freeze({
      maxConnections: positiveInt('http-max-connections', get('http-max-connections')),
      authzMaxConnections: positiveInt('authz-max-connections', get('authz-max-connections')),
      headersTimeoutMs: seconds('http-header-timeout-seconds'),
      requestTimeoutMs: seconds('http-request-timeout-seconds'),
      idleTimeoutMs: seconds('http-idle-timeout-seconds'),
    }),
    clientIpMode: oneOf('client-ip-mode', get('client-ip-mode'), CLIENT_IP_MODES),
    maxHops: positiveInt('max-hops', get('max-hops')),
    failureMode: oneOf('failure-mode', get('failure-mode'), FAILURE_MODES),
    logLevel: oneOf('log-level', get('log-level'), ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    events: get('events'),
    drainSeconds: positiveInt('drain-seconds', get('drain-seconds')),
    usernameKey: secretValue('username-key', get('username-key'), 16),
    outcomeToken: secretValue('outcome-token', get('outcome-token'), 16),
    maxTrackedIps: positiveInt('max-tracked-ips', get('max-tracked-ips')),
    authz: optionalHostPort('authz-address', get('authz-address')),
    authzClientHeader: oneOf('authz-client-header', get('authz-client-header'), CLIENT_HEADERS),
    authzDenialPage: pageFile('authz-denial-page', get('authz-denial-page')),
    syslogUdp: optionalHostPort('syslog-udp-address', get('syslog-udp-address')),
    syslogTcp: optionalHostPort('syslog-tcp-address', get('syslog-tcp-address')),
    syslogMaxLineBytes: positiveInt('syslog-max-line-bytes', get('syslog-max-line-bytes')),
    syslogMaxConnections: positiveInt('syslog-max-connections', get('syslog-max-connections')),
    syslogLinesPerSecond: positiveInt('syslog-lines-per-second', get('syslog-lines-per-second')),
    configSource: oneOf('config-source', get('config-source'), ['files', 'kubernetes'] as const),
    kubernetes: Object.freeze({
      namespaces: kubeNamespaces(get('kube-namespaces')),
      kubeconfig: get('kubeconfig'),
      leaseName: get('kube-lease-name'),
      resyncSeconds: positiveInt('kube-resync-seconds', get('kube-resync-seconds')),
      writeStatus: oneOf('kube-write-status', get('kube-write-status'), ['true', 'false'] as const) === 'true',
    }),
    geoip: Object.freeze({ asn: get('geoip-asn'), country: get('geoip-country'), anonymous: get('geoip-anonymous') }),
    store: readStoreSettings(get, (flag, value) => secretValue(flag, value, 1)),
    workers: workerCount(get('workers'), get('config-source')),
  });
}

/**
 * --workers: a count, or the CPU limit when empty. The Kubernetes source is not split across workers (each
 * would watch the API and stand for the Lease on its own), so it runs one process.
 */
function workerCount(value: string, configSource: string, limit: () => number = cpuLimit): number {
  if (value === '') return configSource === 'kubernetes' ? 1 : limit();
  const n = positiveInt('workers', value);
  if (n > 256) throw new PortcullisError('USAGE', `--workers: at most 256, got ${n}`);
  if (n > 1 && configSource === 'kubernetes') throw new PortcullisError('USAGE', '--workers above 1 needs --config-source files: the Kubernetes source runs in one process (docs/architecture.md, Workers)');
  return n;
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this host (this pod) only. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A bearer token: a secret that can travel in an HTTP header or gRPC metadata as is (RFC 7235 token68). */
function bearerToken(flag: string, value: string): string {
  const token = secretValue(flag, value, 16);
  if (token && !/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) throw new PortcullisError('USAGE', `--${flag}: only A-Z a-z 0-9 - . _ ~ + / (then =) may be used`);
  return token;
}

function kubeNamespaces(value: string): readonly string[] | 'all' {
  if (value.trim() === '*') return 'all';
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const ns of list) if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) throw new PortcullisError('USAGE', `--kube-namespaces: ${JSON.stringify(ns)} is not a namespace name`);
  return Object.freeze(list);
}

function optionalHostPort(flag: string, value: string): { host: string; port: number } | undefined {
  return value === '' ? undefined : Object.freeze(parseHostPort(flag, value));
}

/** A small operator-supplied page, read once at start: a missing file is a usage error, not a silent JSON fallback. */
function pageFile(flag: string, path: string): string | undefined {
  if (path === '') return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PortcullisError('USAGE', `--${flag}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (text.length > 64 * 1024) throw new PortcullisError('USAGE', `--${flag}: ${path} is over 64 KiB`);
  return text;
}
