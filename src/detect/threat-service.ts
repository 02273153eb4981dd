import type { CompiledPolicy, Snapshot } from '../decide/snapshot.ts';
import type { Decision, RequestFacts } from '../decide/decision.ts';
import type { FeedMatcher, ThreatAssessment, ThreatAssessor } from '../decide/threat.ts';
import { extractUsername, usernameHash } from '../decide/username.ts';
import type { Address } from '../net/address.ts';
import { parseAddress } from '../net/address.ts';
import { resolveClientChain } from '../net/chain.ts';
import { AttemptCorrelator } from '../service/correlator.ts';
import type { OutcomeIngest } from '../service/ingest.ts';
import { classifyOutcome, type OutcomeReport } from '../decide/outcome.ts';
import type { Clock } from '../clock.ts';
import type { DetectionEngine, Verdict } from './engine.ts';
import { ipKey, type IpKey } from './ip-key.ts';
import type { AttackTransition, OrgAttackDetector } from './org-attack.ts';
import { MemoryStore } from '../store/memory.ts';
import type { DetectorStore } from '../store/store.ts';

/** What the service tells the rest of the process about; telemetry implements it. */
export interface ThreatObserver {
  outcome(result: 'failure' | 'success' | 'unknown' | 'ignored'): void;
  blockStarted(key: IpKey, clientText: string | undefined, verdict: Verdict, policy: CompiledPolicy): void;
  attack(t: AttackTransition, policy: CompiledPolicy): void;
}

export interface ThreatServiceOptions {
  readonly engine: DetectionEngine;
  readonly org: OrgAttackDetector;
  readonly clock: Clock;
  readonly usernameKey: Buffer;
  readonly snapshot: () => Snapshot | undefined;
  readonly observer: ThreatObserver;
  readonly ipv6Prefix?: number;
  readonly maxChainHops?: number;
  /** Feeds and dynamic zones (created after this service in main): exempt dynamic zones count as exempt. */
  readonly feeds?: () => FeedMatcher | undefined;
  /** Where detector state lives; default: in this process (engine and org). A shared store wraps them. */
  readonly store?: DetectorStore;
}

/**
 * Connects the detectors to the request path and to outcomes:
 * - assess(): read-only, on the hot path, for every request that reaches threat evaluation;
 * - onDecision(): after a Check, records the sign-in attempt and remembers it for its outcome;
 * - report(): an outcome from any transport becomes a detector update (never for requests we denied);
 * - tick(): called from one shared interval — closes Org Under Attack buckets and sweeps idle entries.
 */
const RANK = { NONE: 0, LOW: 1, MEDIUM: 2, HIGH: 3 } as const;

export class ThreatService implements ThreatAssessor, OutcomeIngest {
  readonly #o: ThreatServiceOptions;
  readonly #correlator = new AttemptCorrelator<IpKey>();
  #lastFacts: RequestFacts | undefined;
  #lastHash: number | undefined;
  readonly #v6Prefix: number;
  readonly #store: DetectorStore;

