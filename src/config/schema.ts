/**
 * The one schema of Portcullis' config objects. The file loader validates against it, and the CRDs under
 * deploy/crds/ are generated from it, so `kubectl apply` and `portcullis check-config` agree.
 * It stays inside the subset Kubernetes accepts for structural schemas (no $ref, no oneOf at the top);
 * `additionalProperties: false` is kept here for strict file validation and dropped when CRDs are generated
 * (the API server prunes unknown fields instead).
 */
export const API_GROUP = 'portcullis.dev';
export const API_VERSION = `${API_GROUP}/v1alpha1`;
export const KINDS = ['IPZone', 'ThreatPolicy'] as const;
export type Kind = (typeof KINDS)[number];

const entryList = (description: string) => ({
  type: 'array',
  description,
  maxItems: 200_000,
  items: { type: 'string', minLength: 1, maxLength: 100 },
});

const routeMatch = {
  type: 'object',
  additionalProperties: false,
  description: 'One sign-in route. A request matches when every field that is set matches.',
  properties: {
    path: {
      type: 'object',
      additionalProperties: false,
      description: 'Exactly one of exact, prefix or regex (matched against the path without the query string).',
      minProperties: 1,
      maxProperties: 1,
      properties: {
        exact: { type: 'string', pattern: '^/' },
        prefix: { type: 'string', pattern: '^/' },
        regex: { type: 'string', minLength: 1, maxLength: 1000 },
      },
    },
    methods: {
      type: 'array',
      items: { type: 'string', enum: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] },
    },
    host: { type: 'string', minLength: 1, description: 'Exact :authority (port ignored), or "*.example.com".' },
  },
};

export const SPEC_SCHEMAS: Record<Kind, object> = {
  IPZone: {
    type: 'object',
    additionalProperties: false,
    required: ['usage'],
    properties: {
      usage: {
        type: 'string',
        enum: ['Policy', 'Blocklist'],
        description: 'Policy zones group addresses for policies (exempt zones) and declare trusted proxies; Blocklist zones deny their gateways.',
      },
      gateways: entryList('Client addresses in the zone: IP, CIDR or range "a-b", IPv4 or IPv6.'),
      proxies: entryList('Trusted proxies (load balancers, CDNs, node CIDRs) whose X-Forwarded-For is believed. Policy zones only.'),
    },
  },
  ThreatPolicy: {
    type: 'object',
    additionalProperties: false,
    properties: {
      action: {
        type: 'string',
        enum: ['None', 'Audit', 'Block'],
        default: 'Audit',
        description: 'None: evaluate and count only. Audit: log and tell the upstream. Block: log and enforce.',
      },
      exemptZones: {
        type: 'array',
        description: 'Names of Policy IPZones whose gateways bypass blocklists and threat evaluation.',
        items: { type: 'string', minLength: 1, maxLength: 253 },
      },
      signIn: {
        type: 'object',
        additionalProperties: false,
        properties: {
          routes: { type: 'array', items: routeMatch, description: 'Sign-in routes. Empty or absent: the documented defaults.' },
          enforceBlocksOnAllRoutes: {
            type: 'boolean',
            default: true,
            description: 'Whether an IP blocked for attacking sign-in is also refused on every other route.',
          },
        },
      },
      username: {
        type: 'object',
        additionalProperties: false,
        description: 'Where sign-in requests carry the username (hashed with the install key at once; never stored or logged raw).',
        properties: {
          fields: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'JSON (dotted path) or form field names, tried in order. Default: username, email, login, user.' },
          header: { type: 'string', pattern: '^[a-z0-9-]+$', description: 'Request header with the username, tried first.' },
        },
      },
      outcomes: {
        type: 'object',
        additionalProperties: false,
        description: 'How a sign-in response becomes failure / success / unknown.',
        properties: {
          failureStatusCodes: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 }, description: 'Default [401, 403].' },
          successStatusCodes: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 }, description: 'Default [200, 201, 204, 302, 303].' },
          resultHeader: { type: 'string', pattern: '^[a-z0-9-]+$', description: 'Response header the app sets to "success" or "failure"; wins over the status. Default x-portcullis-signin-result.' },
        },
      },
      orgUnderAttack: {
        type: 'object',
        additionalProperties: false,
        properties: {
          enabled: { type: 'boolean', default: true, description: 'Detect when the whole org is under attack and switch to aggressive thresholds.' },
        },
      },
    },
  },
};

/** A whole object, in the shape a user would `kubectl apply`. */
export function objectSchema(kind: Kind): object {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['apiVersion', 'kind', 'metadata', 'spec'],
    properties: {
      apiVersion: { const: API_VERSION },
      kind: { const: kind },
      metadata: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$' },
          namespace: { type: 'string' },
        },
      },
      spec: SPEC_SCHEMAS[kind],
      status: { type: 'object' },
    },
  };
}
