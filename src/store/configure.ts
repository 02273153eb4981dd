import type { DetectionSettings } from '../detect/detection.ts';
import type { DetectionEngine } from '../detect/engine.ts';
import type { OrgAttackDetector } from '../detect/org-attack.ts';

/**
 * Applies a policy's detection settings to a store's local view (both stores). `deferred`: settings paths left
 * at their current values until the next start; `orgReshaped`: the Org Under Attack detector started afresh.
 */
export function configureDetectors(engine: DetectionEngine, org: OrgAttackDetector, d: DetectionSettings, reshape: boolean): { deferred: string[]; orgReshaped: boolean } {
  const before = org.options;
  const deferred = engine.reconfigure(d.thresholds, d.aggressive, reshape).map((f) => `thresholds.${f}`);
  deferred.push(...org.reconfigure(d.orgUnderAttack, reshape).map((f) => `orgUnderAttack.${f}`));
  const orgReshaped = reshape && (before.bucketMs !== org.options.bucketMs || before.sketchBits !== org.options.sketchBits);
  return { deferred, orgReshaped };
}
