import { distributed, nameList, oneAccount, paced } from './attacks.ts';
import { Rng } from './rng.ts';
import { AddressPool, DESKTOP, HOUR, MIN, MOBILE, SEC, population, sortEvents, SPRAYED_PASSWORDS, userName, type SimEvent } from './traffic.ts';

export interface Scenario {
  readonly name: string;
  readonly title: string;
  readonly durationMs: number;
  /** In time order. */
  readonly events: readonly SimEvent[];
  /** When attack traffic runs: time to declare / clear Org Under Attack is measured from its ends. */
  readonly attackWindow?: { readonly fromMs: number; readonly toMs: number };
  /** The 10× surge: the Org Under Attack target applies. */
  readonly surge?: boolean;
}

/** scale 1 is the documented run; tests use a small scale (fewer users, shorter attacks). */
type Build = (rng: Rng, scale: number) => Scenario;

const n = (full: number, scale: number, min = 1): number => Math.max(min, Math.round(full * scale));

function ordinary(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const users = n(5000, scale, 50);
  // Households: about one in five addresses is shared by two users.
  const ips = Array.from({ length: Math.ceil(users * 0.8) }, () => pool.v4('legit'));
  const events: SimEvent[] = [];
  population(rng.fork('users'), { users, prefix: 'user', fromMs: 0, toMs: HOUR, sessionsPerUser: 1.5, behaviour: DESKTOP, ipOf: (i) => ips[Math.floor(i * 0.8)]! }, events);
  return { name: 'ordinary', title: `${users} ordinary users, one hour, ~1.5 sign-ins each`, durationMs: HOUR, events: sortEvents(events) };
}

function officeNat(rng: Rng, _scale: number, hammer = false): Scenario {
  const nat = new AddressPool(rng.fork('ip')).v4('legit');
  const events: SimEvent[] = [];
  if (hammer) {
    // At 10:30 one employee has forgotten a password and tries 10 times, ~15 s apart, before resetting it.
    for (let k = 0; k < 10; k++) events.push({ atMs: 150 * MIN + k * 15 * SEC, ip: nat, username: userName('staff', 0), result: 'failure', actor: 'legit', source: nat });
  }
  const base = { users: 500, prefix: 'staff', behaviour: DESKTOP, ipOf: () => nat };
  // The 9 o'clock rush (sd 20 min), then 60 % sign in again later in the morning (second app, expired session).
  population(rng.fork('rush'), { ...base, fromMs: 0, toMs: 4 * HOUR, sessionsPerUser: 1, when: (r) => r.normal(HOUR, 20 * MIN) }, events);
  population(rng.fork('later'), { ...base, fromMs: 90 * MIN, toMs: 4 * HOUR, sessionsPerUser: 0.6 }, events);
  return hammer
    ? { name: 'office-nat-lockout', title: 'the same office, plus one employee failing 10 times in a row on their own account at 10:30', durationMs: 4 * HOUR, events: sortEvents(events) }
    : { name: 'office-nat', title: '500 users behind one office NAT (one IP), 9 o\'clock rush, 4 h', durationMs: 4 * HOUR, events: sortEvents(events) };
}

function mobileCgnat(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const users = n(4000, scale, 200);
  const ips = Array.from({ length: 4 }, () => pool.v4('legit'));
  const events: SimEvent[] = [];
  population(rng.fork('users'), { users, prefix: 'user', fromMs: 0, toMs: 2 * HOUR, sessionsPerUser: 1.5, behaviour: MOBILE, ipOf: (i) => ips[i % 4]! }, events);
  return { name: 'mobile-cgnat', title: `${users} phone users behind 4 carrier-grade NAT addresses, 2 h`, durationMs: 2 * HOUR, events: sortEvents(events) };
}

/** Ordinary users around an attack, so every scenario also measures collateral damage. */
function background(rng: Rng, pool: AddressPool, users: number, toMs: number, events: SimEvent[], sessions = 1): void {
  const ips = Array.from({ length: users }, () => pool.v4('legit'));
  population(rng.fork('background'), { users, prefix: 'user', fromMs: 0, toMs, sessionsPerUser: sessions, behaviour: DESKTOP, ipOf: (i) => ips[i]! }, events);
}

