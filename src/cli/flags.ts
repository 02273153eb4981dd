import type { ParseArgsConfig } from 'node:util';
import { SETTING_FLAGS } from '../settings.ts';

/** Help text for the settings flags, from the one table in settings.ts. */
export function settingsHelp(only?: readonly string[]): string {
  return Object.entries(SETTING_FLAGS)
    .filter(([flag]) => !only || only.includes(flag))
    .map(([flag, s]) => `  --${flag.padEnd(16)} ${s.help}\n${' '.repeat(21)}env ${s.env}${s.default ? `, default ${s.default}` : ''}`)
    .join('\n');
}

/** parseArgs' options table, for commands that export theirs (docs/cli.md lists each flag). */
export type CliOptions = NonNullable<ParseArgsConfig['options']>;
