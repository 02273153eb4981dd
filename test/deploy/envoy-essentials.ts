import { expect } from 'vitest';
import { EnvoyProtoValidator } from '../helpers/envoy-proto.ts';

/* What every Envoy config we ship must get right, beyond parsing: checked on the files in deploy/envoy and on
   every config the chart renders. */

type Obj = Record<string, any>; // walked after proto validation

let validator: EnvoyProtoValidator | undefined;
export const envoyValidator = () => (validator ??= new EnvoyProtoValidator());

const EXT_AUTHZ = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';
const PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute';
const ALS = 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig';
const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

export interface Expectations {
  failureModeAllow: boolean;
  /** Sign-in route matchers in order, as Envoy RouteMatch path specifiers. */
  signInPaths: readonly Obj[];
  portcullisPort?: number;
  maxTimeoutSeconds?: number;
}

/** Parses and proto-validates a bootstrap, then asserts the essentials; returns the parsed config. */
export function checkEnvoyConfig(yamlText: string, want: Expectations): Obj {
  const { config, issues } = envoyValidator().validateBootstrapYaml(yamlText);
  expect(issues).toEqual([]);
  const c = config as Obj;
  const ingress = c.static_resources.listeners.find((l: Obj) => l.name === 'ingress');
  const hcm = ingress.filter_chains[0].filters[0].typed_config;
  expect(hcm['@type']).toBe(HCM);
  expect(hcm.use_remote_address, 'the peer must be appended to X-Forwarded-For').toBe(true);

  // ext_authz: before the router, V3, bounded timeout, the chosen failure mode, bodies for sign-in.
  const names = hcm.http_filters.map((f: Obj) => f.name);
  expect(names.at(-1)).toBe('envoy.filters.http.router');
  const authz = hcm.http_filters.find((f: Obj) => f.typed_config['@type'] === EXT_AUTHZ).typed_config;
  expect(authz.transport_api_version).toBe('V3');
  expect(authz.grpc_service.envoy_grpc.cluster_name).toBe('portcullis');
  const timeout = Number.parseFloat(authz.grpc_service.timeout);
  expect(timeout).toBeGreaterThan(0);
  expect(timeout).toBeLessThanOrEqual(want.maxTimeoutSeconds ?? 1);
  expect(authz.failure_mode_allow).toBe(want.failureModeAllow);
  expect(authz.with_request_body.max_request_bytes).toBeGreaterThan(0);
  expect(authz.with_request_body.allow_partial_message, 'without it a large body gets 413 before any check').toBe(true);

  // Routes: each sign-in route keeps the body; everything else is checked without buffering it.
  const routes: Obj[] = hcm.route_config.virtual_hosts.flatMap((v: Obj) => v.routes);
  const perRoute = (r: Obj) => r.typed_per_filter_config?.['envoy.filters.http.ext_authz'];
  const signIn = routes.filter((r) => r.name?.startsWith('sign-in'));
  expect(signIn.map((r) => { const { headers: _h, ...path } = r.match; return path; })).toEqual(want.signInPaths);
  for (const r of signIn) {
    expect(perRoute(r)['@type']).toBe(PER_ROUTE);
    expect(perRoute(r).check_settings.disable_request_body_buffering ?? false).toBe(false);
    expect(perRoute(r).disabled, 'sign-in routes must be checked').toBeUndefined();
  }
  const rest = routes.filter((r) => !r.name?.startsWith('sign-in'));
  expect(rest.length).toBeGreaterThan(0);
  for (const r of rest) {
    expect(perRoute(r)?.disabled, 'blocks apply on every route').toBeUndefined();
    expect(perRoute(r)?.check_settings?.disable_request_body_buffering).toBe(true);
  }
  expect(routes.indexOf(rest[0]!), 'sign-in routes must come before the catch-all').toBe(signIn.length);

  // Outcomes: the gRPC access log goes to Portcullis, carrying x-request-id for correlation.
  const als = hcm.access_log.find((a: Obj) => a.typed_config['@type'] === ALS).typed_config;
  expect(als.common_config.transport_api_version).toBe('V3');
  expect(als.common_config.grpc_service.envoy_grpc.cluster_name).toBe('portcullis');
  expect(als.additional_request_headers_to_log).toContain('x-request-id');

  // The portcullis cluster speaks HTTP/2 to the sidecar on loopback.
  const cluster = c.static_resources.clusters.find((x: Obj) => x.name === 'portcullis');
  const opts = cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'];
  expect(opts.explicit_http_config.http2_protocol_options).toEqual({});
  const address = cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
  expect(address).toEqual({ address: '127.0.0.1', port_value: want.portcullisPort ?? 9001 });
  expect(c.admin.address.socket_address.address, 'the admin API stays on loopback').toBe('127.0.0.1');
  return c;
}

/** The Envoy route path matcher for a Portcullis sign-in route ({path: {exact|prefix|regex}}). */
export function envoyPath(route: { path: { exact?: string; prefix?: string; regex?: string } }): Obj {
  if (route.path.exact) return { path: route.path.exact };
  if (route.path.prefix) return { prefix: route.path.prefix };
  return { safe_regex: { regex: route.path.regex } };
}