function bruteForce(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  const length = Math.max(5 * MIN, 20 * MIN * scale);
  background(rng, pool, n(1000, scale, 50), 10 * MIN + length + 5 * MIN, events);
  const a = rng.fork('attack');
  [1, 2, 3, 5, 8, 12, 20, 30, 45, 60].forEach((gap, i) => {
    const ip = pool.v4('attack');
    const from = a.uniform(2 * MIN, 10 * MIN);
    paced(a, { fromMs: from, toMs: from + length, intervalMs: gap * SEC, ip: () => ip, source: ip, group: `1 guess / ${gap} s`, target: oneAccount(userName('user', i)) }, events);
  });
  return {
    name: 'brute-force',
    title: `10 IPs, each guessing one account at 1 guess per 1–60 s for ${length / MIN} min`,
    durationMs: 15 * MIN + length,
    events: sortEvents(events),
  };
}

function passwordSpray(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  background(rng, pool, n(3000, scale, 100), 45 * MIN, events);
  const bots = Array.from({ length: n(1500, scale, 30) }, () => pool.v4('attack'));
  const a = rng.fork('attack');
  const target = nameList(a, { prefix: 'user', accounts: 5000, unknownShare: 0.3, hitShare: 0.002 });
  distributed(a, { fromMs: 15 * MIN, toMs: 35 * MIN, ips: bots, ratePerSec: 3 * scale, group: 'botnet, one password', target, passwords: SPRAYED_PASSWORDS.slice(0, 1) }, events);
  return {
    name: 'password-spray',
    title: `botnet of ${bots.length} IPs spraying one password over many usernames (${3 * scale}/s for 20 min, ~2–3 tries per IP)`,
    durationMs: 45 * MIN,
    events: sortEvents(events),
    attackWindow: { fromMs: 15 * MIN, toMs: 35 * MIN },
  };
}

function credentialStuffing(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  const length = Math.max(MIN, 10 * MIN * scale);
  background(rng, pool, n(1000, scale, 50), 20 * MIN + length, events);
  const a = rng.fork('attack');
  const ip = pool.v4('attack');
  const target = nameList(a, { prefix: 'user', accounts: 1000, unknownShare: 0.35, hitShare: 0.01 });
  paced(a, { fromMs: 10 * MIN, toMs: 10 * MIN + length, intervalMs: 250, ip: () => ip, source: ip, group: 'combo list, 4 / s', target }, events);
  return { name: 'credential-stuffing', title: `one IP running a combo list at 4 pairs/s for ${length / MIN} min`, durationMs: 20 * MIN + length, events: sortEvents(events) };
}

function lowAndSlow(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  const length = Math.max(HOUR, 6 * HOUR * scale);
  background(rng, pool, n(500, scale, 50), length, events, 2);
  const a = rng.fork('attack');
  for (let i = 0; i < 20; i++) {
    const ip = pool.v4('attack');
    const gap = (2 + (4 * (i % 10)) / 9) * MIN; // 2 to 6 min, below every short window
    const one = i < 10;
    const target = one ? oneAccount(userName('user', i)) : nameList(a, { prefix: 'user', accounts: 500, unknownShare: 0.2, hitShare: 0 });
    paced(a, { fromMs: a.uniform(0, 10 * MIN), toMs: length, intervalMs: gap, ip: () => ip, source: ip, group: one ? 'one account, 1 / 2–6 min' : 'many accounts, 1 / 2–6 min', target }, events);
  }
  return { name: 'low-and-slow', title: `20 IPs, one attempt every 2–6 min each for ${length / HOUR} h (half on one account, half over many)`, durationMs: length, events: sortEvents(events) };
}

