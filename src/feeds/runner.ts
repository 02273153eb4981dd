import { fileSignature } from './file-signature.ts';
// One feed's source: reads it (inline, file or HTTP), parses it and keeps the last good contents. A failed
// read or a body that is mostly garbage (an HTML error page, a truncated download) never replaces them.
import { readFile, stat } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { AddressRange } from '../net/address.ts';
import type { Clock } from '../clock.ts';
import type { CompiledFeed } from './config.ts';
import { fetchFeed, type FetchOutcome, type FetchResult } from './fetcher.ts';
import { parseFeed } from './formats/index.ts';
import { parsePrefix } from './prefix.ts';

export type RefreshResult = FetchResult;
export const REFRESH_RESULTS: readonly RefreshResult[] = ['ok', 'not_modified', 'error', 'too_large', 'timeout'];

/** Accepted contents of a feed: immutable, replaced as a whole. */
export interface FeedContents {
  readonly ranges: readonly AddressRange[];
  /** Inline feeds: expiry per range (ms since epoch, 0 never); absent for file and HTTP feeds. */
  readonly expiresMs?: readonly number[];
  readonly badCount: number;
  readonly bad: readonly { readonly line: number; readonly reason: string }[];
  readonly meta?: Readonly<Record<string, string | number>>;
  readonly bytes: number;
  readonly loadedAtMs: number;
}

export interface RunnerState {
  attempts: number;
  consecutiveFailures: number;
  lastAttemptMs?: number;
  lastSuccessMs?: number;
  lastResult?: RefreshResult;
  lastError?: string;
  /** Bad lines of the last body read (accepted or not). */
  lastBadCount: number;
}

export interface RunnerDeps {
  readonly clock: Clock;
  readonly signal: AbortSignal;
  readonly fetchImpl?: typeof fetch;
  /** After every attempt; `changed` when the serving contents were replaced. */
  readonly onAttempt: (runner: FeedRunner, result: RefreshResult, changed: boolean) => void;
}

const FIRST_RETRY_MS = 30_000;
const CHUNK = 20_000;

export class FeedRunner {
  feed: CompiledFeed;
  contents: FeedContents | undefined;
  readonly state: RunnerState = { attempts: 0, consecutiveFailures: 0, lastBadCount: 0 };
  readonly #deps: RunnerDeps;
  #etag: string | undefined;
  #lastModified: string | undefined;
  #fileSignature = '';
  #nextDueMs = 0;
  #inFlight: Promise<RefreshResult> | undefined;
  #stopped = false;

  constructor(feed: CompiledFeed, deps: RunnerDeps) {
    this.feed = feed;
    this.#deps = deps;
  }

