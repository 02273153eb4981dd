import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PortcullisError } from '../errors.ts';
import { formatOf, readRecords } from '../replay/records.ts';
import { replay } from '../replay/replay.ts';
import { formatBlocked, formatComparison, formatInput } from '../replay/report.ts';
import { comparisonSettings, parseVariant, type ProfileName } from '../replay/settings.ts';

const HELP = `usage: portcullis replay <file> [--format csv|jsonl] [--profile default|aggressive] [--set key=value ...] [--json]

Runs recorded sign-in outcomes through fresh detectors offline (blocking on, a clock that follows the records)
and reports what each threshold setting would have blocked and which successful sign-ins it would have denied.
Records: time (ISO 8601 or epoch ms), ip, username, success (true | false | unknown_user); see docs/simulation.md.
Usernames are hashed in memory with a random key and never printed. Bad lines are skipped and listed.

  --format    csv or jsonl (default: from the extension; .jsonl/.ndjson/.json are JSONL, anything else CSV)
  --profile   Base for the --set overrides and the detailed listing: default (default) or aggressive
  --set       Override a Thresholds field on the profile, e.g. bruteForce.high=20, accountTargeted.windowMs=12h;
              aggressive.<field> for the under-attack profile, org.<option> for Org Under Attack
              (e.g. org.minFailures=10). Several joined by commas form one variant. Repeat --set to compare
              variants: each alone, then all together.
  --max-rows  Blocked sources listed for the selected setting (default 50)
  --json      Print everything as JSON
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string' },
      profile: { type: 'string', default: 'default' },
      set: { type: 'string', multiple: true, default: [] },
      'max-rows': { type: 'string', default: '50' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new PortcullisError('USAGE', 'expected exactly one file of recorded sign-ins');
  const path = positionals[0]!;
  if (values.format !== undefined && values.format !== 'csv' && values.format !== 'jsonl') throw new PortcullisError('USAGE', '--format: csv or jsonl');
  if (values.profile !== 'default' && values.profile !== 'aggressive') throw new PortcullisError('USAGE', '--profile: default or aggressive');
  const maxRows = Number(values['max-rows']);
  if (!Number.isInteger(maxRows) || maxRows < 0) throw new PortcullisError('USAGE', '--max-rows: a whole number');
  const { settings, selected } = comparisonSettings(values.profile as ProfileName, values.set!.map(parseVariant));
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
  } catch (err) {
    throw new PortcullisError('USAGE', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }

  const records = await readRecords(path, formatOf(path, values.format));
  const results = settings.map((s) => replay(records, s));
  if (values.json) {
    const n = records.timeMs.length;
    const input = {
      path, format: records.format, records: n, addresses: records.addresses.length, outOfOrder: records.outOfOrder,
      from: n ? new Date(records.timeMs[0]!).toISOString() : null, to: n ? new Date(records.timeMs[n - 1]!).toISOString() : null,
      badLines: records.bad,
    };
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    const out = results.map((r, i) => ({
      ...r,
      selected: i === selected,
      attacks: r.attacks.map((a) => ({ start: iso(a.startMs), end: iso(a.endMs) })),
      blocked: r.blocked.map(({ firstBlockMs, ...b }) => ({ ...b, firstBlock: iso(firstBlockMs) })),
    }));
    process.stdout.write(`${JSON.stringify({ input, settings: out }, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`${formatInput(path, records)}\n\n${formatComparison(results, selected)}\n\n${formatBlocked(results[selected]!, maxRows)}\n`);
  return 0;
}
