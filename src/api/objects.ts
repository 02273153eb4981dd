import type { ErrorCode } from '../errors.ts';
/** Config objects after schema validation: the input of compile(). */
export interface Origin {
  /** File path, or "kubernetes" for objects read from the API server. */
  readonly source: string;
  /** 0-based document index within a multi-document file. */
  readonly document?: number;
}

export interface RouteMatchSpec {
  readonly path?: { readonly exact?: string; readonly prefix?: string; readonly regex?: string };
  readonly methods?: readonly string[];
  readonly host?: string;
}

export interface IPZoneSpec {
  readonly usage: 'Policy' | 'Blocklist';
  readonly gateways?: readonly string[];
  readonly proxies?: readonly string[];
}

export interface ThreatPolicySpec {
  readonly action?: 'None' | 'Audit' | 'Block';
  readonly exemptZones?: readonly string[];
  readonly signIn?: { readonly routes?: readonly RouteMatchSpec[]; readonly enforceBlocksOnAllRoutes?: boolean };
  readonly username?: { readonly fields?: readonly string[]; readonly header?: string };
  readonly outcomes?: { readonly failureStatusCodes?: readonly number[]; readonly successStatusCodes?: readonly number[]; readonly resultHeader?: string };
  readonly orgUnderAttack?: { readonly enabled?: boolean };
  readonly accountProtection?: { readonly enabled?: boolean };
  readonly passwordSignals?: { readonly enabled?: boolean; readonly fields?: readonly string[] };
  readonly detection?: DetectionSpec;
}

/** One per-IP detector in spec.detection (window absent in the aggressive profile). Durations are text ("10m"). */
export interface DetectorSpec {
  readonly window?: string;
  readonly low?: number;
  readonly medium?: number;
  readonly high?: number;
  readonly minDistinctUsernames?: number;
  readonly minDistinctIps?: number;
  readonly block?: string;
}

/** A profile of the per-IP engine: the fields of src/detect/thresholds.ts, `fooMs` written `foo: "<duration>"`. */
export interface DetectionProfileSpec {
  readonly bruteForceShort?: DetectorSpec;
  readonly bruteForce?: DetectorSpec;
  readonly bruteForceLong?: DetectorSpec;
  readonly bruteForceLongUnproven?: { readonly low?: number; readonly medium?: number; readonly high?: number };
  readonly passwordSpray?: DetectorSpec;
  readonly unknownUserSpray?: DetectorSpec;
  readonly credentialStuffing?: DetectorSpec;
  readonly accountTargeted?: DetectorSpec;
  readonly persistence?: DetectorSpec;
  readonly network?: DetectorSpec;
  readonly repeatOffender?: { readonly low?: number; readonly medium?: number; readonly high?: number };
  readonly successTolerance?: { readonly minSuccesses?: number; readonly maxFailureRatio?: number; readonly levelsDown?: number };
  readonly unprovenFactor?: number;
  readonly block?: string;
  readonly escalationFactor?: number;
  readonly maxBlock?: string;
  readonly offenceMemory?: string;
  readonly rateLimit?: string;
  readonly ipv6PrefixLength?: number;
  readonly maxTrackedIps?: number;
  readonly maxTrackedPairs?: number;
  readonly maxTrackedNetworks?: number;
}

/** ThreatPolicy spec.detection (src/api/schema.ts; compiled by src/config/detection.ts). */
export interface DetectionSpec extends DetectionProfileSpec {
  readonly aggressive?: DetectionProfileSpec;
  readonly orgUnderAttack?: Readonly<Record<string, number | string>>;
  readonly accounts?: Readonly<Record<string, number | string>>;
  readonly sprayPasswords?: Readonly<Record<string, number | string>>;
  readonly underAttack?: Readonly<Record<string, number | string | boolean>>;
  readonly asn?: Readonly<Record<string, number | string>>;
}

export interface ThreatFeedSpec {
  readonly source: {
    readonly inline?: ReadonlyArray<{ readonly address: string; readonly expires?: string }>;
    readonly path?: string;
    readonly http?: { readonly url: string; readonly interval?: string; readonly timeout?: string; readonly maxBytes?: number };
  };
  readonly format?: 'plain' | 'firehol' | 'spamhaus-drop' | 'spamhaus-drop-json' | 'tor-bulk' | 'tor-exit-addresses' | 'abuseipdb';
  readonly semantics?: 'ThreatLevel' | 'Blocklist';
  readonly level?: 'LOW' | 'MEDIUM' | 'HIGH';
}

export interface DynamicZoneSpec {
  readonly usage: 'Policy' | 'Blocklist';
  readonly proxyType?: 'Any' | 'Tor' | 'NotTorAnonymizer';
  readonly locations?: ReadonlyArray<{ readonly country: string; readonly region?: string }>;
  readonly asns?: readonly number[];
}

interface Base<K extends string, S> {
  readonly kind: K;
  readonly name: string;
  readonly namespace?: string;
  readonly spec: S;
  readonly origin: Origin;
}

export type IPZoneObject = Base<'IPZone', IPZoneSpec>;
export type ThreatPolicyObject = Base<'ThreatPolicy', ThreatPolicySpec>;
export type ThreatFeedObject = Base<'ThreatFeed', ThreatFeedSpec>;
export type DynamicZoneObject = Base<'DynamicZone', DynamicZoneSpec>;
export type ConfigObject = IPZoneObject | ThreatPolicyObject | ThreatFeedObject | DynamicZoneObject;

/** A problem with one object, worded for the person who wrote it. */
export interface ConfigIssue {
  readonly origin: Origin;
  readonly kind?: string;
  readonly name?: string;
  /** JSON-path-like field, e.g. "spec.gateways[3]". */
  readonly field?: string;
  readonly message: string;
  /** Stable code for logs and portcullis_errors_total (docs/errors.md). */
  readonly code: ErrorCode;
}

export function describeIssue(i: ConfigIssue): string {
  const where = i.origin.document === undefined ? i.origin.source : `${i.origin.source} (document ${i.origin.document + 1})`;
  const what = i.kind ? ` ${i.kind}${i.name ? ` "${i.name}"` : ''}` : '';
  if (!what && !i.field) return `${where}: ${i.message}`;
  const field = i.field ? ` ${i.field}:` : ':';
  return `${where}:${what}${field} ${i.message}`;
}
