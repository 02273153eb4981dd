import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import protobuf from 'protobufjs';
import { parseAllDocuments } from 'yaml';

/**
 * Checks Envoy config (YAML/JSON) against Envoy's own proto types, the way Envoy's loader does: proto3 JSON
 * mapping, unknown fields rejected, every `Any` (typed_config) resolved by its type URL and checked in turn,
 * oneofs, enums, well-known types, deprecated fields, and the protoc-gen-validate rules Envoy enforces most
 * often (required messages and oneofs, string min_len, repeated min_items, numeric and duration bounds).
 * The protos come from the pinned @grpc/grpc-js-xds package, like the service protos in src/gen.
 */

const require = createRequire(import.meta.url);
const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const INCLUDE = [...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)), dirname(require.resolve('protobufjs/package.json'))];

type Field = protobuf.Field;
type Rules = Record<string, unknown>;

export class EnvoyProtoValidator {
  readonly #root = new protobuf.Root();
  readonly #byPackage = new Map<string, string[]>();
  readonly #loaded = new Set<string>();
  readonly #names = new Map<protobuf.Type, Map<string, Field>>();

  constructor() {
    this.#root.resolvePath = (_origin, target) => {
      if (target in protobuf.common) return target;
      return INCLUDE.map((d) => join(d, target)).find(existsSync) ?? target;
    };
    // package → files, so a type named only in an Any can be loaded on demand.
    const scan = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) scan(p);
        else if (e.name.endsWith('.proto')) {
          const pkg = /^package\s+([\w.]+)\s*;/m.exec(readFileSync(p, 'utf8'))?.[1];
          if (pkg) this.#byPackage.set(pkg, [...(this.#byPackage.get(pkg) ?? []), relative(INCLUDE.find((d) => p.startsWith(d))!, p)]);
        }
      }
    };
    for (const d of INCLUDE.slice(0, 4)) scan(d);
  }

  /** The message type for a fully-qualified name, loading its package's protos when first needed. */
  type(fullName: string): protobuf.Type | undefined {
    const found = this.#lookup(fullName);
    if (found) return found;
    for (let pkg = fullName; pkg.includes('.');) {
      pkg = pkg.slice(0, pkg.lastIndexOf('.'));
      const files = (this.#byPackage.get(pkg) ?? []).filter((f) => !this.#loaded.has(f));
      if (files.length === 0) continue;
      for (const f of files) this.#loaded.add(f);
      this.#root.loadSync(files, { keepCase: true });
      this.#root.resolveAll();
      return this.#lookup(fullName);
    }
    return undefined;
  }

  #lookup(name: string): protobuf.Type | undefined {
    try {
      return this.#root.lookupType(name);
    } catch {
      return undefined;
    }
  }

  /** Problems found in `value` as a `typeName` message, each as "path: message"; empty when valid. */
  validate(typeName: string, value: unknown): string[] {
    const type = this.type(typeName);
    if (!type) return [`type ${typeName} not found in the Envoy protos`];
    const issues: string[] = [];
    this.#message(type, value, '$', issues);
    return issues;
  }

  /** Parses YAML (one document) like Envoy's --config-path and validates it as a Bootstrap. */
  validateBootstrapYaml(text: string): { config: unknown; issues: string[] } {
    const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false });
    if (docs.length !== 1) return { config: undefined, issues: [`expected one YAML document, found ${docs.length}`] };
    const doc = docs[0]!;
    if (doc.errors.length) return { config: undefined, issues: doc.errors.map((e) => `yaml: ${e.message}`) };
    const config = doc.toJS({ maxAliasCount: 100 });
    return { config, issues: this.validate('envoy.config.bootstrap.v3.Bootstrap', config) };
  }

  #fieldsByName(type: protobuf.Type): Map<string, Field> {
    let m = this.#names.get(type);
    if (!m) {
      m = new Map();
      for (const f of type.fieldsArray) {
        m.set(f.name, f);
        m.set(protobuf.util.camelCase(f.name), f);
      }
      this.#names.set(type, m);
    }
    return m;
  }

  #message(type: protobuf.Type, value: unknown, path: string, issues: string[]): void {
    const name = type.fullName.slice(1);
    if (WELL_KNOWN[name]) {
      const problem = WELL_KNOWN[name](value, (t, v, p) => this.#message(this.type(t)!, v, p, issues), path, this);
      if (problem) issues.push(`${path}: ${problem}`);
      return;
    }
    if (value === null) return; // proto3 JSON: null is the default message
    if (typeof value !== 'object' || Array.isArray(value)) return void issues.push(`${path}: expected an object for ${name}`);
    const obj = value as Record<string, unknown>;
    const byName = this.#fieldsByName(type);
    const seen = new Set<Field>();
    for (const [key, v] of Object.entries(obj)) {
      const field = byName.get(key);
      if (!field) {
        issues.push(`${path}: unknown field "${key}" in ${name}`);
        continue;
      }
      if (seen.has(field)) issues.push(`${path}: field ${field.name} given twice (as snake_case and camelCase)`);
      seen.add(field);
      if (field.options?.deprecated) issues.push(`${path}.${key}: deprecated field ${name}.${field.name}`);
      this.#field(field, v, `${path}.${key}`, issues);
    }
    for (const oneof of type.oneofsArray) {
      const set = oneof.fieldsArray.filter((f) => seen.has(f) && obj[f.name] !== null && obj[protobuf.util.camelCase(f.name)] !== null);
      if (set.length > 1) issues.push(`${path}: oneof ${oneof.name} has ${set.map((f) => f.name).join(' and ')}; at most one may be set`);
      if (set.length === 0 && oneof.options?.['(validate.required)']) issues.push(`${path}: oneof ${oneof.name} of ${name} requires one of ${oneof.fieldsArray.map((f) => f.name).join(', ')}`);
    }
    for (const field of type.fieldsArray) {
      if (seen.has(field) || field.partOf) continue; // a oneof member's rules apply only when it is the one set
      const r = rules(field);
      if (r['message.required'] || r['any.required']) issues.push(`${path}: missing required field ${field.name} of ${name}`);
      else if (typeof r['string.min_len'] === 'number' && r['string.min_len'] > 0 && !r['string.ignore_empty']) issues.push(`${path}: missing field ${field.name} of ${name} (must be non-empty)`);
      else if (typeof r['repeated.min_items'] === 'number' && r['repeated.min_items'] > 0 && !r['repeated.ignore_empty']) issues.push(`${path}: missing field ${field.name} of ${name} (needs ≥ ${r['repeated.min_items']} items)`);
    }
  }

  #field(field: Field, value: unknown, path: string, issues: string[]): void {
    const r = rules(field);
    if (field.map) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return void issues.push(`${path}: expected a map`);
      for (const [k, v] of Object.entries(value)) this.#single(field, v, `${path}[${JSON.stringify(k)}]`, issues, r);
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value)) return void issues.push(`${path}: expected a list`);
      const min = r['repeated.min_items'];
      if (typeof min === 'number' && value.length < min) issues.push(`${path}: needs at least ${min} items`);
      value.forEach((v, i) => this.#single(field, v, `${path}[${i}]`, issues, r));
      return;
    }
    this.#single(field, value, path, issues, r);
  }

  #single(field: Field, value: unknown, path: string, issues: string[], r: Rules): void {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      this.#message(resolved, value, path, issues);
      if (resolved.fullName === '.google.protobuf.Duration' && typeof value === 'string') checkDuration(value, r, path, issues);
      if (resolved.fullName.startsWith('.google.protobuf.') && resolved.fullName.endsWith('Value')) checkNumber(value, r, path, issues);
      return;
    }
    if (resolved instanceof protobuf.Enum) {
      if (value === null && resolved.fullName === '.google.protobuf.NullValue') return;
      if (typeof value === 'string' ? !(value in resolved.values) : !(Number.isInteger(value) && (!r['enum.defined_only'] || Object.values(resolved.values).includes(value as number))))
        issues.push(`${path}: ${JSON.stringify(value)} is not a value of ${resolved.fullName.slice(1)} (${Object.keys(resolved.values).join(', ')})`);
      return;
    }
    const problem = scalar(field.type, value);
    if (problem) return void issues.push(`${path}: ${problem}`);
    if (typeof value === 'string' && typeof r['string.min_len'] === 'number' && value.length < r['string.min_len']) issues.push(`${path}: must be at least ${r['string.min_len']} characters`);
    checkNumber(value, r, path, issues);
  }
}

