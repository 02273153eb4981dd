import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS, docsCli, groupOf, readmeWithSynopsis } from '../../scripts/docs-cli.ts';
import { SETTINGS_USED } from '../../src/cli/explain.ts';
import { settingsParseOptions } from '../../src/settings.ts';

// docs/cli.md and the README's synopsis are generated (npm run docs:cli); here they are held against what the
// CLI itself prints, run as a subprocess, and against the flags each command actually parses.
const run = promisify(execFile);
const helpOf = async (command: string) => (await run(process.execPath, ['bin/portcullis.js', command, '--help'])).stdout;
const doc = readFileSync('docs/cli.md', 'utf8');
const section = (command: string) => {
  const start = doc.indexOf(`\n## portcullis ${command}\n`);
  expect(start, `docs/cli.md has a section for ${command}`).toBeGreaterThan(0);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
};

describe('the CLI reference', { timeout: 60_000 }, () => {
  it('is current: docs/cli.md and the README synopsis are what npm run docs:cli writes', () => {
    expect(docsCli(true), 'stale: run npm run docs:cli').toEqual([]);
  });

  it.each(['check-config', 'explain', 'simulate', 'replay'])('%s: the section is exactly what the command prints for --help', async (command) => {
    const printed = await helpOf(command);
    expect(section(command)).toContain(`\`\`\`\n${printed.trimEnd()}\n\`\`\``);
  });

  it('serve: every row of the settings tables is a flag `serve --help` prints with that variable and default, and none is missing', async () => {
    const printed = await helpOf('serve');
    const rows = [...section('serve').matchAll(/^\| `--([a-z0-9-]+)` \| `([A-Z0-9_]+)` \| (?:`([^`]*)`)? \|/gm)].map((m) => ({ flag: m[1]!, env: m[2]!, def: (m[3] ?? '').replaceAll('\\|', '|') }));
    const printedFlags = [...printed.matchAll(/^ {2}--([a-z0-9-]+) /gm)].map((m) => m[1]!);
    expect(rows.map((r) => r.flag).sort()).toEqual([...printedFlags].sort());
    expect(rows.map((r) => r.flag).sort(), 'every flag serve parses').toEqual(Object.keys(settingsParseOptions()).sort());
    for (const r of rows) {
      const entry = printed.slice(printed.indexOf(`  --${r.flag} `)).split(/\n(?= {2}--)/)[0]!;
      expect(entry, r.flag).toContain(`env ${r.env}${r.def ? `, default ${r.def}` : ''}`);
    }
    // The flags the issue found missing from the old hand-written reference.
    for (const f of ['authz-address', 'syslog-udp-address', 'config-source', 'kube-namespaces', 'geoip-asn', 'redis-url']) expect(rows.map((r) => r.flag)).toContain(f);
  });

  it.each(['explain', 'simulate', 'replay'] as const)('%s: its help names every flag it parses', async (command) => {
    const printed = await helpOf(command);
    const own = Object.keys(COMMANDS[command].OPTIONS).filter((f) => f !== 'help');
    const flags = command === 'explain' ? [...own, ...SETTINGS_USED] : own;
    for (const f of flags) expect(printed, `--${f}`).toMatch(new RegExp(`--${f}\\b`));
  });

  it('the README carries each command\'s usage lines and links the full reference', () => {
    const readme = readFileSync('README.md', 'utf8');
    const block = /<!-- cli:start -->\n([\s\S]*?)<!-- cli:end -->/.exec(readme)![1]!;
    for (const name of Object.keys(COMMANDS)) expect(block).toMatch(new RegExp(`^portcullis ${name} `, 'm'));
    expect(block).toContain('[docs/cli.md](docs/cli.md)');
  });

  it('the generator refuses what it cannot place rather than dropping it', () => {
    expect(() => groupOf('brand-new-flag')).toThrow(/fits no group/);
    expect(() => readmeWithSynopsis('# no markers\n')).toThrow(/lacks the <!-- cli:start -->/);
  });
});
