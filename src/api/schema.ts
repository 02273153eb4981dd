/**
 * The one schema of Portcullis' config objects. The file loader validates against it, and the CRDs under
 * deploy/crds/ are generated from it, so `kubectl apply` and `portcullis check-config` agree.
 * It stays inside the subset Kubernetes accepts for structural schemas (no $ref, no oneOf at the top);
 * `additionalProperties: false` is kept here for strict file validation and dropped when CRDs are generated
 * (the API server prunes unknown fields instead).
 */
export const API_GROUP = 'portcullis.dev';
export const API_VERSION = `${API_GROUP}/v1alpha1`;
export const KINDS = ['IPZone', 'ThreatPolicy', 'ThreatFeed', 'DynamicZone'] as const;
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

/** RFC 3339 timestamp; a pattern rather than `format`, which ajv's strict mode would reject without ajv-formats. */
const timestamp = { type: 'string', pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$' };
const duration = (description: string, dflt: string) => ({ type: 'string', pattern: '^([0-9]+(ms|s|m|h))+$', default: dflt, description });

// Kept equal to FEED_FORMATS in src/feeds/formats/index.ts (a test checks it); listed here so the schema has no imports.
const FEED_FORMAT_NAMES = ['plain', 'firehol', 'spamhaus-drop', 'spamhaus-drop-json', 'tor-bulk', 'tor-exit-addresses', 'abuseipdb'];

const threatFeedSpec = {
  type: 'object',
  additionalProperties: false,
  required: ['source'],
  properties: {
    source: {
      type: 'object',
      additionalProperties: false,
      description: 'Exactly one of inline, path or http.',
      minProperties: 1,
      maxProperties: 1,
      properties: {
        inline: {
          type: 'array',
          maxItems: 200_000,
          description: 'Entries written in the object itself.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['address'],
            properties: {
              address: { type: 'string', minLength: 1, maxLength: 100, description: 'IP or CIDR.' },
              expires: { ...timestamp, description: 'RFC 3339 time after which the entry no longer counts.' },
            },
          },
        },
        path: { type: 'string', pattern: '^/', description: 'Absolute path of a file (a mounted ConfigMap or volume), re-read when it changes.' },
        http: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', pattern: '^https?://', maxLength: 2048 },
            interval: duration('Refresh interval (ETag / If-Modified-Since honoured).', '1h'),
            timeout: duration('Timeout of one fetch.', '30s'),
            maxBytes: { type: 'integer', minimum: 1, maximum: 1_073_741_824, default: 67_108_864, description: 'Larger bodies are refused and the last good contents kept.' },
          },
        },
      },
    },
    format: { type: 'string', enum: FEED_FORMAT_NAMES, default: 'plain', description: 'Format of a path or http source; inline entries are always IPs or CIDRs.' },
    semantics: {
      type: 'string',
      enum: ['ThreatLevel', 'Blocklist'],
      default: 'ThreatLevel',
      description: 'ThreatLevel: members get `level` as a detector input. Blocklist: members are denied on every route.',
    },
    level: { type: 'string', enum: ['LOW', 'MEDIUM', 'HIGH'], default: 'HIGH', description: 'Threat level of members (ignored for Blocklist semantics).' },
  },
};

const dynamicZoneSpec = {
  type: 'object',
  additionalProperties: false,
  required: ['usage'],
  description: 'Matches clients by what their IP is. Every criterion set must match; within a list one entry is enough.',
  anyOf: [{ required: ['proxyType'] }, { required: ['locations'] }, { required: ['asns'] }],
  properties: {
    usage: { type: 'string', enum: ['Policy', 'Blocklist'] },
    proxyType: { type: 'string', enum: ['Any', 'Tor', 'NotTorAnonymizer'] },
    locations: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['country'],
        properties: {
          country: { type: 'string', pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2.' },
          region: { type: 'string', pattern: '^([A-Za-z]{2}-)?[A-Za-z0-9]{1,3}$', description: 'ISO 3166-2, "US-CA" or "CA".' },
        },
      },
    },
    asns: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 0, maximum: 4_294_967_295 } },
  },
};

// ThreatPolicy spec.detection. Field names are the detectors' own (src/detect/thresholds.ts, org-attack.ts,
// accounts.ts, spray-passwords.ts), with durations written as text: a field `fooMs` there is `foo: "10m"` here.
// Ranges restate what the detectors accept; rules between fields are checked when compiling (src/config/detection.ts).
const detectionDuration = (description: string) => ({ type: 'string', pattern: '^([0-9]+(ms|s|m|h|d))+$', maxLength: 32, description });
const int = (minimum: number, maximum: number, description: string) => ({ type: 'integer', minimum, maximum, description });
const num = (minimum: number, maximum: number, description: string) => ({ type: 'number', minimum, maximum, description });
const section = (description: string, properties: Record<string, object>) => ({ type: 'object', additionalProperties: false, description, properties });
const levelCounts = (max: number, what: string) => ({
  low: int(0, max, `${what} at or above which the level is LOW (0: off).`),
  medium: int(0, max, `${what} for MEDIUM (429 with Block; 0: off).`),
  high: int(0, max, `${what} for HIGH (403 with Block; 0: off).`),
});