function ipv6Rotation(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  const users = n(1000, scale, 50);
  // Most users on IPv6, each with their own /64 (the usual residential delegation).
  const ips = Array.from({ length: users }, (_, i) => (i % 10 < 7 ? pool.v6In(pool.v6Prefix('legit')) : pool.v4('legit')));
  const length = Math.max(3 * MIN, 10 * MIN * scale);
  population(rng.fork('users'), { users, prefix: 'user', fromMs: 0, toMs: 10 * MIN + length, sessionsPerUser: 1, behaviour: DESKTOP, ipOf: (i) => ips[i]! }, events);
  const a = rng.fork('attack');
  const kinds = [
    { group: 'one account, 1 / 2 s', gap: 2 * SEC, target: oneAccount(userName('user', 7)) },
    { group: 'spray, 1 / 3 s', gap: 3 * SEC, target: nameList(a, { prefix: 'user', accounts: 1000, unknownShare: 0.3, hitShare: 0 }) },
    { group: 'stuffing, 2 / s', gap: 500, target: nameList(a, { prefix: 'user', accounts: 1000, unknownShare: 0.35, hitShare: 0.01 }) },
  ];
  for (const k of kinds) {
    const prefix = pool.v6Prefix('attack');
    // A fresh address from the /64 for every attempt.
    paced(a, { fromMs: 5 * MIN, toMs: 5 * MIN + length, intervalMs: k.gap, ip: () => pool.v6In(prefix), source: `${prefix}::/64`, group: k.group, target: k.target }, events);
  }
  return { name: 'ipv6-rotation', title: `3 attackers each rotating addresses inside one /64 (a new address per attempt), ${length / MIN} min`, durationMs: 10 * MIN + length, events: sortEvents(events) };
}

function orgSurge(rng: Rng, scale: number): Scenario {
  return surgeAfter(rng, scale, scale < 1 ? 11 * MIN : 15 * MIN, 'org-surge');
}

/** The same surge one minute after a fresh start: no baseline yet (cold start). */
function coldStart(rng: Rng, scale: number): Scenario {
  return surgeAfter(rng, scale, MIN, 'cold-start');
}

function surgeAfter(rng: Rng, scale: number, warm: number, name: string): Scenario {
  const small = scale < 1;
  const surge = small ? 2 * MIN : 10 * MIN;
  const duration = warm + surge + (small ? 6.5 * MIN : 15 * MIN);
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  // ~6 sign-ins/s, enough for a 10x surge of failures to clear the detector's absolute floor (20 per 10 s).
  const users = 8000;
  const ips = Array.from({ length: users }, () => pool.v4('legit'));
  population(rng.fork('users'), { users, prefix: 'user', fromMs: 0, toMs: duration, sessionsPerUser: (6 * duration) / SEC / users, behaviour: DESKTOP, ipOf: (i) => ips[i]! }, events);
  const baseFailures = events.filter((e) => e.atMs < warm && e.result !== 'success').length / (warm / SEC);
  const bots = Array.from({ length: 600 }, () => pool.v4('attack'));
  const a = rng.fork('attack');
  const target = nameList(a, { prefix: 'user', accounts: users, unknownShare: 0.2, hitShare: 0 });
  // 9x the baseline's failures on top of it: 10x in all.
  distributed(a, { fromMs: warm, toMs: warm + surge, ips: bots, ratePerSec: 9 * baseFailures, group: 'surge from 600 IPs', target }, events);
  return {
    name,
    title: `10x the baseline failure rate (${baseFailures.toFixed(2)}/s) from 600 IPs for ${surge / MIN} min after ${warm / MIN} min of baseline`,
    durationMs: duration,
    events: sortEvents(events),
    attackWindow: { fromMs: warm, toMs: warm + surge },
    surge: true,
  };
}

/** A botnet concentrated in a few /24s (rented servers, one hosting provider): hundreds of IPs, a handful of tries each. */
function narrowSpray(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  background(rng, pool, n(2000, scale, 100), 40 * MIN, events);
  const a = rng.fork('attack');
  const nets = Array.from({ length: 5 }, () => `${a.pick([45, 91, 185, 193])}.${a.int(0, 255)}.${a.int(0, 255)}`);
  const bots = Array.from({ length: n(400, scale, 40) }, (_, i) => `${nets[i % nets.length]}.${1 + Math.floor(i / nets.length)}`);
  const target = nameList(a, { prefix: 'user', accounts: 2000, unknownShare: 0.1, hitShare: 0 });
  const length = Math.max(5 * MIN, 20 * MIN * scale);
  // About 5 attempts per bot over the attack.
  distributed(a, { fromMs: 10 * MIN, toMs: 10 * MIN + length, ips: bots, ratePerSec: (5 * bots.length) / (length / SEC), group: 'botnet in 5 /24s', target, passwords: SPRAYED_PASSWORDS }, events);
  return {
    name: 'narrow-spray',
    title: `${bots.length} IPs in 5 /24s spraying common passwords, ~5 tries each over ${length / MIN} min`,
    durationMs: 20 * MIN + length,
    events: sortEvents(events),
    attackWindow: { fromMs: 10 * MIN, toMs: 10 * MIN + length },
  };
}

