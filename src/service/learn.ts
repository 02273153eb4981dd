import type { Clock } from '../clock.ts';
import { exemptionOf } from '../decide/exempt.ts';
import { classifyOutcome, type OutcomeReport, type OutcomeResultLabel } from '../decide/outcome.ts';
import type { CompiledPolicy, Snapshot } from '../decide/snapshot.ts';
import type { FeedMatcher } from '../decide/threat.ts';
import type { Verdict } from '../detect/verdict.ts';
import type { IpKey } from '../detect/ip-key.ts';
import type { AttackTransition } from '../detect/org-attack.ts';
import { parseAddress, type Address } from '../net/address.ts';
import { resolveClientAddress, type ChainOptions } from '../net/chain.ts';
import type { DetectorStore, SignalEvent } from '../store/store.ts';
import type { AttemptCorrelator } from './correlator.ts';
import type { OutcomeIngest } from './ingest.ts';
import type { AccountSignals } from './account-signals.ts';
import { specFieldOf } from '../config/detection.ts';


/** What learning tells the rest of the process about; telemetry implements it (metrics, events, logs). */
export interface LearnObserver {
  outcome(result: OutcomeResultLabel): void;
  blockStarted(key: IpKey, clientText: string | undefined, verdict: Verdict, policy: CompiledPolicy): void;
  attack(t: AttackTransition, policy: CompiledPolicy): void;
  /** A request id matched a pending Check of another client; the outcome counted for the entry's own client. */
  clientMismatch?(): void;
}

export interface LearnDeps {
  readonly store: DetectorStore;
  readonly correlator: AttemptCorrelator<IpKey>;
  readonly clock: Clock;
  readonly snapshot: () => Snapshot | undefined;
  readonly feeds?: FeedMatcher;
  readonly maxChainHops: number;
  readonly observer: LearnObserver;
  /**
   * Check that the client an outcome resolves to (peer + X-Forwarded-For, walked as below) is the client of the
   * pending Check its request id names (default true). Off only where the Check resolves its client from
   * something outcome transports do not carry (--client-ip-mode forwarded).
   */
  readonly verifyClient?: boolean;
  /** Familiar sources and spray passwords, learnt from correlated outcomes (absent: not kept). */
  readonly signals?: AccountSignals;
  /** The client's autonomous system (a GeoLite2-ASN lookup), for the per-ASN aggregate; absent: none configured. */
  readonly asnOf?: (clientText: string) => number | undefined;
}

/** Bound on the account-signal events kept until the first policy arrives (RedisStore's stream cap). */
const MAX_EARLY_SIGNALS = 100_000;

/**
 * The outcome path: an outcome from any transport (Envoy ALS, the webhook, syslog) becomes a detector update.
 * A correlated outcome counts for the client its Check resolved, once the outcome's own client is seen to be the
 * same; an uncorrelated or mismatched one counts for the client it resolves to the way the Check path does
 * (chain walk, the one exemption rule). Outcomes of requests Portcullis refused never
 * count. Blocks and Org Under Attack transitions go straight to the observer, under the policy in force.
 */
export class Learner implements OutcomeIngest {
  readonly #d: LearnDeps;
  /** Other replicas' account signals that arrived before the first policy (the shared stream read at start). */
  #early: SignalEvent[] | undefined = [];
  readonly #chain: ChainOptions;
  /**
   * The last peer parsed, by its text: Envoy sends an access-log stream from one address, so a million entries
   * parse it once instead of leaving a million Address objects to collect (Address is immutable).
   */
  #peerText = '';
  #peer: Address | undefined;
  /**
   * The facts of the outcome being learnt, one object reused for every outcome: the stores read them during the
   * call and keep none of them (memory, Redis and cluster stores alike), so an entry leaves no object behind.
   */
  readonly #facts: { usernameHash: number | undefined; unknownUser: boolean; netKey: number | undefined } = { usernameHash: undefined, unknownUser: false, netKey: undefined };
  readonly #orgFacts: { clientKey: IpKey; unknownUser: boolean } = { clientKey: 0 as IpKey, unknownUser: false };

