import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { API_VERSION, KINDS, objectSchema, type Kind } from '../api/schema.ts';
import type { ConfigIssue, ConfigObject, Origin } from '../api/objects.ts';

const require = createRequire(import.meta.url);
let validators: Map<Kind, ValidateFunction> | undefined;

/**
 * Validators compile once per thread, at the first validation (ajv generates code, so keep it out of reloads).
 * Loaded on first use, not at import: `serve` validates files on the reload worker thread only, and ajv with
 * the compiled schemas is ~15-30 MB of RSS a main thread that never validates would carry (docs/benchmarks.md,
 * Idle RSS). require() keeps validateObject synchronous; ajv is CommonJS.
 */
function validatorOf(kind: Kind): ValidateFunction {
  if (!validators) {
    const { Ajv } = require('ajv') as typeof import('ajv');
    // strictRequired off: "anyOf: [{required: [a]}, {required: [b]}]" (at least one criterion) names properties defined one level up.
    const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, useDefaults: false });
    validators = new Map(KINDS.map((k) => [k, ajv.compile(objectSchema(k))]));
  }
  return validators.get(kind)!;
}

function isKind(k: unknown): k is Kind {
  return typeof k === 'string' && (KINDS as readonly string[]).includes(k);
}

/** "/spec/gateways/3" -> "spec.gateways[3]" */
function fieldOf(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    out = out ? `${out}.${extra}` : extra;
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    out = out ? `${out}.${missing}` : missing;
  }
  return out || '(object)';
}

function messageOf(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties': return 'unknown field';
    case 'required': return 'is required';
    case 'enum': return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'const': return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    default: return e.message ?? e.keyword;
  }
}

/** Validates one parsed document. Returns the typed object, or issues naming each bad field. */
export function validateObject(raw: unknown, origin: Origin): { object: ConfigObject } | { issues: ConfigIssue[] } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { issues: [{ origin, code: 'CONFIG_SCHEMA', message: 'a config document must be a mapping with apiVersion, kind, metadata and spec' }] };
  }
  const doc = raw as Record<string, unknown>;
  const name = typeof (doc.metadata as { name?: unknown } | undefined)?.name === 'string'
    ? (doc.metadata as { name: string }).name : undefined;
  if (!isKind(doc.kind)) {
    return { issues: [{ origin, name, field: 'kind', code: 'CONFIG_SCHEMA', message: `unknown kind ${JSON.stringify(doc.kind)}; expected one of ${KINDS.join(', ')} (apiVersion ${API_VERSION})` }] };
  }
  const kind: Kind = doc.kind;
  const validate = validatorOf(kind);
  if (!validate(doc)) {
    const issues = (validate.errors ?? []).map((e) => ({ origin, kind, name, field: fieldOf(e), code: 'CONFIG_SCHEMA' as const, message: messageOf(e) }));
    return { issues };
  }
  const metadata = doc.metadata as { name: string; namespace?: string };
  return {
    object: {
      kind,
      name: metadata.name,
      namespace: metadata.namespace,
      spec: doc.spec,
      origin,
    } as ConfigObject,
  };
}