/** One profile of the per-IP engine; `windows` false for the aggressive profile, which shares the normal one's. */
function detectionProfile(windows: boolean): Record<string, object> {
  const detector = (description: string, what: string, max: number, extra: Record<string, object> = {}) =>
    section(description, { ...(windows ? { window: detectionDuration('Width of the counting window (whole seconds, 1s..30d).') } : {}), ...levelCounts(max, what), ...extra });
  const shape: Record<string, object> = windows
    ? {
      ipv6PrefixLength: int(1, 128, 'IPv6 clients are tracked per prefix of this length (an attacker rotating inside it is one source). Applies at start.'),
      maxTrackedIps: int(16, 67_108_864, 'Cap on tracked IP keys (the least risky are evicted beyond it). Applies at start.'),
      maxTrackedPairs: int(16, 67_108_864, 'Cap on tracked (IP, account) failure counters. Applies at start.'),
      maxTrackedNetworks: int(16, 16_777_216, 'Cap on tracked /24 and /48 networks. Applies at start.'),
    }
    : {};
  return {
    bruteForceShort: detector('Failed sign-ins per IP, short window (counted exactly).', 'Failures', 250),
    bruteForce: detector('Failed sign-ins per IP, medium window.', 'Failures', 250),
    bruteForceLong: detector('Failed sign-ins per IP, long window.', 'Failures', 250),
    bruteForceLongUnproven: section('The long window\'s counts for IPs never seen to succeed, where lower than bruteForceLong × unprovenFactor (slow guessers).', levelCounts(250, 'Failures')),
    passwordSpray: detector('Distinct usernames failing from one IP (estimated).', 'Usernames', 60),
    unknownUserSpray: detector('Failed sign-ins for usernames that do not exist, per IP.', 'Failures', 250),
    credentialStuffing: detector('Sign-in attempts per IP across many usernames.', 'Attempts', 250, {
      minDistinctUsernames: int(0, 16, 'Distinct usernames in the window before attempts count as stuffing.'),
    }),
    accountTargeted: detector('Failures per (IP, account) since its last success; enforced per pair.', 'Failures', 250),
    persistence: detector('Sign-in attempts an IP sends while refused (429/403), for IPs never seen to succeed.', 'Refused attempts', 250, {
      block: detectionDuration('A HIGH block caused by persistence lasts at least this (escalated like any HIGH block).'),
    }),
    network: detector('Failures per IPv4 /24 or IPv6 /48, enforced on its IPs never seen to succeed.', 'Failures', 250, {
      minDistinctIps: int(1, 30, 'Distinct failing IPs of the network (estimated) before its failures count.'),
    }),
    repeatOffender: section('Remembered HIGH blocks of the IP.', levelCounts(15, 'Remembered offences')),
    successTolerance: section('Damping for IPs that mostly succeed (office NAT, carrier-grade NAT).', {
      minSuccesses: int(0, 250, 'Successes in the bruteForce window before the IP counts as mostly legitimate (0: off).'),
      maxFailureRatio: num(0, 1, '... and at most this share of its sign-ins there failed.'),
      levelsDown: int(0, 3, 'Levels removed from brute_force, password_spray, unknown_user_spray and credential_stuffing.'),
    }),
    unprovenFactor: num(0, 1, 'Count thresholds are multiplied by this (above 0; rounded up, at least 1) for IPs never seen to succeed; 1 is off.'),
    block: detectionDuration('HIGH block for a first offence (403).'),
    escalationFactor: num(1, 16, 'Each remembered offence multiplies the HIGH block by this ...'),
    maxBlock: detectionDuration('... up to this (at most 365d).'),
    offenceMemory: detectionDuration('Offences are remembered this long after the last block ended.'),
    rateLimit: detectionDuration('MEDIUM: the rate-limit block (429 with Retry-After); does not escalate.'),
    ...shape,
  };
}