/** PGV rules of a field, keyed without the "(validate.rules)." prefix. */
function rules(field: Field): Rules {
  const out: Rules = {};
  for (const [k, v] of Object.entries(field.options ?? {})) if (k.startsWith('(validate.rules).')) out[k.slice(17)] = v;
  return out;
}

const INT_RANGES: Record<string, [number, number]> = {
  int32: [-(2 ** 31), 2 ** 31 - 1], sint32: [-(2 ** 31), 2 ** 31 - 1], sfixed32: [-(2 ** 31), 2 ** 31 - 1],
  uint32: [0, 2 ** 32 - 1], fixed32: [0, 2 ** 32 - 1],
};

function scalar(type: string, v: unknown): string | undefined {
  switch (type) {
    case 'string': return typeof v === 'string' ? undefined : `expected a string, got ${JSON.stringify(v)}`;
    case 'bool': return typeof v === 'boolean' ? undefined : `expected true or false, got ${JSON.stringify(v)}`;
    case 'bytes': return typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v) ? undefined : 'expected base64 bytes';
    case 'double': case 'float':
      return typeof v === 'number' || (typeof v === 'string' && /^(NaN|-?Infinity|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/.test(v)) ? undefined : `expected a number, got ${JSON.stringify(v)}`;
    default: {
      const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n)) return `expected an integer (${type}), got ${JSON.stringify(v)}`;
      const range = INT_RANGES[type] ?? (type.startsWith('u') || type === 'fixed64' ? [0, Number.MAX_SAFE_INTEGER] : undefined);
      return range && (n < range[0] || n > range[1]) ? `${n} is out of range for ${type}` : undefined;
    }
  }
}