  constructor(deps: LearnDeps) {
    this.#d = deps;
    this.#chain = { maxHops: deps.maxChainHops };
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
    // Other replicas' account signals (Redis mode), applied with the same rules as our own.
    deps.store.setSignalListener((e) => {
      const policy = deps.snapshot()?.policy;
      if (policy && deps.signals) this.#apply(deps.signals, e, policy);
      else if (this.#early && this.#early.length < MAX_EARLY_SIGNALS) this.#early.push(e);
    });
  }

  /**
   * The policy changed: blocks are only created when it says Block, and its detection settings apply to the
   * running detectors (what they have counted is kept). Returns the spec.detection fields that shape tables and
   * apply at the next start (none with `reshape`: the first config after start applies everything).
   */
  applyPolicy(policy: CompiledPolicy, reshape = false): string[] {
    const { store, signals } = this.#d;
    store.setBlocking(policy.action === 'Block');
    const d = policy.detection;
    const deferred = store.configure(d, reshape);
    if (signals) {
      deferred.push(...signals.accounts.reconfigure(d.accounts).map((f) => `accounts.${f}`));
      deferred.push(...signals.spray.reconfigure(d.sprayPasswords).map((f) => `sprayPasswords.${f}`));
      deferred.push(...signals.asn.reconfigure(d.asn).map((f) => `asn.${f}`));
      // The first policy: the shared events that came before it apply now, with its rules.
      const early = this.#early;
      this.#early = undefined;
      if (early) for (const e of early) this.#apply(signals, e, policy);
    }
    return deferred.map(specFieldOf);
  }

  report(o: OutcomeReport): void {
    const { store, observer, correlator } = this.#d;
    const snapshot = this.#d.snapshot();
    if (!snapshot) return;
    const policy = snapshot.policy;
    const now = this.#d.clock.nowMs();
    const pending = o.requestId ? correlator.peek(o.requestId, now) : undefined;
    // The client the outcome itself names; undefined when the transport gave none we can read.
    const own = this.#resolve(o, snapshot);

    let key: IpKey;
    let clientText: string | undefined;
    let usernameHash: number | undefined;
    let fingerprint = 0;
    let netKey: number | undefined;
    if (pending && (own === undefined || this.#d.verifyClient === false || store.engine.keyOfAddress(own) === pending.key)) {
      correlator.take(o.requestId!, now);
      // Our own denials never count; but when another Check reused the id, "denied" may be that other request's.
      if (pending.denied && !pending.reused) return observer.outcome('ignored');
      key = pending.key;
      clientText = pending.clientText;
      usernameHash = pending.usernameHash;
      fingerprint = pending.fingerprint;
      // The network of the client its Check resolved, for the /24 or /48 aggregate.
      const a = own ?? (clientText !== undefined ? parseAddress(clientText) : undefined);
      if (a) netKey = store.engine.networkKeyOf(a);
    } else {
      // Not correlated (no request id, it aged out, or it names another client's Check): count for the client
      // the outcome resolves to. A mismatch leaves the pending Check for its own outcome, and is never dropped
      // for failing the route match: its id did name a sign-in.
      if (pending) observer.clientMismatch?.();
      else if (!policy.signIn.matches(o.method, o.path, o.host)) return observer.outcome('ignored');
      if (!own || exemptionOf(own, snapshot, this.#d.feeds?.match(own))) return observer.outcome('ignored');
      key = store.engine.keyOfAddress(own);
      clientText = own.text;
      netKey = store.engine.networkKeyOf(own);
    }
    const result = classifyOutcome(o, policy.outcomes);
    const unknownUser = o.resultHeader?.trim().toLowerCase() === 'unknown_user';
    observer.outcome(result);
    const signals = this.#d.signals;
    let stale = false;
    if (signals !== undefined && usernameHash !== undefined && netKey !== undefined && (result === 'success' || result === 'failure')) {
      const e: SignalEvent = result === 'success'
        ? { kind: 'success', account: usernameHash, net: netKey, atMs: now }
        : { kind: 'failure', account: usernameHash, net: netKey, fingerprint, source: key, atMs: now };
      stale = this.#apply(signals, e, policy);
      store.shareSignal(e);
    }
    // A stale client (the same wrong password again from a familiar source) is one failure, not a guess each time.
    const counted = stale ? 'unknown' : result;
    const facts = this.#facts;
    facts.usernameHash = usernameHash;
    facts.unknownUser = unknownUser;
    facts.netKey = netKey;
    store.recordOutcome(key, counted, facts, clientText);
    if (policy.orgUnderAttack) {
      const org = this.#orgFacts;
      org.clientKey = key;
      org.unknownUser = unknownUser;
      store.recordOrgOutcome(counted, org, now);
    }
    const asn = signals && this.#d.asnOf && clientText !== undefined && (counted === 'failure' || counted === 'success') ? this.#d.asnOf(clientText) : undefined;
    if (asn !== undefined) signals!.asn.record(asn, key, counted === 'failure', now);
  }

  /**
   * One account-signal event, ours or another replica's: familiar sources from successes; failures towards
   * distinct wrong passwords (a familiar source repeating its last wrong password is a stale client: returns
   * true, and it counts nowhere), and unfamiliar ones towards account-under-attack and spray passwords. An
   * owner's failure from a familiar network counts for neither of those.
   */
  #apply(signals: AccountSignals, e: SignalEvent, policy: CompiledPolicy): boolean {
    if (e.kind === 'success') {
      signals.accounts.recordSuccess(e.account, e.net, e.atMs);
      return false;
    }
    const familiar = signals.accounts.familiar(e.account, e.net, e.atMs);
    const passwords = e.fingerprint !== 0 && policy.passwordFields !== undefined;
    if (passwords && policy.accountProtection && signals.accounts.recordWrongPassword(e.account, e.fingerprint, familiar, e.atMs)) return true;
    if (familiar) return false;
    // Org Under Attack declared: the aggressive profile needs fewer strangers and fewer accounts.
    const aggressive = this.#d.store.org.underAttack;
    if (policy.accountProtection) signals.accounts.recordFailure(e.account, e.net, e.atMs, aggressive);
    if (passwords) signals.spray.recordFailure(e.fingerprint, e.account, e.source, e.atMs, aggressive);
    return false;
  }

  /** The client as the Check path resolves it: the transport's peer, X-Forwarded-For walked with the trusted proxies. */
  #resolve(o: OutcomeReport, snapshot: Snapshot): Address | undefined {
    const text = o.clientIp;
    if (!text) return undefined;
    if (text !== this.#peerText) {
      this.#peerText = text;
      this.#peer = parseAddress(text);
    }
    const peer = this.#peer;
    if (!peer) return undefined;
    return resolveClientAddress(peer, o.forwardedFor, snapshot.isTrustedProxy, this.#chain);
  }

  /** From one shared 1 s interval: closes Org Under Attack buckets, sweeps idle entries and old attempts. */
  tick(): void {
    const now = this.#d.clock.nowMs();
    this.#d.store.tick(now);
    this.#d.signals?.asn.sweep(1024, now);
    this.#d.correlator.sweep(now);
  }
}
