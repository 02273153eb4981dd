import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { compile } from '../../src/config/compile.ts';
import { loadPaths } from '../../src/sources/files.ts';
import { checkEnvoyConfig, envoyPath } from './envoy-essentials.ts';
import { CHART, find, get, helm, render, type K8sObject } from './helm.ts';
import { validateObjects } from './k8s-validate.ts';

// Every values file the chart ships: ci/ (one per mode and option set) and examples/ (what users copy).
const SCENARIOS = ['ci', 'examples'].flatMap((d) => readdirSync(join(CHART, d)).filter((f) => f.endsWith('-values.yaml')).map((f) => `${d}/${f}`)).sort();
const valuesOf = (file: string) => merge(parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')), parse(readFileSync(join(CHART, file), 'utf8')));

/** Helm's coalescing of a values file over the defaults: maps merge deeply, null deletes a key. */
function merge(base: any, over: any): any {
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof over !== 'object' || over === null || Array.isArray(over)) return over;
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = merge(base[k], v);
  }
  return out;
}

/** A Kubernetes label selector (matchLabels and In expressions) against a label set. */
function matches(selector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values: string[] }[] }, labels: Record<string, string>): boolean {
  return Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v)
    && (selector.matchExpressions ?? []).every((e) => e.operator === 'In' && e.values.includes(labels[e.key] ?? ''));
}

type Pod = { containers: Record<string, any>[]; securityContext?: Record<string, unknown> };
const podSpec = (o: K8sObject) => (o.kind === 'Pod' ? o.spec : (o.spec as any).template.spec) as Pod;