const detectionSpec = section(
  'Every detection threshold, window and block duration (docs/detection.md has each default and where it comes from). Unset fields keep their defaults. A reload applies them to the running detectors, keeping what they have counted; windows, ipv6PrefixLength, caps, orgUnderAttack.bucket and sketchBits apply at the next start.',
  {
    ...detectionProfile(true),
    aggressive: section('The profile in force while the org is under attack. Unset fields keep the aggressive defaults (not the normal profile\'s); windows, ipv6PrefixLength and caps are the normal profile\'s.', detectionProfile(false)),
    orgUnderAttack: section('Org Under Attack detection (spec.orgUnderAttack.enabled switches it on or off).', {
      bucket: detectionDuration('Bucket width (whole seconds). Applies at start.'),
      halfLife: detectionDuration('Half-life of the baseline (EWMA).'),
      warmup: detectionDuration('History after which the baseline is trusted fully.'),
      coldStart: detectionDuration('History after which the provisional baseline scores (before it: the absolute cold-start rule).'),
      scoreThreshold: num(0, 100, 'A bucket is anomalous above this score (highest z-score of its signals).'),
      clearScore: num(0, 100, 'During an attack a bucket stays anomalous above this lower score.'),
      consecutiveBuckets: int(1, 360, 'Anomalous buckets in a row before declaring.'),
      cooldown: detectionDuration('Time without an anomalous bucket before the attack ends.'),
      minFailures: int(1, 1_000_000, 'Absolute floor: failures per bucket to declare or to stay anomalous.'),
      minSurgeFactor: num(1, 1000, 'Count signals only score at this multiple of their baseline mean.'),
      minRatioIncrease: num(0, 1, 'Ratio signals only score this far above their baseline mean.'),
      minRatioEvents: int(1, 1_000_000, 'Events per bucket for a ratio to count.'),
      sketchBits: int(32, 1_048_576, 'Bits of the distinct-failing-IP sketch (a power of two). Applies at start.'),
      coldStartRatio: num(0, 1, 'Cold start: share of a bucket\'s sign-ins failing for it to be anomalous ...'),
      coldStartDistinctIps: int(1, 100_000, '... from at least this many distinct IPs.'),
    }),
    accounts: section('Familiar sources and accounts under attack (spec.accountProtection.enabled switches them on or off).', {
      maxAccounts: int(16, 10_000_000, 'Accounts remembered (least recently touched evicted first). Applies at start.'),
      familiarPerAccount: int(1, 16, 'Familiar networks remembered per account. Applies at start.'),
      familiar: detectionDuration('How long a success keeps its network familiar to the account.'),
      attackSources: int(1, 64, 'Distinct unfamiliar networks failing on an account within attackWindow that put it under attack.'),
      aggressiveAttackSources: int(1, 64, 'attackSources while Org Under Attack is declared (at most attackSources).'),
      attackWindow: detectionDuration('Window of attackSources.'),
      attackHold: detectionDuration('How long an account stays under attack after the rule was last met.'),
      distinctPasswords: int(2, 64, 'Distinct wrong passwords (fingerprints) failing on an account within attackWindow that make it guessed: strangers get 429 (needs passwordSignals).'),
      staleClient: detectionDuration('A familiar source failing again with the same wrong password within this is a stale client: counted as one failure.'),
    }),
    sprayPasswords: section('Spray passwords (spec.passwordSignals.enabled switches them on or off).', {
      accounts: int(2, 64, 'Distinct accounts failing with one password fingerprint within window that make it a spray password.'),
      aggressiveAccounts: int(2, 64, 'accounts while Org Under Attack is declared (at most accounts).'),
      window: detectionDuration('Window of accounts.'),
      hold: detectionDuration('How long a fingerprint stays a spray password, and a source stays marked, after the last sighting.'),
      maxFingerprints: int(16, 1_048_576, 'Fingerprints being counted. Applies at start.'),
      maxSources: int(16, 10_000_000, 'Sources marked as spraying. Applies at start.'),
    }),
    underAttack: section('While Org Under Attack is declared, sign-ins from these sources are refused (429, Retry-After) unless the source is familiar to the account.', {
      refuseUnfamiliar: { type: 'boolean', description: 'Refuse every source unfamiliar to the account (the strongest reading; after a fresh start nobody is familiar yet).' },
      refuseUnproven: { type: 'boolean', description: 'Refuse sources never seen to succeed on any account.' },
      retryAfter: detectionDuration('Retry-After of that 429 (whole seconds).'),
    }),
    asn: section('Failures per autonomous system, with a GeoLite2-ASN database (--geoip-asn); enforced on IPs never seen to succeed.', {
      window: detectionDuration('Counting window (whole seconds). Applies at start.'),
      low: int(0, 1_000_000, 'Failures of the ASN in the window at or above which it is LOW (0: off).'),
      medium: int(0, 1_000_000, 'Failures for MEDIUM (429 with Block; 0: off).'),
      high: int(0, 1_000_000, 'Failures for HIGH (403 with Block; 0: off).'),
      minDistinctIps: int(1, 30, 'Distinct failing IPs of the ASN (estimated) before its failures count.'),
      maxFailureRatio: num(0, 1, 'An ASN with at most this share of its sign-ins failing is not attacking (a residential ISP).'),
      maxTrackedAsns: int(16, 1_048_576, 'Cap on tracked ASNs (the quietest of 4 sampled is replaced beyond it). Applies at start.'),
    }),
  },
);

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
      accountProtection: {
        type: 'object',
        additionalProperties: false,
        description: 'Per hashed account: networks that recently signed in are familiar; an account failing from many distinct unfamiliar sources is under attack and refuses unfamiliar sources (429) while familiar ones go on.',
        properties: {
          enabled: { type: 'boolean', default: true, description: 'Keep familiar sources and refuse strangers on accounts under attack.' },
        },
      },
      passwordSignals: {
        type: 'object',
        additionalProperties: false,
        description: 'Opt-in: a 20-bit keyed fingerprint of the submitted password (never the password, never a full hash) finds spray passwords: one password failing on many accounts. Needs with_request_body.',
        properties: {
          enabled: { type: 'boolean', default: false, description: 'Read and fingerprint the password field of sign-in bodies.' },
          fields: { type: 'array', maxItems: 8, items: { type: 'string', minLength: 1, maxLength: 64 }, description: 'JSON (dotted path) or form field names, tried in order. Default: password, passwd, pass.' },
        },
      },
      detection: detectionSpec,
    },
  },
  ThreatFeed: threatFeedSpec,
  DynamicZone: dynamicZoneSpec,
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

