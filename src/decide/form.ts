/**
 * The first value of each wanted field in an application/x-www-form-urlencoded body, exactly as
 * `new URLSearchParams(body).get(name)` reads it (WHATWG: '&'-separated pairs, the first '=' splits, '+' is a
 * space, percent-decoding, UTF-8).
 *
 * Why by hand: URLSearchParams decodes every pair of the body and builds an entry for each, where the decision
 * needs two or three fields (a username from a two-field form: 0.31–0.33 µs against 0.46–0.48 µs,
 * `username.form_field` and `username.url_search_params` in `npm run bench -- --only micro`, Node 20). Here pairs are found with indexOf, names are
 * compared in place, and only the values of wanted fields are cut out. Pairs with '%' or '+' are decoded here
 * when every escape is ASCII, by decodeURIComponent when some are not (it agrees with URLSearchParams wherever
 * it does not throw), and by URLSearchParams itself otherwise; a body with any surrogate goes to URLSearchParams
 * whole (it reads those as U+FFFD). test/decide/form.test.ts compares the two on thousands of bodies.
 */
export function firstFormValues(body: string, names: readonly string[], found: Array<string | undefined>): void {
  for (let i = 0; i < names.length; i++) found[i] = undefined;
  if (SURROGATE.test(body)) return byUrlSearchParams(body, names, found);
  let missing = names.length;
  const n = body.length;
  // The next '=', '%' and '+' at or after the pair's start: each only moves forward, so a body is scanned once.
  let eqAt = -2;
  let pctAt = -2;
  let plusAt = -2;
  let start = 0;
  while (start < n && missing > 0) {
    let end = body.indexOf('&', start);
    if (end === -1) end = n;
    if (end > start) {
      if (eqAt !== -1 && eqAt < start) eqAt = body.indexOf('=', start);
      if (pctAt !== -1 && pctAt < start) pctAt = body.indexOf('%', start);
      if (plusAt !== -1 && plusAt < start) plusAt = body.indexOf('+', start);
      const eq = eqAt !== -1 && eqAt < end ? eqAt : -1;
      const keyEnd = eq === -1 ? end : eq;
      const escaped = (pctAt !== -1 && pctAt < end) || (plusAt !== -1 && plusAt < end);
      if (!escaped) {
        for (let i = 0; i < names.length; i++) {
          const name = names[i]!;
          if (found[i] === undefined && name.length === keyEnd - start && body.startsWith(name, start)) {
            found[i] = eq === -1 ? '' : body.slice(eq + 1, end);
            missing--;
          }
        }
      } else {
        let key = decoded(body.slice(start, keyEnd));
        let value = key === undefined ? undefined : eq === -1 ? '' : decoded(body.slice(eq + 1, end));
        if (key === undefined || value === undefined) {
          const pair = new URLSearchParams(body.slice(start, end)).entries().next().value as [string, string];
          key = pair[0];
          value = pair[1];
        }
        for (let i = 0; i < names.length; i++) {
          if (found[i] === undefined && names[i] === key) {
            found[i] = value;
            missing--;
          }
        }
      }
    }
    start = end + 1;
  }
}

const SURROGATE = /[\ud800-\udfff]/;

function byUrlSearchParams(body: string, names: readonly string[], found: Array<string | undefined>): void {
  const form = new URLSearchParams(body);
  for (let i = 0; i < names.length; i++) found[i] = form.get(names[i]!) ?? undefined;
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x57 : -1;
}

/**
 * '+' as a space, then %XX. ASCII escapes are decoded here; a text with any escape above 0x7f goes to
 * decodeURIComponent (for UTF-8); undefined where that refuses, or where an escape is not %XX.
 */
function decoded(text: string): string | undefined {
  let out = '';
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2b) {
      out += text.slice(last, i) + ' ';
      last = i + 1;
    } else if (c === 0x25) {
      const hi = hex(text.charCodeAt(i + 1));
      const lo = hi === -1 ? -1 : hex(text.charCodeAt(i + 2));
      if (lo === -1) return undefined;
      const byte = hi * 16 + lo;
      if (byte >= 0x80) return utf8Decoded(text);
      out += text.slice(last, i) + String.fromCharCode(byte);
      last = i + 3;
      i += 2;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

function utf8Decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text.indexOf('+') === -1 ? text : text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
