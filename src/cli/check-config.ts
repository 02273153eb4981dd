import { parseArgs } from 'node:util';
import { compile } from '../config/compile.ts';
import { loadPaths } from '../sources/files.ts';
import { formatIssues } from '../config/reloader.ts';
import { PortcullisError } from '../errors.ts';

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options: { help: { type: 'boolean' } }, allowPositionals: true, strict: true });
  if (values.help) {
    process.stdout.write('usage: portcullis check-config <file|dir>...\n\nValidates every document, compiles the snapshot, prints a summary. Exit 0 when valid, 1 otherwise.\n');
    return 0;
  }
  if (positionals.length === 0) throw new PortcullisError('USAGE', 'give at least one config file or folder');
  const batch = loadPaths(positionals);
  const result = compile(batch.objects, 1, Date.now());
  const issues = [...batch.issues, ...result.issues];
  const s = result.snapshot;
  const out = [
    `objects:  ${batch.objects.length} (${batch.objects.filter((o) => o.kind === 'IPZone').length} IPZone, ${batch.objects.filter((o) => o.kind === 'ThreatPolicy').length} ThreatPolicy)`,
    ...s.zones.map((z) => `  zone ${z.name}: ${z.usage}, ${z.gateways} gateway entries, ${z.proxies} proxy entries`),
    `policy:   ${s.policy.name} (action ${s.policy.action}, exempt ${s.policy.exemptZones.join(', ') || 'none'}, ${s.policy.signIn.routeCount} sign-in routes${s.policy.signIn.usesDefaults ? ' (defaults)' : ''})`,
    `index:    ${s.entryCount} entries in ${s.index.segmentCount} disjoint segments`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
  if (issues.length > 0) {
    process.stderr.write(`\n${issues.length} problem(s):\n${formatIssues(issues).map((l) => `  ${l}`).join('\n')}\n`);
    return 1;
  }
  process.stdout.write('valid\n');
  return 0;
}
