import type { OutcomeReport } from '../decide/outcome.ts';

/**
 * Where every transport delivers sign-in outcomes (Envoy ALS, the HTTP outcome endpoint, syslog access logs).
 * Implementations never throw and never block: they classify, correlate and hand the outcome to the detectors.
 */
export interface OutcomeIngest {
  report(outcome: OutcomeReport): void;
}
