/** Verdicts: what the engine says about a key. Unblocked verdicts are interned, so reading one allocates nothing. */
import { COMBO_REASONS, levelName, THREAT_REASONS } from './levels.ts';
import type { ThreatLevel, ThreatReason } from './levels.ts';

export type Detections = Readonly<Partial<Record<ThreatReason, ThreatLevel>>>;

export interface Verdict {
  readonly level: ThreatLevel;
  /** reason -> level, only reasons at LOW or above (Okta's threatDetections). Shared frozen empty object when none. */
  readonly detections: Detections;
  /** Active block end (ms since epoch, second resolution); 0 when not blocked or blocking is off. */
  readonly blockedUntilMs: number;
  /** Level that caused the block: HIGH -> 403, MEDIUM -> 429 (upstream decides). NONE when not blocked. */
  readonly blockLevel: ThreatLevel;
}

export const EMPTY_DETECTIONS: Detections = Object.freeze({});
export const NONE_VERDICT: Verdict = Object.freeze({ level: 'NONE' as ThreatLevel, detections: EMPTY_DETECTIONS, blockedUntilMs: 0, blockLevel: 'NONE' as ThreatLevel });

// Levels of the reasons pack into 2 bits each in THREAT_REASONS order ("combo"; threat_feed's bits stay 0 here);
// verdicts without a block are interned per combo, so evaluate() allocates only for blocked keys. The two
// tables (2^18 slots, 2 MB each) are made at the first detection, not at import: an idle sidecar never needs them.
const SLOTS = 1 << (2 * COMBO_REASONS);
let detectionsCache: (Detections | undefined)[] | undefined;
let verdictCache: (Verdict | undefined)[] | undefined;

export function comboLevel(combo: number): number {
  let m = 0;
  for (let c = combo; c !== 0; c >>>= 2) if ((c & 3) > m) m = c & 3;
  return m;
}

export function detectionsOf(combo: number): Detections {
  if (combo === 0) return EMPTY_DETECTIONS;
  detectionsCache ??= new Array(SLOTS);
  let d = detectionsCache[combo];
  if (d === undefined) {
    const o: Partial<Record<ThreatReason, ThreatLevel>> = {};
    THREAT_REASONS.slice(0, COMBO_REASONS).forEach((r, i) => {
      const lv = (combo >>> (2 * i)) & 3;
      if (lv > 0) o[r] = levelName(lv);
    });
    d = Object.freeze(o);
    detectionsCache[combo] = d;
  }
  return d;
}

export function unblockedVerdict(combo: number): Verdict {
  if (combo === 0) return NONE_VERDICT;
  verdictCache ??= new Array(SLOTS);
  let v = verdictCache[combo];
  if (v === undefined) {
    v = Object.freeze({
      level: levelName(comboLevel(combo)),
      detections: detectionsOf(combo),
      blockedUntilMs: 0,
      blockLevel: 'NONE' as ThreatLevel,
    });
    verdictCache[combo] = v;
  }
  return v;
}
