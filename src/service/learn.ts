import type { Clock } from '../clock.ts';
import { exemptionOf } from '../decide/exempt.ts';
import { classifyOutcome, type OutcomeReport, type OutcomeResultLabel } from '../decide/outcome.ts';
import type { CompiledPolicy, Snapshot } from '../decide/snapshot.ts';
import type { FeedMatcher } from '../decide/threat.ts';
import type { Verdict } from '../detect/verdict.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { AttackTransition } from '../detect/org-attack.ts';
import { parseAddress } from '../net/address.ts';
import { resolveClientChain } from '../net/chain.ts';
import type { DetectorStore } from '../store/store.ts';
import type { AttemptCorrelator } from './correlator.ts';
import type { OutcomeIngest } from './ingest.ts';


/** What learning tells the rest of the process about; telemetry implements it (metrics, events, logs). */
export interface LearnObserver {
  outcome(result: OutcomeResultLabel): void;
  blockStarted(key: IpKey, clientText: string | undefined, verdict: Verdict, policy: CompiledPolicy): void;
  attack(t: AttackTransition, policy: CompiledPolicy): void;
}

export interface LearnDeps {
  readonly store: DetectorStore;
  readonly correlator: AttemptCorrelator<IpKey>;
  readonly clock: Clock;
  readonly snapshot: () => Snapshot | undefined;
  readonly feeds?: FeedMatcher;
  readonly maxChainHops: number;
  readonly observer: LearnObserver;
}

/**
 * The outcome path: an outcome from any transport (Envoy ALS, the webhook, syslog) becomes a detector update.
 * A correlated outcome counts for the client its Check resolved; an uncorrelated one resolves its client the
 * way the Check path does (chain walk, the one exemption rule). Outcomes of requests Portcullis refused never
 * count. Blocks and Org Under Attack transitions go straight to the observer, under the policy in force.
 */
export class Learner implements OutcomeIngest {
  readonly #d: LearnDeps;

  constructor(deps: LearnDeps) {
    this.#d = deps;
    // A shared store reports blocks later (another replica may cause them); the memory store at once.
    deps.store.setListener({
      blockStarted: (key, clientText, verdict) => {
        const policy = deps.snapshot()?.policy;
        if (policy) deps.observer.blockStarted(key, clientText, verdict, policy);
      },
      attack: (t) => {
        const policy = deps.snapshot()?.policy;
        if (policy) deps.observer.attack(t, policy);
      },
    });
  }

  /** The policy changed: blocks are only created when it says Block. */
  applyPolicy(policy: CompiledPolicy): void {
    this.#d.store.setBlocking(policy.action === 'Block');
  }

  report(o: OutcomeReport): void {
    const { store, observer } = this.#d;
    const snapshot = this.#d.snapshot();
    if (!snapshot) return;
    const policy = snapshot.policy;
    const now = this.#d.clock.nowMs();
    const attempt = o.requestId ? this.#d.correlator.take(o.requestId, now) : undefined;
    if (attempt?.denied) return observer.outcome('ignored'); // our own denials never count
    if (!attempt && !policy.signIn.matches(o.method, o.path, o.host)) return observer.outcome('ignored');

    let key = attempt?.key;
    let clientText = attempt?.clientText;
    let netKey: number | undefined;
    if (key === undefined) {
      // Not correlated (no request id, or it aged out): resolve the client from what the transport saw.
      const peer = o.clientIp ? parseAddress(o.clientIp) : undefined;
      if (!peer) return observer.outcome('ignored');
      const chain = resolveClientChain(peer, o.forwardedFor, snapshot.isTrustedProxy, { maxHops: this.#d.maxChainHops });
      if (exemptionOf(chain.client, snapshot, this.#d.feeds?.match(chain.client))) return observer.outcome('ignored');
      key = store.engine.keyOfAddress(chain.client);
      clientText = chain.client.text;
      netKey = store.engine.networkKeyOf(chain.client);
    } else if (clientText !== undefined) {
      const a = parseAddress(clientText);
      if (a) netKey = store.engine.networkKeyOf(a);
    }
    const result = classifyOutcome(o, policy.outcomes);
    const unknownUser = o.resultHeader?.trim().toLowerCase() === 'unknown_user';
    observer.outcome(result);
    store.recordOutcome(key, result, { usernameHash: attempt?.usernameHash, unknownUser, netKey }, clientText);
    if (policy.orgUnderAttack) store.recordOrgOutcome(result, { clientKey: key, unknownUser }, now);
  }

  /** From one shared 1 s interval: closes Org Under Attack buckets, sweeps idle entries and old attempts. */
  tick(): void {
    const now = this.#d.clock.nowMs();
    this.#d.store.tick(now);
    this.#d.correlator.sweep(now);
  }
}
