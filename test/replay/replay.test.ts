import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/replay.ts';
import { PortcullisError } from '../../src/errors.ts';
import { readRecords, RecordReader, splitCsv } from '../../src/replay/records.ts';
import { replay } from '../../src/replay/replay.ts';
import { builtInBase, comparisonSettings, parseOverride, parseVariant, profile, settingOf, withOverrides } from '../../src/replay/settings.ts';

// The fixtures hold the same sign-ins (2026-03-02, UTC) in both formats, plus five malformed lines each:
// - ordinary users on 203.0.113.10-13, one typo (dave), one username with a comma (quoted in the CSV);
// - an office NAT 192.0.2.50: 12 users, one typo, all succeeding;
// - 198.51.100.7: 12 failures on one account 5 s apart from 09:01:00, and a colleague's success at 09:01:52;
// - 2001:db8:1:2::a1-a8: 8 failures 1 s apart from 09:02:00, a new address each time in one /64;
// - 198.18.0.9: 6 unknown usernames 30 s apart from 09:04:00.
const CSV = 'test/fixtures/replay/signins.csv';
const JSONL = 'test/fixtures/replay/signins.jsonl';
const at = (hms: string) => Date.parse(`2026-03-02T${hms}Z`);
// A fixed hash key: the username sketches (spray counts) are then the same on every run.
const KEY = Buffer.alloc(32, 7);
const read = (path: string) => readRecords(path, path.endsWith('.csv') ? 'csv' : 'jsonl', KEY);

afterEach(() => vi.restoreAllMocks());

describe('reading recorded sign-ins', () => {
  it('CSV: header, quoting, comments and blank lines; bad lines counted with their line numbers', async () => {
    const r = await readRecords(CSV, 'csv');
    expect(r.timeMs).toHaveLength(45);
    expect(r.bad).toEqual([
      { line: 10, reason: 'time: expected ISO 8601 (2026-03-02T08:00:00Z, 2026-03-02 08:00:00) or epoch milliseconds' },
      { line: 19, reason: 'ip: not an IP address' },
      { line: 26, reason: 'success: expected true, false or unknown_user' },
      { line: 33, reason: 'expected 4 fields (time,ip,username,success), got 2' },
      { line: 40, reason: 'unterminated quoted field' },
    ]);
    expect(r.outOfOrder).toBe(1);
    expect([...r.timeMs].sort((a, b) => a - b)).toEqual(r.timeMs); // sorted for the replay
    expect(r.timeMs[0]).toBe(at('09:00:00'));
  });

  it('JSONL: epoch ms or ISO times, booleans or unknown_user; bad lines never fatal', async () => {
    const r = await readRecords(JSONL, 'jsonl');
    expect(r.timeMs).toHaveLength(45);
    expect(r.bad.map((b) => b.line)).toEqual([8, 16, 23, 30, 37]);
    expect(r.bad.map((b) => b.reason)).toEqual([
      'time: looks like epoch seconds; expected epoch milliseconds',
      'not valid JSON',
      'expected a JSON object',
      'ip: not an IP address',
      'success: expected true, false or unknown_user',
    ]);
  });

  it('a CSV header may reorder the columns; usernames are keyed hashes only', () => {
    const reader = new RecordReader('csv');
    reader.line('success,username,ip,time', 1);
    reader.line('unknown_user,alice@example.com,192.0.2.1,1772442000000', 2);
    reader.line('true,,192.0.2.1,1772442001000', 3);
    const r = reader.finish();
    expect(r.result).toEqual([2, 0]);
    expect(r.user[0]).toBeGreaterThanOrEqual(0);
    expect(r.user[1]).toBe(-1);
    expect(JSON.stringify(r)).not.toContain('alice');
  });

  it('splits CSV lines with RFC 4180 quotes', () => {
    expect(splitCsv('a,"b, c","d ""e""",')).toEqual(['a', 'b, c', 'd "e"', '']);
    expect(splitCsv('"open')).toBeUndefined();
    expect(splitCsv('"x"y,z')).toBeUndefined();
  });
});

