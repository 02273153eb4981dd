import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OutcomeIngest } from '../../service/ingest.ts';
import type { OutcomeJob, OutcomeQueue } from '../../service/outcome-queue.ts';
import type { OutcomeReport } from '../../decide/outcome.ts';

const MAX_BODY = 256 * 1024;
const MAX_ITEMS = 1000;
const RESULT_HEADERS = new Set(['success', 'failure', 'unknown_user']);

function reply(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Every field an item may have (docs/outcomes.md documents each; a test posts them). Anything else is refused
 * rather than ignored: a misspelt "path" would otherwise make the outcome silently miss the sign-in route.
 */
export const OUTCOME_FIELDS = ['requestId', 'clientIp', 'result', 'method', 'path', 'host'] as const;
const FIELD_SET: ReadonlySet<string> = new Set(OUTCOME_FIELDS);

/** One item of the outcome API, validated; returns an error message naming the field otherwise. */
export function parseOutcomeItem(item: unknown, index: number): OutcomeReport | string {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) return `[${index}]: must be an object`;
  const o = item as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!FIELD_SET.has(k)) return `[${index}].${k.slice(0, 64)}: unknown field (allowed: ${OUTCOME_FIELDS.join(', ')})`;
    if (typeof o[k] !== 'string') return `[${index}].${k}: must be a string`;
  }
  const str = (k: string) => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const result = str('result');
  if (result === undefined || !RESULT_HEADERS.has(result)) return `[${index}].result: must be one of success, failure, unknown_user`;
  if (str('requestId') === undefined && str('clientIp') === undefined) return `[${index}]: needs requestId (x-request-id of the sign-in) or clientIp`;
  return {
    requestId: str('requestId'),
    method: str('method') ?? 'POST',
    path: str('path') ?? '',
    host: str('host') ?? '',
    status: 0,
    resultHeader: result,
    clientIp: str('clientIp'),
  };
}

/** One accepted POST, learned by the outcome queue in its slices like an ALS message. */
class PostedOutcomes implements OutcomeJob {
  readonly source = 'webhook' as const;
  #next = 0;
  constructor(private readonly items: readonly OutcomeReport[], private readonly ingest: OutcomeIngest) {}
  step(max: number): number {
    const end = Math.min(this.items.length, this.#next + max);
    const did = end - this.#next;
    for (; this.#next < end; this.#next++) this.ingest.report(this.items[this.#next]!);
    return did;
  }
  remaining(): number {
    return this.items.length - this.#next;
  }
}

/**
 * POST /v1/outcomes — for apps that report sign-in results directly instead of through Envoy's access log.
 * The body, limits and answers are documented in docs/outcomes.md. Usernames are not accepted here: the app would
 * have to send them raw. Accepted items go through the same bounded queue as ALS and syslog; HTTP has no flow
 * control to pause, so while that queue is congested a POST is answered 503 with Retry-After and the app resends.
 */
export function outcomeEndpoint(queue: OutcomeQueue, ingest: OutcomeIngest, token: string) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'POST') return reply(res, 405, { error: 'method_not_allowed' });
    if (!tokenMatches(req.headers.authorization, token)) return reply(res, 401, { error: 'unauthorized' });
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY && !aborted) {
        aborted = true;
        reply(res, 413, { error: 'body_too_large', limit: MAX_BODY });
        req.destroy();
        return;
      }
      if (!aborted) chunks.push(c);
    });
    req.on('end', () => {
      if (aborted) return;
      let doc: unknown;
      try {
        doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(res, 400, { error: 'invalid_json' });
      }
      const items = Array.isArray(doc) ? doc : [doc];
      if (items.length > MAX_ITEMS) return reply(res, 400, { error: 'too_many_items', limit: MAX_ITEMS });
      const parsed = items.map(parseOutcomeItem);
      const errors = parsed.filter((p): p is string => typeof p === 'string');
      if (errors.length > 0) return reply(res, 400, { error: 'invalid_outcome', details: errors.slice(0, 20) });
      const job = new PostedOutcomes(parsed as OutcomeReport[], ingest);
      // Congested: refused here and counted as shed; otherwise offer() counts its own refusal (full, closed).
      const congested = queue.congested;
      if (congested) queue.shed(job);
      if (congested || !queue.offer(job, size)) {
        res.setHeader('retry-after', '1');
        return reply(res, 503, { error: 'backlog_full', retryAfterSeconds: 1 });
      }
      reply(res, 202, { accepted: parsed.length });
    });
    req.on('error', () => undefined);
  };
}
