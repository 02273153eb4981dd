import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { eventually } from '../helpers/portcullis.ts';
import { listeningPorts } from '../helpers/portcullis-process.ts';
import { CHART, get, render, type K8sObject } from './helm.ts';
import { validateObjects } from './k8s-validate.ts';

// The chart's HTTP mode, from the values file users copy (examples/ingress-nginx-values.yaml) to a running
// process: the pod spec helm renders is started as `portcullis serve` with exactly its arguments and environment
// (only the listen addresses moved to 127.0.0.1:0 and the config folder to a temp copy of the rendered
// ConfigMap), then driven the way ingress-nginx drives it: auth requests on /auth/ingress-nginx and access-log
// lines over syslog UDP in the shipped log-format-upstream.
const EXAMPLE = join(CHART, 'examples/ingress-nginx-values.yaml');
// The test's "controller" is 127.0.0.1: trust it alongside the example's pod CIDR.
const LOCAL = ['-f', EXAMPLE, '--set', 'config.trustedProxies={10.0.0.0/8,127.0.0.0/8}'];

type Container = { name: string; args: string[]; env: { name: string; value?: string }[]; ports: { name: string; containerPort: number; protocol: string }[]; readinessProbe: any; livenessProbe: any };
const portcullisContainer = (objects: K8sObject[]): Container => (get(objects, 'Deployment', '-authz').spec as any).template.spec.containers.find((c: Container) => c.name === 'portcullis');

describe('the ingress-nginx example and the shipped ingress-nginx files agree', () => {
  // Installed as the example says: release "portcullis" in namespace "portcullis".
  const objects = render(['-f', EXAMPLE], 'portcullis', 'portcullis');
  const svc = get(objects, 'Service', '-authz');
  const port = (name: string) => (svc.spec as any).ports.find((p: any) => p.name === name);

  it('renders valid objects: the authz Deployment and Service, and a NetworkPolicy admitting the controller namespace', async () => {
    expect(await validateObjects(objects)).toEqual([]);
    const np = get(objects, 'NetworkPolicy', '-authz');
    expect((np.spec as any).ingress[0].from).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]);
    expect(objects.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toEqual(['portcullis-authz']);
  });

  it('the Ingress auth-url and the controller ConfigMap\'s syslog target are ports of the rendered Service', () => {
    const ingress = parse(readFileSync('deploy/proxies/ingress-nginx/ingress.yaml', 'utf8'));
    const url = new URL(ingress.metadata.annotations['nginx.ingress.kubernetes.io/auth-url']);
    expect(url.hostname).toBe(`${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`);
    expect(Number(url.port)).toBe(port('authz').port);
    expect(url.pathname).toBe('/auth/ingress-nginx');
    const cm = parse(readFileSync('deploy/proxies/ingress-nginx/configmap.yaml', 'utf8')).data;
    expect(cm['syslog-host']).toBe(`${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`);
    expect(Number(cm['syslog-port'])).toBe(port('syslog-udp').port); // ingress-nginx sends syslog over UDP
    expect(port('syslog-udp').protocol).toBe('UDP');
  });
});

