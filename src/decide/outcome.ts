import { OUTCOMES, type Outcome } from '../detect/levels.ts';
/** One sign-in outcome as learned from a transport (Envoy ALS, the HTTP webhook, syslog). */
export interface OutcomeReport {
  /** x-request-id, to find the Check decision this outcome belongs to. */
  readonly requestId: string | undefined;
  readonly method: string;
  readonly path: string;
  readonly host: string;
  /** HTTP response status; 0 when unknown. */
  readonly status: number;
  /** Value of the app's result header (e.g. x-portcullis-signin-result: failure), if present. */
  readonly resultHeader: string | undefined;
  /** Client address as the transport saw it (the L4 peer); only used when the request id does not correlate. */
  readonly clientIp: string | undefined;
  /** X-Forwarded-For as the transport saw it, walked with the trusted proxies when not correlated. */
  readonly forwardedFor?: string;
}

export type OutcomeResult = Outcome;

/** Outcome metric labels: the outcome set plus `ignored` (not a sign-in, or a request Portcullis refused). */
export const OUTCOME_RESULTS = [...OUTCOMES, 'ignored'] as const;
export type OutcomeResultLabel = (typeof OUTCOME_RESULTS)[number];

/** Transports that queue outcomes for the learner (service/outcome-queue.ts); a metric label, so a closed set. */
export const OUTCOME_SOURCES = ['access_log', 'syslog_udp', 'syslog_tcp', 'webhook'] as const;
export type OutcomeSource = (typeof OUTCOME_SOURCES)[number];
/** Why queued outcomes were not learned: backlog_full (refused at the bound), shutdown (still queued at stop). */
export const SHED_REASONS = ['backlog_full', 'shutdown'] as const;
export type ShedReason = (typeof SHED_REASONS)[number];

export interface OutcomeRules {
  readonly failureStatuses: ReadonlySet<number>;
  readonly successStatuses: ReadonlySet<number>;
  /** Response header the app may set; its value wins over the status code. */
  readonly resultHeader: string;
}

export const DEFAULT_OUTCOME_RULES: OutcomeRules = Object.freeze({
  failureStatuses: new Set([401, 403]),
  successStatuses: new Set([200, 201, 204, 302, 303]),
  resultHeader: 'x-portcullis-signin-result',
});

/**
 * failure / success / unknown for one sign-in response. The app's header wins (it knows, a status code only
 * hints: many form logins answer 200 with an error page); then the configured status sets.
 */
export function classifyOutcome(report: Pick<OutcomeReport, 'status' | 'resultHeader'>, rules: OutcomeRules): OutcomeResult {
  const h = report.resultHeader?.trim().toLowerCase();
  if (h === 'failure' || h === 'fail' || h === 'failed' || h === 'unknown_user') return 'failure';
  if (h === 'success' || h === 'ok') return 'success';
  if (rules.failureStatuses.has(report.status)) return 'failure';
  if (rules.successStatuses.has(report.status)) return 'success';
  return 'unknown';
}
