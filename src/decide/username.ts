import { createHash } from 'node:crypto';
import { sipKey, siphash24 } from '../detect/hash.ts';
import { firstFormValues } from './form.ts';

/** Where a sign-in request carries the username. */
export interface UsernameSource {
  /** Field names tried in a JSON body (dotted paths allowed: "credentials.email") and in a form body. */
  readonly fields: readonly string[];
  /** Header that carries the username (for proxies that send no body); tried first when set. */
  readonly header?: string;
}

/** Form or JSON fields read as the password when a policy turns passwordSignals on. */
export const DEFAULT_PASSWORD_FIELDS: readonly string[] = Object.freeze(['password', 'passwd', 'pass']);

export const DEFAULT_USERNAME_SOURCE: UsernameSource = Object.freeze({ fields: Object.freeze(['username', 'email', 'login', 'user']) });

const MAX_BODY = 64 * 1024;

/** What a sign-in request body says, read once: decide() keeps neither value past the Check. */
export interface SignInFields {
  username: string | undefined;
  /** Only when password fields were asked for (a policy with passwordSignals); fingerprinted at once. */
  password: string | undefined;
}

/** One scratch result: the event loop runs one Check at a time and decide() reads it at once. */
const fields: SignInFields = { username: undefined, password: undefined };

/**
 * Finds the username (and, when `passwordFields` is given, the password) in a sign-in request with one parse
 * of the body. Bodies come from Envoy's with_request_body; anything not JSON or urlencoded yields nothing.
 * The raw values never leave decide/ except through usernameHash() and passwordFingerprint().
 */
export function readSignInFields(source: UsernameSource, headers: Readonly<Record<string, string>>, body: string | undefined, passwordFields?: readonly string[]): SignInFields {
  fields.username = source.header ? headers[source.header] || undefined : undefined;
  fields.password = undefined;
  const wantPassword = passwordFields !== undefined && passwordFields.length > 0;
  if ((fields.username !== undefined && !wantPassword) || !body || body.length > MAX_BODY) return fields;
  const type = headers['content-type'] ?? '';
  if (type.includes('json') || (type === '' && body.trimStart().startsWith('{'))) {
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      return fields;
    }
    fields.username ??= jsonField(doc, source.fields);
    if (wantPassword) fields.password = jsonField(doc, passwordFields);
    return fields;
  }
  if (type.includes('x-www-form-urlencoded') || type === '') {
    if (fields.username === undefined) fields.username = formField(body, source.fields);
    if (wantPassword) fields.password = formField(body, passwordFields);
  }
  return fields;
}

/** The username alone (explain, tests): readSignInFields without passwords. */
export function extractUsername(source: UsernameSource, headers: Readonly<Record<string, string>>, body: string | undefined): string | undefined {
  return readSignInFields(source, headers, body).username;
}

function jsonField(doc: unknown, names: readonly string[]): string | undefined {
  for (const f of names) {
    let v: unknown = doc;
    for (const part of f.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/** One scratch list of found values (synchronous use). */
const found: Array<string | undefined> = [];

/** The first of `names` whose first occurrence in the form has a non-empty value (URLSearchParams.get order). */
function formField(body: string, names: readonly string[]): string | undefined {
  firstFormValues(body, names, found);
  for (let i = 0; i < names.length; i++) if (found[i]) return found[i];
  return undefined;
}

/** SipHash keys derived from each install key, once (the key Buffer lives as long as the process). */
const sipKeys = new WeakMap<Buffer, Uint32Array>();

function sipKeyOf(key: Buffer): Uint32Array {
  let k = sipKeys.get(key);
  if (!k) {
    // 16 bytes of SHA-256 over a label and the install key: any key length works, and this key is used for
    // nothing else.
    k = sipKey(createHash('sha256').update('portcullis username siphash-2-4\0').update(key).digest().subarray(0, 16));
    sipKeys.set(key, k);
  }
  return k;
}

/** UTF-8 of the normalised username, without allocating for ordinary lengths. */
const scratch = Buffer.allocUnsafe(4096);

/**
 * Keyed hash of a username: stable for one install key, useless to anyone without it (a plain hash of an
 * email address is reversible by dictionary). Normalised so "Alice@X" and "alice@x " count as one account.
 * 32 bits: the detectors only need to tell accounts apart within one IP's recent attempts.
 *
 * SipHash-2-4 (a keyed PRF built for short inputs, as in hash tables that must resist chosen keys): the same
 * property the HMAC-SHA-256 it replaces gave here — without the key, the values reveal nothing and cannot be
 * computed — at ~0.24 µs instead of ~2.2 µs per sign-in (docs/detection.md, privacy).
 */
export function usernameHash(key: Buffer, username: string): number {
  const normal = username.trim().toLowerCase();
  const k = sipKeyOf(key);
  if (normal.length * 3 <= scratch.length) return siphash24(k, scratch, 0, scratch.write(normal, 0, 'utf8'));
  return siphash24(k, Buffer.from(normal, 'utf8'));
}
