import type { AttemptFacts, DetectionEngine, Outcome, OutcomeFacts } from '../detect/engine.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { OrgAttackDetector, OrgOutcomeFacts } from '../detect/org-attack.ts';
import type { DetectionSettings } from '../detect/detection.ts';
import type { DetectorStore, SignalEvent, StoreHealth, StoreListener } from './store.ts';
import { configureDetectors } from './configure.ts';

const HEALTH: StoreHealth = Object.freeze({ mode: 'memory', degraded: false, degradedSinceMs: 0, detail: 'memory (this process only)', buffered: 0 });
const NO_LISTENER: StoreListener = { blockStarted: () => undefined, attack: () => undefined };

/** The default: the engine and the org detector are the state. Everything is synchronous. */
export class MemoryStore implements DetectorStore {
  readonly mode = 'memory' as const;
  #listener = NO_LISTENER;

  constructor(
    readonly engine: DetectionEngine,
    readonly org: OrgAttackDetector,
  ) {}

  setListener(listener: StoreListener): void {
    this.#listener = listener;
  }

  setBlocking(enabled: boolean): void {
    this.engine.setBlocking(enabled);
  }

  configure(detection: DetectionSettings, reshape: boolean): string[] {
    return configureDetectors(this.engine, this.org, detection, reshape).deferred;
  }

  recordAttempt(key: IpKey, facts: AttemptFacts, clientText: string | undefined): void {
    const r = this.engine.recordAttempt(key, facts);
    if (r.newlyBlocked) this.#listener.blockStarted(key, clientText, r.verdict);
  }

  recordOutcome(key: IpKey, outcome: Outcome, facts: OutcomeFacts, clientText: string | undefined): void {
    const blocked = this.engine.learnOutcome(key, outcome, facts);
    if (blocked) this.#listener.blockStarted(key, clientText, blocked);
  }

  recordRefused(key: IpKey, clientText: string | undefined): void {
    const r = this.engine.recordRefused(key);
    if (r.newlyBlocked) this.#listener.blockStarted(key, clientText, r.verdict);
  }

  recordOrgOutcome(outcome: Outcome, facts: OrgOutcomeFacts, nowMs: number): void {
    this.org.record(outcome, facts, nowMs);
  }

  /** One process: nothing to share. */
  shareSignal(_e: SignalEvent): void {}

  setSignalListener(_fn: (e: SignalEvent) => void): void {}

  tick(nowMs: number): void {
    for (const t of this.org.tick(nowMs)) {
      this.engine.setAggressive(t.type === 'start');
      this.#listener.attack(t);
    }
    this.engine.sweep(4096, nowMs);
  }

  refresh(): Promise<void> {
    return Promise.resolve();
  }

  health(): StoreHealth {
    return HEALTH;
  }

  counters(): undefined {
    return undefined;
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
