import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PortcullisError } from '../errors.ts';
import { drive, SIM_START_MS, type Action } from '../simulate/driver.ts';
import { formatFigures, formatTable, summarize, type Figures } from '../simulate/report.ts';
import { buildScenario, SCENARIOS } from '../simulate/scenarios.ts';
import { toRecordsCsv } from '../simulate/traffic.ts';

const HELP = `usage: portcullis simulate [--scenario name|all] [--seed N] [--action Block|Audit] [--scale F] [--als-flush-ms N]
                           [--records-dir dir] [--json] [--no-fail-on-miss]

Starts Portcullis in-process (127.0.0.1, a manual clock, a bundled policy whose load balancer 10.0.0.0/16 is a
trusted proxy) and drives its real gRPC Check and access-log interfaces with simulated sign-ins, then prints,
per scenario, what was blocked and what it cost legitimate users, against the targets. See docs/simulation.md.

  --scenario      ${Object.keys(SCENARIOS).join(' | ')} | all (default all;
                  a comma-separated list also works)
  --seed          PRNG seed (default 1): the same seed gives the same traffic and the same figures
  --action        Block (default) or Audit (nothing denied; figures count MEDIUM/HIGH flags instead)
  --scale         Population and attack size factor, 0 < F <= 1 (default 1)
  --als-flush-ms  Envoy access-log buffer_flush_interval to model, whole seconds in ms (default 1000; 0: at once)
  --records-dir   Also write each scenario's sign-ins to <dir>/<scenario>.csv, for \`portcullis replay\`
  --json          Print the figures as JSON
  --no-fail-on-miss
                  Exit 0 even when a target is missed (by default a missed target exits 1, so a CI job fails)

Exit status: 0 when every target that applies is met, 1 when one is missed, 2 on a usage error.
`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      scenario: { type: 'string', default: 'all' },
      seed: { type: 'string', default: '1' },
      action: { type: 'string', default: 'Block' },
      scale: { type: 'string', default: '1' },
      'als-flush-ms': { type: 'string', default: '1000' },
      'records-dir': { type: 'string' },
      json: { type: 'boolean' },
      'no-fail-on-miss': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const names = values.scenario === 'all' ? Object.keys(SCENARIOS) : values.scenario!.split(',').map((s) => s.trim());
  for (const n of names) if (!SCENARIOS[n]) throw new PortcullisError('USAGE', `--scenario: unknown ${JSON.stringify(n)}; one of ${Object.keys(SCENARIOS).join(', ')}, all`);
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new PortcullisError('USAGE', '--seed: an integer 0..4294967295');
  if (values.action !== 'Block' && values.action !== 'Audit') throw new PortcullisError('USAGE', '--action: Block or Audit');
  const action: Action = values.action;
  const scale = Number(values.scale);
  if (!(scale > 0 && scale <= 1)) throw new PortcullisError('USAGE', '--scale: a number in (0, 1]');
  const alsFlushMs = Number(values['als-flush-ms']);
  if (!(Number.isInteger(alsFlushMs) && alsFlushMs >= 0 && alsFlushMs % 1000 === 0)) throw new PortcullisError('USAGE', '--als-flush-ms: 0 or a multiple of 1000');

  const all: Figures[] = [];
  for (const name of names) {
    const scenario = buildScenario(name, seed, scale);
    if (values['records-dir']) {
      mkdirSync(values['records-dir'], { recursive: true });
      writeFileSync(join(values['records-dir'], `${name}.csv`), toRecordsCsv(scenario.events, SIM_START_MS));
    }
    const f = summarize(scenario, await drive(scenario, { action, alsFlushMs, seed }), action);
    all.push(f);
    if (!values.json) process.stdout.write(`${formatFigures(f)}\n\n`);
  }
  const missed = all.flatMap((f) => f.targets.filter((t) => t.met === false).map((t) => `${f.name}: ${t.label} (${t.value})`));
  if (values.json) process.stdout.write(`${JSON.stringify({ seed, action, scale, alsFlushMs, missed, scenarios: all }, null, 2)}\n`);
  else process.stdout.write(`${formatTable(all)}\n`);
  if (missed.length === 0) return 0;
  const failing = !values['no-fail-on-miss'];
  process.stderr.write(`portcullis simulate: ${missed.length} target(s) missed${failing ? '' : ' (--no-fail-on-miss: exit 0)'}:\n${missed.map((m) => `  ${m}`).join('\n')}\n`);
  return failing ? 1 : 0;
}
