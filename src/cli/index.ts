import { PortcullisError } from '../errors.ts';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  serve: { summary: 'Run the ext_authz sidecar.', load: () => import('./serve.ts') },
  'check-config': { summary: 'Validate config files and print a summary; exit 1 on errors.', load: () => import('./check-config.ts') },
  explain: { summary: 'Show how a request from a peer with a given X-Forwarded-For would be decided.', load: () => import('./explain.ts') },
  simulate: { summary: 'Drive simulated sign-in traffic through a real in-process sidecar and report what was blocked.', load: () => import('./simulate.ts') },
  replay: { summary: 'Run recorded sign-in outcomes through the detectors offline and compare threshold settings.', load: () => import('./replay.ts') },
};

export function usage(): string {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`);
  return `usage: portcullis <command> [flags]\n\ncommands:\n${rows.join('\n')}\n\nRun "portcullis <command> --help" for a command's flags.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`portcullis: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await command.load()).run(rest);
  } catch (err) {
    if (err instanceof PortcullisError || (err as { code?: string })?.code?.startsWith?.('ERR_PARSE_ARGS')) {
      process.stderr.write(`portcullis ${name}: ${(err as Error).message}\n`);
      // Usage errors exit 2; a well-formed command that cannot run (port in use, ...) exits 1.
      return err instanceof PortcullisError && err.code !== 'USAGE' ? 1 : 2;
    }
    throw err;
  }
}