/**
 * Kubernetes-only hints for the generated CRDs (scripts/gen-crds.ts): short names, `kubectl get` columns and CEL
 * rules checked at `kubectl apply` time. Each rule restates a check the runtime validator (validate + compile)
 * also makes, so a rule can never refuse an object that `portcullis check-config` accepts (a test holds them
 * to that). Rules only use O(1) operations: a rule that iterated a 200k-entry list would blow the API
 * server's CEL cost budget and the CRD would be refused.
 */
export interface CrdHints {
  readonly shortNames: readonly string[];
  readonly printerColumns: ReadonlyArray<{ readonly name: string; readonly type: 'string' | 'integer' | 'date'; readonly jsonPath: string; readonly priority?: number }>;
  /** x-kubernetes-validations on `spec`. */
  readonly specRules: ReadonlyArray<{ readonly rule: string; readonly message: string }>;
}

const READY_COLUMN = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' } as const;
const AGE_COLUMN = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' } as const;

export const CRD_HINTS: Record<Kind, CrdHints> = {
  IPZone: {
    shortNames: ['ipz'],
    printerColumns: [
      { name: 'Usage', type: 'string', jsonPath: '.spec.usage' },
      { name: 'Entries', type: 'integer', jsonPath: '.status.entries' },
      READY_COLUMN,
      AGE_COLUMN,
    ],
    specRules: [
      {
        rule: "self.usage == 'Policy' || !has(self.proxies) || size(self.proxies) == 0",
        message: 'proxies are only allowed on Policy zones (a blocklisted address cannot be a trusted proxy)',
      },
    ],
  },
  ThreatPolicy: {
    shortNames: ['tpol'],
    printerColumns: [
      { name: 'Action', type: 'string', jsonPath: '.spec.action' },
      { name: 'Attack', type: 'string', jsonPath: '.status.orgUnderAttack.state' },
      READY_COLUMN,
      AGE_COLUMN,
    ],
    specRules: [],
  },
  ThreatFeed: {
    shortNames: ['tfeed'],
    printerColumns: [
      { name: 'Format', type: 'string', jsonPath: '.spec.format' },
      { name: 'Semantics', type: 'string', jsonPath: '.spec.semantics' },
      { name: 'Level', type: 'string', jsonPath: '.spec.level' },
      { name: 'Entries', type: 'integer', jsonPath: '.status.entries' },
      { name: 'Refreshed', type: 'date', jsonPath: '.status.lastRefreshTime' },
      READY_COLUMN,
      AGE_COLUMN,
    ],
    specRules: [],
  },
  DynamicZone: {
    shortNames: ['dz'],
    printerColumns: [
      { name: 'Usage', type: 'string', jsonPath: '.spec.usage' },
      { name: 'Proxy-Type', type: 'string', jsonPath: '.spec.proxyType' },
      READY_COLUMN,
      AGE_COLUMN,
    ],
    specRules: [
      { rule: 'has(self.proxyType) || has(self.locations) || has(self.asns)', message: 'set proxyType, locations or asns: a dynamic zone with no criteria matches nothing' },
    ],
  },
};
