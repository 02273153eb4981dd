// One conditional GET of a feed: ETag / Last-Modified validators, a deadline covering headers and body,
// and a size cap enforced while streaming (Content-Length can lie or be absent, and undici decompresses,
// so the cap applies to decoded bytes: a gzip bomb stops at maxBytes too).

export type FetchResult = 'ok' | 'not_modified' | 'error' | 'too_large' | 'timeout';

export type FetchOutcome =
  | { readonly result: 'ok'; readonly text: string; readonly bytes: number; readonly etag?: string; readonly lastModified?: string }
  | { readonly result: 'not_modified' }
  | { readonly result: 'error' | 'too_large' | 'timeout'; readonly message: string };

export interface FetchOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  /** Validators from the last accepted body. */
  readonly etag?: string;
  readonly lastModified?: string;
  /** Aborts the fetch (the manager stopping). */
  readonly signal?: AbortSignal;
  readonly fetchImpl?: typeof fetch;
  readonly userAgent?: string;
}

export const USER_AGENT = 'portcullis-feed-fetcher/0.1';

export async function fetchFeed(url: string, o: FetchOptions): Promise<FetchOutcome> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, o.timeoutMs);
  const onStop = () => controller.abort();
  o.signal?.addEventListener('abort', onStop, { once: true });
  const headers: Record<string, string> = { 'user-agent': o.userAgent ?? USER_AGENT, accept: 'text/plain, application/json;q=0.9, */*;q=0.1' };
  if (o.etag) headers['if-none-match'] = o.etag;
  if (o.lastModified) headers['if-modified-since'] = o.lastModified;
  try {
    const res = await (o.fetchImpl ?? fetch)(url, { headers, signal: controller.signal, redirect: 'follow' });
    if (res.status === 304) {
      await res.body?.cancel().catch(() => undefined);
      // A 304 we did not ask for means a confused cache in between; its "body" is not the feed.
      return o.etag || o.lastModified ? { result: 'not_modified' } : { result: 'error', message: 'HTTP 304 without a conditional request' };
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      return { result: 'error', message: `HTTP ${res.status}` };
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > o.maxBytes && !res.headers.get('content-encoding')) {
      await res.body?.cancel().catch(() => undefined);
      return { result: 'too_large', message: `Content-Length ${declared} exceeds maxBytes ${o.maxBytes}` };
    }
    const body = await readCapped(res, o.maxBytes);
    if (body === undefined) return { result: 'too_large', message: `body exceeds maxBytes ${o.maxBytes}` };
    const etag = res.headers.get('etag') ?? undefined;
    const lastModified = res.headers.get('last-modified') ?? undefined;
    return { result: 'ok', text: body.text, bytes: body.bytes, ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) };
  } catch (err) {
    if (timedOut) return { result: 'timeout', message: `no complete answer within ${o.timeoutMs} ms` };
    if (o.signal?.aborted) return { result: 'error', message: 'stopped' };
    return { result: 'error', message: describeFetchError(err) };
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onStop);
  }
}

/** The body as UTF-8 text, or undefined once it passes maxBytes (the stream is cancelled there). */
async function readCapped(res: Response, maxBytes: number): Promise<{ text: string; bytes: number } | undefined> {
  if (!res.body) return { text: '', bytes: 0 };
  const reader = res.body.getReader();
  const decoder = new TextDecoder('utf-8');
  const parts: string[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  return { text: parts.join(''), bytes };
}

/** undici wraps the interesting part ("ECONNREFUSED", "certificate has expired") in `cause`. */
function describeFetchError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause;
  if (cause?.code) return `${cause.code}${cause.message && !cause.message.includes(cause.code) ? `: ${cause.message}` : ''}`;
  return cause?.message ?? e?.message ?? String(err);
}