describe('the rendered HTTP-mode pod, run as a process', () => {
  let child: ChildProcess | undefined;
  let dir: string;
  let ports: { httpPort: number; authzPort: number; syslogUdpPort: number; syslogTcpPort: number };
  let stdout = '';

  beforeAll(async () => {
    const objects = render(LOCAL, 'portcullis', 'portcullis');
    const c = portcullisContainer(objects);
    dir = mkdtempSync(join(tmpdir(), 'portcullis-authz-'));
    for (const [name, text] of Object.entries(get(objects, 'ConfigMap', '-config').data as Record<string, string>)) writeFileSync(join(dir, name), text);
    const env: Record<string, string> = {};
    for (const e of c.env) if (e.value !== undefined) env[e.name] = e.value;
    const containerPort = (name: string) => c.ports.find((p) => p.name === name)!.containerPort;
    // The addresses the pod listens on are the container ports the Service targets; here they move to port 0.
    expect(env.PORTCULLIS_AUTHZ_ADDRESS).toBe(`0.0.0.0:${containerPort('authz')}`);
    expect(env.PORTCULLIS_SYSLOG_UDP_ADDRESS).toBe(`0.0.0.0:${containerPort('syslog-udp')}`);
    expect(env.PORTCULLIS_SYSLOG_TCP_ADDRESS).toBe(`0.0.0.0:${containerPort('syslog-tcp')}`);
    expect(env.PORTCULLIS_HTTP_ADDRESS).toBe(`0.0.0.0:${containerPort('metrics')}`);
    expect(env.PORTCULLIS_CONFIG).toBe('/etc/portcullis');
    for (const k of ['PORTCULLIS_AUTHZ_ADDRESS', 'PORTCULLIS_SYSLOG_UDP_ADDRESS', 'PORTCULLIS_SYSLOG_TCP_ADDRESS', 'PORTCULLIS_HTTP_ADDRESS', 'PORTCULLIS_GRPC_ADDRESS']) env[k] = '127.0.0.1:0';
    env.PORTCULLIS_CONFIG = dir;
    env.PORTCULLIS_ADMIN_ADDRESS = '127.0.0.1:0';
    const proc = spawn(process.execPath, ['bin/portcullis.js', ...c.args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout!.on('data', (d) => (stdout += d));
    ports = await listeningPorts(proc);
  }, 90_000);

  afterAll(() => {
    child?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** What ingress-nginx's auth subrequest carries (compute-full-forwarded-for: "<incoming XFF>, <L4 peer>"). */
  const ask = (client: string) => fetch(`http://127.0.0.1:${ports.authzPort}/auth/ingress-nginx`, {
    headers: { 'x-original-url': 'https://app.example.com/login', 'x-original-method': 'POST', 'x-forwarded-for': `${client}, 10.0.1.5`, 'x-request-id': `auth-${Math.random()}` },
  });

  /** One access-log line in the shipped log-format-upstream, the way the controller sends it (RFC 3164). */
  function logLine(client: string, status: number, id: string): string {
    const format = parse(readFileSync('deploy/proxies/ingress-nginx/configmap.yaml', 'utf8')).data['log-format-upstream'] as string;
    const vars: Record<string, string> = { req_id: id, realip_remote_addr: '10.0.1.5', http_x_forwarded_for: client, request_method: 'POST', request_uri: '/login', host: 'app.example.com', status: String(status), upstream_http_x_portcullis_signin_result: '' };
    const json = format.replace(/\$([a-z_]+)/g, (_m, v: string) => {
      expect(vars, `a value for $${v}`).toHaveProperty(v);
      return vars[v]!;
    });
    return `<190>Jan  7 10:00:00 ingress-nginx-controller-1 nginx: ${json}`;
  }

  it('answers the probes the Deployment declares', async () => {
    const c = portcullisContainer(render(LOCAL, 'portcullis', 'portcullis'));
    expect(c.readinessProbe.httpGet.port).toBe('metrics');
    expect((await fetch(`http://127.0.0.1:${ports.httpPort}${c.readinessProbe.httpGet.path}`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${ports.httpPort}${c.livenessProbe.httpGet.path}`)).status).toBe(200);
  });

  it('allows a client, learns its failures from syslog lines, then refuses it (action: Block)', async () => {
    const attacker = '198.51.100.77';
    const first = await ask(attacker);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-portcullis-client-ip'), 'the chain walked through the trusted controller and LB').toBe(attacker);

    const udp = createSocket('udp4');
    const accepted = async () => {
      const m = /^portcullis_syslog_lines_total\{transport="udp",result="accepted"\} (\S+)$/m.exec(await (await fetch(`http://127.0.0.1:${ports.httpPort}/metrics`)).text());
      return m ? Number(m[1]) : 0;
    };
    try {
      for (let i = 0; i < 6; i++) {
        const msg = Buffer.from(logLine(attacker, 401, `line-${i}`));
        await new Promise<void>((r, j) => udp.send(msg, ports.syslogUdpPort, '127.0.0.1', (e) => (e ? j(e) : r())));
      }
      await eventually(async () => (await accepted()) >= 6, 10_000);
    } finally {
      udp.close();
    }
    // ingress-nginx turns any auth status but 2xx/401/403 into a 500, so a rate limit is a 403 carrying 429.
    let last: Response | undefined;
    await eventually(async () => {
      last = await ask(attacker);
      return last.status === 403;
    }, 10_000);
    expect(last!.headers.get('x-portcullis-status')).toBe('429');
    expect((await ask('198.51.100.78')).status, 'another client is unaffected').toBe(200);
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(events.some((e) => e.eventType === 'security.threat.detected' && e.client?.ipAddress === attacker)).toBe(true);
  });
});