/** A wide botnet: >= 2,000 IPs, one attempt each, over real usernames. */
function wideSpray(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  background(rng, pool, n(2000, scale, 100), 30 * MIN, events);
  const a = rng.fork('attack');
  const bots = Array.from({ length: n(2500, scale, 100) }, () => pool.v4('attack'));
  const target = nameList(a, { prefix: 'user', accounts: 2000, unknownShare: 0, hitShare: 0.001 });
  const from = 10 * MIN;
  const gap = (10 * MIN) / bots.length;
  bots.forEach((ip, i) => {
    const { username, result } = target(i);
    events.push({ atMs: Math.round(from + i * gap), ip, username, result, actor: 'attack', source: ip, group: 'one try per IP', password: SPRAYED_PASSWORDS[i % SPRAYED_PASSWORDS.length]! });
  });
  return { name: 'wide-spray', title: `${bots.length} IPs, one attempt each over 10 min, real usernames, 3 common passwords`, durationMs: 30 * MIN, events: sortEvents(events), attackWindow: { fromMs: from, toMs: from + 10 * MIN } };
}

/** One IP guessing one account every 2 s for 2 h, whatever it is answered. */
function persistent(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  const length = Math.max(30 * MIN, 2 * HOUR * scale);
  background(rng, pool, n(500, scale, 50), 5 * MIN + length, events);
  const a = rng.fork('attack');
  const ip = pool.v4('attack');
  paced(a, { fromMs: 5 * MIN, toMs: 5 * MIN + length, intervalMs: 2 * SEC, ip: () => ip, source: ip, group: '1 guess / 2 s through its rate limit', target: oneAccount(userName('user', 3)) }, events);
  return { name: 'persistent', title: `one IP guessing one account every 2 s for ${length / MIN} min, through its rate limits`, durationMs: 5 * MIN + length, events: sortEvents(events) };
}

/** Bursts of 5 failures within 7 s, placed across 10 s edges (the old two-bucket window's blind spot). */
function straddling(rng: Rng, scale: number): Scenario {
  const pool = new AddressPool(rng.fork('ip'));
  const events: SimEvent[] = [];
  background(rng, pool, n(500, scale, 50), 20 * MIN, events);
  const a = rng.fork('attack');
  for (let i = 0; i < 20; i++) {
    const ip = pool.v4('attack');
    // Burst k of this IP starts 6 s into a 10 s bucket: 4 failures before the edge, then more after it.
    for (let burst = 0; burst < 3; burst++) {
      const start = 5 * MIN + i * 20 * SEC + burst * 3 * MIN + 6 * SEC;
      for (let k = 0; k < 8; k++) events.push({ atMs: start + k * 1400, ip, username: userName('user', a.int(0, 499)), result: 'failure', actor: 'attack', source: ip, group: 'bursts of 5+ in 7 s across 10 s edges' });
    }
  }
  return { name: 'straddling-bursts', title: '20 IPs, bursts of 8 failures 1.4 s apart starting 6 s into a 10 s bucket', durationMs: 20 * MIN, events: sortEvents(events) };
}

export const SCENARIOS: Readonly<Record<string, Build>> = Object.freeze({
  ordinary,
  'office-nat': officeNat,
  'office-nat-lockout': (rng, scale) => officeNat(rng, scale, true),
  'mobile-cgnat': mobileCgnat,
  'brute-force': bruteForce,
  'password-spray': passwordSpray,
  'credential-stuffing': credentialStuffing,
  'low-and-slow': lowAndSlow,
  'ipv6-rotation': ipv6Rotation,
  'org-surge': orgSurge,
  'cold-start': coldStart,
  'narrow-spray': narrowSpray,
  'wide-spray': wideSpray,
  persistent,
  'straddling-bursts': straddling,
});

export function buildScenario(name: string, seed: number, scale = 1): Scenario {
  const build = SCENARIOS[name];
  if (!build) throw new RangeError(`unknown scenario ${JSON.stringify(name)}`);
  // Builders fork their own streams; office-nat-lockout thereby replays office-nat's traffic exactly.
  const s = build(new Rng(seed), scale);
  // Retries of sessions that began near the end run past it: the run covers them.
  const last = s.events.at(-1)?.atMs ?? 0;
  return last < s.durationMs ? s : { ...s, durationMs: Math.ceil((last + 1) / 1000) * 1000 };
}