  constructor(options: ThreatServiceOptions) {
    this.#o = options;
    this.#v6Prefix = options.ipv6Prefix ?? 64;
    this.#store = options.store ?? new MemoryStore(options.engine, options.org);
    // Blocks and transitions are reported by the store (later, for a shared one), under the policy in force then.
    this.#store.setListener({
      blockStarted: (key, clientText, verdict) => {
        const policy = this.#o.snapshot()?.policy;
        if (policy) this.#o.observer.blockStarted(key, clientText, verdict, policy);
      },
      attack: (t) => {
        const policy = this.#o.snapshot()?.policy;
        if (policy) this.#o.observer.attack(t, policy);
      },
    });
  }

  get store(): DetectorStore {
    return this.#store;
  }

  keyOf(a: Address): IpKey {
    return ipKey(a.family, a.w0, a.w1, a.w2, a.w3, this.#v6Prefix);
  }

  /** The policy changed: blocks are only created when it says Block. */
  applyPolicy(policy: CompiledPolicy): void {
    this.#store.setBlocking(policy.action === 'Block');
  }

  assess(client: Address, signIn: boolean, policy: CompiledPolicy, facts?: RequestFacts): ThreatAssessment | undefined {
    if (!signIn && !policy.enforceBlocksOnAllRoutes) return undefined;
    const now = this.#o.clock.nowMs();
    const key = this.keyOf(client);
    const v = this.#store.engine.evaluate(key, now);
    // The account this attempt targets, from this IP: protected even where the IP-wide level is held down.
    const hash = signIn && facts ? this.#usernameHashOf(facts, policy) : undefined;
    const account = hash === undefined ? 'NONE' : this.#store.engine.accountLevel(key, hash);
    if (v.level === 'NONE' && v.blockedUntilMs === 0 && account === 'NONE') return undefined;
    // Off sign-in routes only an active block matters; detections there would only be noise.
    if (!signIn && v.blockedUntilMs <= now) return undefined;
    let enforce: ThreatAssessment['enforce'] = 'none';
    let retryAfterSeconds: number | undefined;
    if (policy.action === 'Block' && v.blockedUntilMs > now) {
      enforce = v.blockLevel === 'HIGH' ? 'block' : 'rate_limit';
      retryAfterSeconds = Math.ceil((v.blockedUntilMs - now) / 1000);
    } else if (policy.action === 'Block' && account === 'HIGH') {
      // This account from this IP only (Auth0's IP+user rule); the IP itself is not blocked. The pair's count
      // resets on a success and decays with its window.
      enforce = 'block';
    }
    let level = v.level === 'NONE' ? v.blockLevel : v.level;
    let detections = v.detections;
    if (RANK[account] > RANK[detections.account_targeted ?? 'NONE']) {
      detections = { ...detections, account_targeted: account };
      if (RANK[account] > RANK[level]) level = account;
    }
    return { level, detections, enforce, retryAfterSeconds };
  }

  /**
   * Keyed hash of the attempt's username. assess() and onDecision() run back to back for the same facts,
   * so one remembered pair saves the second body parse and HMAC.
   */
  #usernameHashOf(facts: RequestFacts, policy: CompiledPolicy): number | undefined {
    if (facts === this.#lastFacts) return this.#lastHash;
    const username = extractUsername(policy.username, facts.headers ?? {}, facts.body);
    this.#lastFacts = facts;
    this.#lastHash = username === undefined ? undefined : usernameHash(this.#o.usernameKey, username);
    return this.#lastHash;
  }

  onDecision(d: Decision, facts: RequestFacts): void {
    if (!d.signIn || !d.client) return;
    // Exempt zones and trusted proxies are never evaluated; blocklisted clients never reach the app.
    if (d.reason === 'exempt_zone' || d.reason === 'trusted_proxy' || d.reason === 'blocklist_zone') return;
    const snapshot = this.#o.snapshot();
    if (!snapshot) return;
    const key = this.keyOf(d.client);
    const hash = this.#usernameHashOf(facts, snapshot.policy);
    this.#lastFacts = undefined; // never reuse across requests, even if an adapter reused a facts object
    const denied = d.verdict !== 'allow';
    if (!denied) this.#store.recordAttempt(key, { usernameHash: hash }, d.client.text);
    if (facts.requestId) {
      this.#correlator.remember(facts.requestId, { key, clientText: d.client.text, usernameHash: hash, denied, atMs: this.#o.clock.nowMs() });
    }
  }

  report(o: OutcomeReport): void {
    const snapshot = this.#o.snapshot();
    if (!snapshot) return;
    const policy = snapshot.policy;
    const now = this.#o.clock.nowMs();
    const attempt = o.requestId ? this.#correlator.take(o.requestId, now) : undefined;
    if (attempt?.denied) return this.#o.observer.outcome('ignored'); // our own denials never count
    if (!attempt && !policy.signIn.matches(o.method, o.path, o.host)) return this.#o.observer.outcome('ignored');

    let key = attempt?.key;
    let clientText = attempt?.clientText;
    if (key === undefined) {
      // Not correlated (no request id, or it aged out): resolve the client from what the transport saw.
      const peer = o.clientIp ? parseAddress(o.clientIp) : undefined;
      if (!peer) return this.#o.observer.outcome('ignored');
      const chain = resolveClientChain(peer, o.forwardedFor, snapshot.isTrustedProxy, { maxHops: this.#o.maxChainHops ?? 10 });
      if (snapshot.isTrustedProxy(chain.client)) return this.#o.observer.outcome('ignored');
      for (const m of snapshot.index.lookup(chain.client)) if (m.exempt) return this.#o.observer.outcome('ignored');
      if (this.#o.feeds?.()?.match(chain.client).exemptZone !== undefined) return this.#o.observer.outcome('ignored');
      key = this.keyOf(chain.client);
      clientText = chain.client.text;
    }
    const result = classifyOutcome(o, policy.outcomes);
    const unknownUser = o.resultHeader?.trim().toLowerCase() === 'unknown_user';
    this.#o.observer.outcome(result);
    this.#store.recordOutcome(key, result, { usernameHash: attempt?.usernameHash, unknownUser }, clientText);
    if (policy.orgUnderAttack) this.#store.recordOrgOutcome(result, { clientKey: key, unknownUser }, now);
  }

  tick(): void {
    const now = this.#o.clock.nowMs();
    this.#store.tick(now);
    this.#correlator.sweep(now);
  }

  get pendingOutcomes(): number {
    return this.#correlator.size;
  }
}
