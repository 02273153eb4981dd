import { API_GROUP, KINDS, type Kind } from '../../api/schema.ts';

/** The served version of every Portcullis kind. */
export const CRD_VERSION = 'v1alpha1';

/** How each kind appears in the Kubernetes API: the REST names the CRDs declare and the watchers use. */
export interface KindResource {
  readonly kind: Kind;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly listKind: string;
}

const PLURALS: Record<Kind, string> = { IPZone: 'ipzones', ThreatPolicy: 'threatpolicies', ThreatFeed: 'threatfeeds', DynamicZone: 'dynamiczones' };

export const RESOURCES: Readonly<Record<Kind, KindResource>> = Object.freeze(
  Object.fromEntries(
    KINDS.map((kind) => [kind, Object.freeze({
      kind,
      group: API_GROUP,
      version: CRD_VERSION,
      plural: PLURALS[kind],
      singular: kind.toLowerCase(),
      listKind: `${kind}List`,
    })]),
  ) as Record<Kind, KindResource>,
);

export const RESOURCE_LIST: readonly KindResource[] = KINDS.map((k) => RESOURCES[k]);
