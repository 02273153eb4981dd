import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkEnvoyConfig, envoyPath, envoyValidator } from './envoy-essentials.ts';

// The shipped Envoy configs, parsed against Envoy's own protos (no Envoy binary can be installed here).
const SIGN_IN = parse(readFileSync('deploy/manifests/values.yaml', 'utf8')).signIn?.routes
  ?? parse(readFileSync('charts/portcullis/values.yaml', 'utf8')).signIn.routes;

describe('deploy/envoy configs are valid Envoy bootstraps with the essentials', () => {
  it.each(['deploy/envoy/envoy.yaml', 'deploy/envoy/sidecar-envoy.yaml'])('%s', (file) => {
    const c = checkEnvoyConfig(readFileSync(file, 'utf8'), { failureModeAllow: true, signInPaths: SIGN_IN.map(envoyPath) });
    const upstream = c.static_resources.clusters.find((x: { name: string }) => x.name === 'upstream');
    expect(upstream.type).toBe(file.includes('sidecar') ? 'STATIC' : 'STRICT_DNS');
  });

  it('the README wiring snippet is valid too (its filters and cluster)', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /## Wiring Envoy[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const snippet = parse(block!.replace(/^\s*# or over a Unix socket.*$/m, ''));
    for (const f of snippet.http_filters) expect(envoyValidator().validate('envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter', f)).toEqual([]);
    for (const c of snippet.clusters) expect(envoyValidator().validate('envoy.config.cluster.v3.Cluster', c)).toEqual([]);
  });
});

describe('the proto validator rejects what Envoy rejects', () => {
  const base = () => parse(readFileSync('deploy/envoy/envoy.yaml', 'utf8'));
  const hcm = (c: any) => c.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const cases: [string, (c: any) => void, RegExp][] = [
    ['an unknown field inside a typed_config', (c) => { hcm(c).http_filters[0].typed_config.failure_mode_alow = true; }, /unknown field "failure_mode_alow" in envoy.extensions.filters.http.ext_authz.v3.ExtAuthz/],
    ['an Any of a type Envoy does not have', (c) => { hcm(c).access_log[0].typed_config['@type'] = 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLog'; }, /unknown type .*HttpGrpcAccessLog in "@type"/],
    ['a Go-style duration', (c) => { hcm(c).http_filters[0].typed_config.grpc_service.timeout = '250ms'; }, /expected a duration like "0.25s"/],
    ['an enum value that does not exist', (c) => { hcm(c).http_filters[0].typed_config.transport_api_version = 'V4'; }, /"V4" is not a value of envoy.config.core.v3.ApiVersion/],
    ['a deprecated field', (c) => { c.static_resources.clusters[0].http2_protocol_options = {}; }, /deprecated field envoy.config.cluster.v3.Cluster.http2_protocol_options/],
    ['two members of a oneof', (c) => { hcm(c).route_config.virtual_hosts[0].routes[0].match.prefix = '/'; }, /oneof path_specifier has .* at most one/],
    ['a missing required field', (c) => { delete hcm(c).stat_prefix; }, /missing field stat_prefix/],
    ['a port out of range', (c) => { c.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 70000; }, /70000 must be lte 65535|out of range/],
    ['a string where a bool belongs', (c) => { hcm(c).http_filters[0].typed_config.failure_mode_allow = 'true'; }, /expected true or false/],
  ];
  it.each(cases)('%s', (_name, mutate, message) => {
    const c = base();
    mutate(c);
    const issues = envoyValidator().validate('envoy.config.bootstrap.v3.Bootstrap', c);
    expect(issues.join('\n')).toMatch(message);
  });

  it('rejects duplicate YAML keys, as Envoy does', () => {
    const { issues } = envoyValidator().validateBootstrapYaml('admin: {}\nadmin: {}\n');
    expect(issues.join()).toMatch(/yaml: .*[Mm]ap keys must be unique/);
  });
});