/** The Portcullis config a pod would load from the rendered ConfigMap, through the real loader and compiler. */
function compileConfigMap(cm: K8sObject): void {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-chart-'));
  try {
    for (const [name, text] of Object.entries(cm.data as Record<string, string>)) writeFileSync(join(dir, name), text);
    const batch = loadPaths([dir]);
    expect(batch.issues).toEqual([]);
    expect(compile(batch.objects, 1, Date.now()).issues).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The message a default install fails with: it must name every mode's switch and what that mode needs. */
const NOTHING_TO_RUN = /nothing to run: choose a mode\. gateway\.enabled=true with gateway\.upstream\.service=.*authz\.enabled=true with config\.trustedProxies=.*sidecar\.envoyConfig=true/;

describe('helm lint', () => {
  // Lint treats a template's `fail` as a required value not given yet, so the defaults lint clean too.
  it.each(['(defaults)', ...SCENARIOS])('passes with %s', (file) => {
    const r = helm(['lint', CHART, '--strict', ...(file.startsWith('(') ? [] : ['-f', join(CHART, file)])]);
    expect(r.stdout + r.stderr).toContain('0 chart(s) failed');
    expect(r.code).toBe(0);
  });
});

describe('helm template renders valid objects', () => {
  it.each([['template'], ['install', '--dry-run=client']])('refuses the default values (nothing would run) on helm %s, naming each mode\'s values', (...cmd) => {
    const r = helm([cmd[0]!, 'demo', CHART, ...cmd.slice(1)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(NOTHING_TO_RUN);
    expect(r.stdout).not.toMatch(/^kind:/m);
  });

  it.each(SCENARIOS)('%s', async (file) => {
    const values = valuesOf(file);
    const objects = render(['-f', join(CHART, file)]);
    expect(await validateObjects(objects)).toEqual([]);
    compileConfigMap(get(objects, 'ConfigMap', '-config'));

    // Every container: least privilege, probes, resources.
    for (const o of objects.filter((x) => ['Deployment', 'Pod'].includes(x.kind))) {
      const pod = podSpec(o);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      for (const c of pod.containers) {
        expect(c.securityContext, c.name).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources?.requests, c.name).toBeDefined();
        if (o.kind === 'Deployment') expect(c.readinessProbe, c.name).toBeDefined();
      }
    }

    const deployment = find(objects, 'Deployment', '-gateway');
    expect(Boolean(deployment)).toBe(Boolean(values.gateway.enabled));
    if (deployment) {
      const pod = podSpec(deployment);
      expect((deployment.spec as any).replicas).toBe(values.gateway.replicas);
      const portcullis = pod.containers.find((c) => c.name === 'portcullis')!;
      expect(portcullis.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
      expect(portcullis.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
      const env = Object.fromEntries(portcullis.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
      expect(env.PORTCULLIS_GRPC_ADDRESS, 'ext_authz stays inside the pod').toBe('127.0.0.1:9001');
      expect(env.PORTCULLIS_HTTP_ADDRESS).toBe('0.0.0.0:9090');
      expect(env.PORTCULLIS_FAILURE_MODE).toBe(values.portcullis.failureMode);

      // The Envoy config the pod mounts is valid and routes the configured sign-in paths.
      const envoyYaml = (get(objects, 'ConfigMap', '-envoy').data as Record<string, string>)['envoy.yaml']!;
      const c = checkEnvoyConfig(envoyYaml, { failureModeAllow: values.envoy.extAuthz.failureModeAllow, signInPaths: values.signIn.routes.map(envoyPath) });
      const up = c.static_resources.clusters.find((x: any) => x.name === 'upstream').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
      expect(up.address).toBe(`${values.gateway.upstream.service}.${values.gateway.upstream.namespace || 'shop'}.svc.cluster.local`);
      expect(up.port_value).toBe(values.gateway.upstream.port);
      const listener = c.static_resources.listeners.find((l: any) => l.name === 'ingress');
      expect(Boolean(listener.listener_filters?.length)).toBe(values.gateway.proxyProtocol);

      const pdb = get(objects, 'PodDisruptionBudget');
      expect((pdb.spec as any).selector.matchLabels).toEqual((deployment.spec as any).selector.matchLabels);
      const svc = get(objects, 'Service', '-gateway');
      expect((svc.spec as any).ports.map((p: any) => p.name), 'metrics never on the public Service').toEqual(['http']);
      expect(get(objects, 'Service', '-metrics')).toBeDefined();
    }
    const authz = find(objects, 'Deployment', '-authz');
    expect(Boolean(authz)).toBe(Boolean(values.authz.enabled));
    if (authz) {
      const a = values.authz;
      expect((authz.spec as any).replicas).toBe(a.replicas);
      const c = podSpec(authz).containers;
      expect(c.map((x) => x.name), 'HTTP mode runs no Envoy').toEqual(['portcullis']);
      const env = Object.fromEntries(c[0]!.env.filter((e: any) => 'value' in e).map((e: any) => [e.name, e.value]));
      expect(env.PORTCULLIS_AUTHZ_ADDRESS).toBe(`0.0.0.0:${a.port}`);
      expect(env.PORTCULLIS_AUTHZ_CLIENT_HEADER).toBe(a.clientHeader);
      expect(env.PORTCULLIS_SYSLOG_UDP_ADDRESS).toBe(a.syslog.udp ? `0.0.0.0:${a.syslog.port}` : undefined);
      expect(env.PORTCULLIS_SYSLOG_TCP_ADDRESS).toBe(a.syslog.tcp ? `0.0.0.0:${a.syslog.port}` : undefined);
      expect(env.PORTCULLIS_GRPC_ADDRESS, 'the unused gRPC port stays on loopback').toBe('127.0.0.1:9001');
      // The Service forwards exactly the container's ports, by name.
      const ports = Object.fromEntries(c[0]!.ports.map((p: any) => [p.name, p]));
      const svc = get(objects, 'Service', '-authz');
      expect((svc.spec as any).type).toBe('ClusterIP');
      expect((svc.spec as any).selector).toEqual((authz.spec as any).selector.matchLabels);
      for (const p of (svc.spec as any).ports) expect(ports[p.targetPort], p.name).toMatchObject({ containerPort: p.port, protocol: p.protocol });
      expect((svc.spec as any).ports.map((p: any) => p.name).sort()).toEqual(['authz', 'metrics', ...(a.syslog.tcp ? ['syslog-tcp'] : []), ...(a.syslog.udp ? ['syslog-udp'] : [])].sort());
      if (a.denialPage) {
        expect(env.PORTCULLIS_AUTHZ_DENIAL_PAGE).toBe('/etc/portcullis-pages/denial.html');
        expect((get(objects, 'ConfigMap', '-authz-pages').data as Record<string, string>)['denial.html']).toBe(a.denialPage);
      }
    }
    expect(Boolean(find(objects, 'NetworkPolicy', '-gateway'))).toBe(Boolean(values.networkPolicy.enabled && values.gateway.enabled));
    expect(Boolean(find(objects, 'NetworkPolicy', '-authz'))).toBe(Boolean(values.networkPolicy.enabled && values.authz.enabled));
    // A monitor is rendered exactly when switched on, and then selects pods this release runs (or the user named).
    const monitor = find(objects, 'ServiceMonitor');
    expect(Boolean(monitor)).toBe(Boolean(values.metrics.serviceMonitor.enabled));
    if (monitor) {
      const selected = objects.filter((o) => o.kind === 'Service' && matches((monitor.spec as any).selector, o.metadata.labels ?? {}));
      expect(selected.length, 'the ServiceMonitor selects a rendered Service').toBeGreaterThan(0);
      for (const svc of selected) expect((svc.spec as any).ports.map((p: any) => p.name)).toContain('metrics');
    }
    expect(Boolean(find(objects, 'Role'))).toBe(values.config.source === 'kubernetes');
    expect(objects.filter((o) => o.apiVersion.startsWith('portcullis.dev/')).length > 0).toBe(values.config.source === 'kubernetes');
    const sidecar = find(objects, 'ConfigMap', '-sidecar-envoy');
    expect(Boolean(sidecar)).toBe(values.sidecar.envoyConfig);
    if (sidecar) checkEnvoyConfig((sidecar.data as Record<string, string>)['envoy.yaml']!, { failureModeAllow: true, signInPaths: values.signIn.routes.map(envoyPath) });
  });

  it('renders zones and policy as objects the CRDs accept with config.source=kubernetes, plus least-privilege RBAC', () => {
    const objects = render(['-f', join(CHART, 'ci/kubernetes-values.yaml')]);
    const kinds = objects.filter((o) => o.apiVersion === 'portcullis.dev/v1alpha1').map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds.sort()).toEqual(['IPZone/office', 'IPZone/trusted-proxies', 'ThreatPolicy/default']);
    // The chart's Role grants exactly what deploy/rbac/role.yaml grants, with this release's Lease name.
    const role = get(objects, 'Role');
    const reference = parseAllDocuments(readFileSync('deploy/rbac/role.yaml', 'utf8')).map((d) => d.toJS()).find((d) => d?.kind === 'Role');
    const withLease = reference.rules.map((r: any) => (r.resourceNames ? { ...r, resourceNames: [role.metadata.name] } : r));
    expect(role.rules).toEqual(withLease);
    const env = podSpec(get(objects, 'Deployment')).containers.find((c) => c.name === 'portcullis')!.env;
    expect(env).toContainEqual({ name: 'PORTCULLIS_KUBE_LEASE_NAME', value: role.metadata.name });
    expect(get(objects, 'ServiceAccount').automountServiceAccountToken).toBe(true);
  });

  it('ships the dashboard and alerts from deploy/ with the chosen runbook base', () => {
    const objects = render(['-f', join(CHART, 'ci/monitoring-values.yaml')]);
    const cm = get(objects, 'ConfigMap', '-dashboard');
    expect(cm.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse((cm.data as Record<string, string>)['portcullis.json']!)).toEqual(JSON.parse(readFileSync('deploy/grafana/portcullis-dashboard.json', 'utf8')));
    const rules = (get(objects, 'PrometheusRule').spec as any).groups.flatMap((g: any) => g.rules);
    expect(rules.length).toBe(parse(readFileSync('deploy/prometheus/portcullis-rules.yaml', 'utf8')).groups.flatMap((g: any) => g.rules).length);
    for (const r of rules) expect(r.annotations.runbook_url).toMatch(/^https:\/\/wiki\.example\.com\/portcullis\/runbooks#portcullis/);
    expect(get(objects, 'ServiceMonitor').metadata.labels?.release).toBe('kube-prometheus-stack');
  });
});

describe('values that cannot work are refused with a message naming the keys', () => {
  const up = ['--set', 'gateway.enabled=true', '--set', 'gateway.upstream.service=my-app'];
  const authz = ['--set', 'authz.enabled=true', '--set', 'config.trustedProxies={10.0.0.0/8}'];
  const cases: [string, string[], RegExp][] = [
    ['a gateway without an upstream', ['--set', 'gateway.enabled=true'], /gateway\.upstream\.service is required/],
    ['minAvailable and maxUnavailable together', [...up, '--set', 'gateway.pdb.maxUnavailable=1'], /set minAvailable or maxUnavailable, not both/],
    ['a PDB that never lets a pod go', [...up, '--set', 'gateway.replicas=2', '--set', 'gateway.pdb.minAvailable=2'], /minAvailable \(2\) must be below gateway\.replicas \(2\)/],
    ['a grace period shorter than preStop + drain', [...up, '--set', 'portcullis.drainSeconds=30'], /terminationGracePeriodSeconds \(30\) must exceed the 8 s preStop plus portcullis\.drainSeconds \(30\)/],
    ['externalTrafficPolicy on a ClusterIP Service', [...up, '--set', 'gateway.service.externalTrafficPolicy=Local'], /externalTrafficPolicy applies only to LoadBalancer and NodePort/],
    ['two monitors for the same pods', [...up, '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.podMonitor.enabled=true'], /would scrape them twice/],
    ['Redis without a URL', [...up, '--set', 'redis.enabled=true'], /redis\.url is required/],
    ['a password in the Redis URL', [...up, '--set', 'redis.enabled=true', '--set', 'redis.url=redis://:hunter2@redis:6379'], /must not contain a password/],
    ['kubernetes source without RBAC', [...up, '--set', 'config.source=kubernetes', '--set', 'rbac.create=false'], /config\.source=kubernetes needs RBAC/],
    ['fail-open Envoy with a fail-closed sidecar', [...up, '--set', 'portcullis.failureMode=deny'], /choose one posture for both/],
    ['HTTP mode without trusted proxies', ['--set', 'authz.enabled=true'], /authz\.enabled=true needs config\.trustedProxies/],
    ['HTTP mode on several replicas without Redis', [...authz, '--set', 'authz.replicas=2'], /authz\.replicas=2 needs redis\.enabled=true/],
    ['HTTP mode with no way to learn outcomes', [...authz, '--set', 'authz.syslog.udp=false', '--set', 'authz.syslog.tcp=false'], /leaves Portcullis without outcomes/],
    ['a ServiceMonitor with nothing to scrape', ['--set', 'sidecar.envoyConfig=true', '--set', 'metrics.serviceMonitor.enabled=true'], /metrics\.serviceMonitor\.enabled=true scrapes .* neither gateway\.enabled nor authz\.enabled/],
    ['a PodMonitor with nothing to select', ['--set', 'sidecar.envoyConfig=true', '--set', 'metrics.podMonitor.enabled=true'], /without metrics\.podMonitor\.selector .* give metrics\.podMonitor\.selector/],
    ['alerts on metrics nothing scrapes', [...up, '--set', 'metrics.prometheusRule.enabled=true'], /metrics\.prometheusRule\.enabled=true: .*nothing scrapes them.*metrics\.scrapedElsewhere=true/],
    ['a dashboard of metrics nothing scrapes', [...authz, '--set', 'metrics.dashboard.enabled=true'], /metrics\.dashboard\.enabled=true: .*nothing scrapes them/],
  ];
  it.each(cases)('%s', (_name, args, message) => {
    const r = helm(['template', 'demo', CHART, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
});

describe('values.schema.json refuses bad values before any template runs', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown key (typo)', ['--set', 'gateway.replica=3'], /additional properties 'replica' not allowed|additionalProperties/],
    ['a wrong type', ['--set', 'gateway.replicas=two'], /gateway\/replicas|replicas/],
    ['an unknown failure mode', ['--set', 'portcullis.failureMode=maybe'], /failureMode/],
    ['an Envoy timeout without seconds', ['--set', 'envoy.extAuthz.timeout=250ms'], /timeout/],
    ['a sign-in route with two path kinds', ['--set', 'signIn.routes[0].path.exact=/a', '--set', 'signIn.routes[0].path.prefix=/b'], /path/],
    ['a zone with an unknown usage', ['--set', 'config.zones.office.usage=Allowlist'], /usage/],
    ['an unknown ThreatPolicy action', ['--set', 'config.threatPolicy.spec.action=Deny'], /action/],
  ];
  it.each(cases)('%s', (_name, args, message) => {
    const r = helm(['template', 'demo', CHART, ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/values don't meet the specifications of the schema/);
    expect(r.stderr).toMatch(message);
  });
});

describe('the offline Kubernetes validation catches what an API server would refuse', () => {
  it('unknown fields, wrong types, unknown kinds and objects the CRDs reject', async () => {
    const objects = render(['-f', join(CHART, 'ci/kubernetes-values.yaml')]);
    const deployment = structuredClone(get(objects, 'Deployment'));
    podSpec(deployment).containers[0]!.imagePullPolicie = 'Always';
    const badPort = structuredClone(get(objects, 'Deployment'));
    badPort.metadata.name = 'bad-port';
    podSpec(badPort).containers[0]!.ports[0].containerPort = 'http';
    const zone = structuredClone(get(objects, 'IPZone', 'office'));
    (zone.spec as any).usage = 'Allowlist';
    const odd = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    const issues = (await validateObjects([deployment, badPort, zone, odd])).join('\n');
    expect(issues).toMatch(/Deployment\/demo-portcullis-gateway: .*'"imagePullPolicie"' does not exist/);
    expect(issues).toMatch(/Deployment\/bad-port: .*containerPort must be integer/);
    expect(issues).toMatch(/IPZone\/office: .*must be equal to one of the allowed values/);
    expect(issues).toMatch(/Widget\/w: no schema known/);
  });
});