function checkNumber(value: unknown, r: Rules, path: string, issues: string[]): void {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : undefined;
  if (n === undefined) return;
  for (const [key, bound] of Object.entries(r)) {
    const op = /^(?:u?int(?:32|64)|double|float)\.(gt|gte|lt|lte)$/.exec(key)?.[1];
    if (!op || typeof bound !== 'number') continue;
    const ok = op === 'gt' ? n > bound : op === 'gte' ? n >= bound : op === 'lt' ? n < bound : n <= bound;
    if (!ok) issues.push(`${path}: ${n} must be ${op} ${bound}`);
  }
}

function durationSeconds(text: string): number | undefined {
  const m = /^(-?\d+(?:\.\d{1,9})?)s$/.exec(text);
  return m ? Number(m[1]) : undefined;
}

function checkDuration(text: string, r: Rules, path: string, issues: string[]): void {
  const s = durationSeconds(text);
  if (s === undefined) return;
  for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
    const secs = r[`duration.${op}.seconds`], nanos = r[`duration.${op}.nanos`];
    if (secs === undefined && nanos === undefined) continue;
    const bound = Number(secs ?? 0) + Number(nanos ?? 0) / 1e9;
    const ok = op === 'gt' ? s > bound : op === 'gte' ? s >= bound : op === 'lt' ? s < bound : s <= bound;
    if (!ok) issues.push(`${path}: duration ${text} must be ${op} ${bound}s`);
  }
  // `duration = {gt {}}` carries no values in the parsed options; Envoy's most common rule, so apply it here.
  if (s < 0) issues.push(`${path}: negative duration ${text}`);
}

type Recurse = (typeName: string, value: unknown, path: string) => void;
type WellKnown = (value: unknown, recurse: Recurse, path: string, v: EnvoyProtoValidator) => string | undefined;

const wrapper = (scalarType: string): WellKnown => (v) => (v === null ? undefined : scalar(scalarType, v));

/** Well-known types have their own JSON forms (proto3 JSON mapping). */
const WELL_KNOWN: Record<string, WellKnown> = {
  'google.protobuf.Duration': (v) => (typeof v === 'string' && durationSeconds(v) !== undefined ? undefined : `expected a duration like "0.25s", got ${JSON.stringify(v)}`),
  'google.protobuf.Timestamp': (v) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? undefined : 'expected an RFC 3339 timestamp'),
  'google.protobuf.FieldMask': (v) => (typeof v === 'string' ? undefined : 'expected a field mask string'),
  'google.protobuf.Empty': (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0 ? undefined : 'expected {}'),
  'google.protobuf.Struct': (v) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? undefined : 'expected an object'),
  'google.protobuf.Value': () => undefined,
  'google.protobuf.ListValue': (v) => (Array.isArray(v) ? undefined : 'expected a list'),
  'google.protobuf.DoubleValue': wrapper('double'), 'google.protobuf.FloatValue': wrapper('float'),
  'google.protobuf.Int64Value': wrapper('int64'), 'google.protobuf.UInt64Value': wrapper('uint64'),
  'google.protobuf.Int32Value': wrapper('int32'), 'google.protobuf.UInt32Value': wrapper('uint32'),
  'google.protobuf.BoolValue': wrapper('bool'), 'google.protobuf.StringValue': wrapper('string'),
  'google.protobuf.BytesValue': wrapper('bytes'),
  'google.protobuf.Any': (v, recurse, path, validator) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'expected an Any object with "@type"';
    const { '@type': url, ...rest } = v as Record<string, unknown>;
    if (typeof url !== 'string' || !url.includes('/')) return 'Any without a "@type" URL';
    const typeName = url.slice(url.lastIndexOf('/') + 1);
    if (!validator.type(typeName)) return `unknown type ${typeName} in "@type" (not in the Envoy protos)`;
    // An Any holding a well-known type carries its JSON form under "value".
    recurse(typeName, WELL_KNOWN[typeName] ? rest.value : rest, `${path}<${typeName.split('.').pop()}>`);
    return undefined;
  },
};