  /** True once the first attempt finished (successfully or not). */
  get attempted(): boolean {
    return this.state.attempts > 0;
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Called from the manager's shared timer: HTTP feeds when due, file feeds when the file changed. */
  tick(nowMs: number): void {
    if (this.#inFlight || this.#stopped) return;
    const src = this.feed.source;
    if (src.type === 'http' && nowMs >= this.#nextDueMs) void this.refresh();
    if (src.type === 'file') {
      void fileSignature(src.path).then((sig) => {
        if (sig !== this.#fileSignature && !this.#inFlight && !this.#stopped) void this.refresh();
      });
    }
  }

  /** Reads the source now. Concurrent calls share one attempt. */
  refresh(): Promise<RefreshResult> {
    this.#inFlight ??= this.#attempt().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  async #attempt(): Promise<RefreshResult> {
    const { clock } = this.#deps;
    const src = this.feed.source;
    let result: RefreshResult;
    let error: string | undefined;
    let next: FeedContents | undefined;
    if (src.type === 'inline') {
      next = {
        ranges: src.entries.map((e) => e.range),
        expiresMs: src.entries.map((e) => e.expiresMs),
        badCount: 0,
        bad: [],
        bytes: 0,
        loadedAtMs: clock.nowMs(),
      };
      result = 'ok';
    } else {
      const read = src.type === 'file' ? await this.#readFile(src.path, src.maxBytes) : await this.#fetch(src.url, src.timeoutMs, src.maxBytes);
      if (read.result === 'ok') {
        const parsed = await this.#parse(read.text, read.bytes);
        if ('error' in parsed) {
          result = 'error';
          error = parsed.error;
        } else {
          result = 'ok';
          next = parsed.contents;
          if (src.type === 'http') {
            // Validators are kept only with an accepted body: a rejected one must be downloaded again.
            this.#etag = read.etag;
            this.#lastModified = read.lastModified;
          }
        }
      } else {
        result = read.result;
        if (read.result !== 'not_modified') error = read.message;
      }
    }
    if (this.#stopped) return result;
    const now = clock.nowMs();
    const st = this.state;
    st.attempts++;
    st.lastAttemptMs = now;
    st.lastResult = result;
    if (result === 'ok' || result === 'not_modified') {
      st.consecutiveFailures = 0;
      st.lastSuccessMs = now;
      st.lastError = undefined;
    } else {
      st.consecutiveFailures++;
      st.lastError = error;
    }
    if (src.type === 'http') {
      const backoff = Math.min(src.intervalMs, FIRST_RETRY_MS * 2 ** Math.min(10, st.consecutiveFailures - 1));
      // ±5% jitter so replicas started together do not hit the feed operator in lockstep.
      const wait = st.consecutiveFailures === 0 ? src.intervalMs : backoff;
      this.#nextDueMs = now + Math.round(wait * (0.95 + Math.random() * 0.1));
    }
    if (next) this.contents = next;
    this.#deps.onAttempt(this, result, next !== undefined);
    return result;
  }

  async #readFile(path: string, maxBytes: number): Promise<FetchOutcome> {
    // Taken before reading: a write landing mid-read changes it again and triggers another read.
    this.#fileSignature = await fileSignature(path);
    try {
      const st = await stat(path);
      if (st.size > maxBytes) return { result: 'too_large', message: `file is ${st.size} bytes, over ${maxBytes}` };
      const text = await readFile(path, 'utf8');
      return { result: 'ok', text, bytes: st.size };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { result: 'error', message: code === 'ENOENT' ? 'file not found' : code ?? (err as Error).message };
    }
  }

  #fetch(url: string, timeoutMs: number, maxBytes: number) {
    return fetchFeed(url, {
      timeoutMs,
      maxBytes,
      etag: this.#etag,
      lastModified: this.#lastModified,
      signal: this.#deps.signal,
      fetchImpl: this.#deps.fetchImpl,
    });
  }

  /** Parses and converts; yields to the event loop between chunks so a big feed does not stall Checks. */
  async #parse(text: string, bytes: number): Promise<{ contents: FeedContents } | { error: string }> {
    const parsed = parseFeed(this.feed.format, text);
    this.state.lastBadCount = parsed.badCount;
    const n = parsed.entries.length;
    // "No entries" alone is a legitimately empty feed; garbage is bad lines without (or outnumbering) entries.
    if (parsed.badCount > 0 && (n === 0 || parsed.badCount > n)) {
      const first = parsed.bad[0];
      return { error: `rejected: ${parsed.badCount} bad lines and ${n} entries (not a ${this.feed.format} feed?)${first ? `; line ${first.line}: ${first.reason}` : ''}` };
    }
    const seen = new Set<string>();
    const ranges: AddressRange[] = [];
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % CHUNK === 0) await yieldToLoop();
      const text = parsed.entries[i]!;
      if (seen.has(text)) continue;
      seen.add(text);
      const r = parsePrefix(text);
      if (r.ok) ranges.push(r.prefix.range);
    }
    return {
      contents: {
        ranges,
        badCount: parsed.badCount,
        bad: parsed.bad.slice(0, 10),
        ...(parsed.meta ? { meta: parsed.meta } : {}),
        bytes,
        loadedAtMs: this.#deps.clock.nowMs(),
      },
    };
  }
}