describe('replaying through the detectors', () => {
  it('default thresholds: what would have been blocked, and the successful sign-in it would have cost', async () => {
    const f = replay(await read(CSV), profile('default'));
    expect(f.blocked.map((b) => b.source)).toEqual(['198.51.100.7', '2001:db8:1:2::/64', '198.18.0.9']);
    const [brute, v6, spray] = f.blocked;
    // One account hammered from one IP never seen to succeed: IP-wide it is the 7th failure without a success
    // (bruteForceLongUnproven's MEDIUM, a 60 s 429) that limits it; the per-account signal is only LOW for the IP.
    expect(brute).toMatchObject({ firstBlockMs: at('09:01:30'), firstBlockLevel: 'MEDIUM', allowedBeforeBlock: 7, denied: 6, successesDenied: 1 });
    expect(brute!.reasons).toMatchObject({ brute_force: 'MEDIUM', account_targeted: 'LOW' });
    // Rotating inside one /64 is one source: 5 failures in 10 s (CrowdSec) rate-limits it.
    expect(v6).toMatchObject({ firstBlockMs: at('09:02:04'), allowedBeforeBlock: 5, denied: 3 });
    expect(v6!.reasons).toMatchObject({ brute_force: 'MEDIUM' });
    expect(spray).toMatchObject({ firstBlockMs: at('09:06:00'), allowedBeforeBlock: 5, denied: 1 });
    expect(spray!.reasons).toMatchObject({ unknown_user_spray: 'MEDIUM' });
    // The office NAT is not blocked; the colleague behind the brute-forcing IP is the one false positive. The
    // brute-forcing IP and the /64 keep sending into their rate limit: persistence makes them HIGH (403).
    expect(f).toMatchObject({ records: 45, successes: 17, successesDenied: 1, sourcesWithDeniedSuccess: 1, denied: 9 + 1, sourcesBlocked: 3, sourcesBlockedHigh: 2, labels: null });
    expect(brute!.highBlock && v6!.highBlock && !spray!.highBlock).toBe(true);
    expect(f.falsePositiveShare).toBeCloseTo(1 / 17);
    expect(f.attacks).toEqual([]);
  });

  it('CSV and JSONL of the same sign-ins give the same figures', async () => {
    const a = replay(await read(CSV), profile('default'));
    const b = replay(await read(JSONL), profile('default'));
    expect(b).toEqual({ ...a });
  });

  it('each --set override changes what is blocked, compared side by side', async () => {
    const records = await read(CSV);
    const { settings, selected } = comparisonSettings(builtInBase(), 'default', [parseVariant('bruteForceLongUnproven.medium=0'), parseVariant('bruteForceShort.medium=6')]);
    expect(settings.map((s) => s.name)).toEqual(['default', 'aggressive', 'default + bruteForceLongUnproven.medium=0', 'default + bruteForceShort.medium=6', 'default + all 2 --set']);
    expect(selected).toBe(4);
    const [, aggressive, laterMedium, , both] = settings.map((s) => replay(records, s));
    // Without the unproven day window's MEDIUM, AWS WAF's 8 in 10 min limits 198.51.100.7: one more guess first.
    expect(laterMedium!.blocked[0]).toMatchObject({ source: '198.51.100.7', firstBlockMs: at('09:01:35'), firstBlockLevel: 'MEDIUM', allowedBeforeBlock: 8 });
    expect(laterMedium!.blocked[0]!.reasons).toMatchObject({ brute_force: 'MEDIUM' });
    // With CrowdSec's 5-in-10-s raised to 6, the /64 gets one more guess through.
    expect(both!.blocked.find((b) => b.source === '2001:db8:1:2::/64')).toMatchObject({ firstBlockMs: at('09:02:05'), allowedBeforeBlock: 6, denied: 2 });
    // The aggressive profile blocks more (and the first HIGH).
    expect(aggressive!.denied).toBeGreaterThan(10);
    expect(aggressive!.sourcesBlockedHigh).toBeGreaterThan(0);
  });

  it('rejects overrides that name no field or make the thresholds invalid', () => {
    const usage = (fn: () => unknown) => expect(fn).toThrow(PortcullisError);
    const set = (...texts: string[]) => settingOf(builtInBase(), 'x', withOverrides({}, texts.flatMap(parseVariant)), '--set');
    usage(() => parseOverride('bruteForce.hihg=20'));
    usage(() => parseOverride('bruteForce.high'));
    usage(() => parseOverride('bruteForce.high=lots'));
    usage(() => parseOverride('bruteForce.high=20s'));
    usage(() => parseOverride('aggressive.bruteForce.window=1h')); // the aggressive profile has the normal windows
    usage(() => set('bruteForce.low=30')); // low > medium
    usage(() => set('bruteForceLong.high=40')); // medium 60 > high
    expect(set('bruteForceLong.medium=30, bruteForceLong.high=40').snapshot.policy.detection.thresholds.bruteForceLong).toMatchObject({ low: 30, medium: 30, high: 40 });
    expect(() => set('org.bucketMs=10')).toThrow(/orgUnderAttack.bucket: must be whole seconds/);
    // Booleans (spec.detection.underAttack) take true or false only; the setting reaches the compiled policy.
    usage(() => parseOverride('underAttack.refuseUnproven=yes'));
    usage(() => parseOverride('underAttack.refuseUnproven=1'));
    expect(set('underAttack.refuseUnproven=true').snapshot.policy.detection.underAttack).toMatchObject({ refuseUnproven: true, refuseUnfamiliar: false });
    expect(set('underAttack.refuseUnproven=true').detection).toEqual({ underAttack: { refuseUnproven: true } });
    expect(set('asn.medium=30', 'asn.high=60').snapshot.policy.detection.asn).toMatchObject({ medium: 30, high: 60 });
    usage(() => set('asn.medium=90')); // above high (80)
    // The spec's names (durations as text) and the detectors' own (windowMs, org.) are the same field.
    for (const text of ['accountTargeted.window=12h', 'accountTargeted.windowMs=12h', 'accountTargeted.windowMs=43200000']) {
      const win = set(text).snapshot.policy.detection;
      expect(win.thresholds.accountTargeted.windowMs, text).toBe(43_200_000);
      expect(win.aggressive.accountTargeted.windowMs, text).toBe(43_200_000); // windows are shared by both profiles
    }
    expect(parseOverride('accountTargeted.windowMs=12h')).toMatchObject({ path: ['accountTargeted', 'window'], value: '12h' });
    const aggr = set('aggressive.bruteForce.high=6').snapshot.policy.detection;
    expect(aggr.thresholds.bruteForce.high).toBe(11);
    expect(aggr.aggressive.bruteForce.high).toBe(6);
    expect(set('org.minFailures=5').snapshot.policy.detection.orgUnderAttack.minFailures).toBe(5);
    expect(set('orgUnderAttack.minFailures=5').detection).toEqual({ orgUnderAttack: { minFailures: 5 } });
  });

  it('the command prints the comparison and the blocked sources, never a username', async () => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((out += String(chunk)), true));
    expect(await run([CSV, '--set', 'bruteForce.high=20'])).toBe(0);
    expect(out).toContain('5 bad lines skipped');
    expect(out).toContain('line 40: unterminated quoted field');
    expect(out).toContain('| **default + bruteForce.high=20** |');
    expect(out).toMatch(/198\.51\.100\.7\s+2026-03-02T09:01:30\.000Z MEDIUM/);
    expect(out).not.toMatch(/@example\.com|alice|bob|carol|nobody/);
    out = '';
    expect(await run([JSONL, '--json'])).toBe(0);
    const doc = JSON.parse(out);
    expect(doc.input.badLines).toHaveLength(5);
    expect(doc.settings[0].blocked[0]).toMatchObject({ source: '198.51.100.7', firstBlock: '2026-03-02T09:01:30.000Z' });
    expect(out).not.toMatch(/@example\.com/);
  });
});

describe('replay models the per-account refusal', () => {
  it('with the IP-wide windows off, the pair alone refuses the 10th attempt on one account', async () => {
    const records = await read(CSV);
    const { settings } = comparisonSettings(builtInBase(), 'default', [parseVariant('bruteForce.low=0,bruteForce.medium=0,bruteForce.high=0,bruteForceShort.low=0,bruteForceShort.medium=0,bruteForceShort.high=0,bruteForceLongUnproven.low=0,bruteForceLongUnproven.medium=0,bruteForceLongUnproven.high=0')]);
    const f = replay(records, settings[2]!);
    const brute = f.blocked.find((b) => b.source === '198.51.100.7');
    expect(brute).toMatchObject({ firstBlockLevel: 'HIGH', allowedBeforeBlock: 9 });
    expect(brute!.reasons).toEqual({ account_targeted: 'HIGH' });
  });
});
