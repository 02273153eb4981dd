import { parseArgs } from 'node:util';
import { readSettings, settingsParseOptions } from '../settings.ts';
import { startPortcullis } from '../main.ts';
import { PortcullisError } from '../errors.ts';
import { settingsHelp } from './flags.ts';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...settingsParseOptions(), help: { type: 'boolean' } }, strict: true });
  if (values.help) {
    process.stdout.write(`usage: portcullis serve --config <file|dir>... [flags]\n\n${settingsHelp()}\n`);
    return 0;
  }
  const settings = readSettings(values, process.env);
  if (settings.configPaths.length === 0 && settings.configSource === 'files') throw new PortcullisError('USAGE', 'no config given: pass --config <file|dir> or set PORTCULLIS_CONFIG');
  const running = await startPortcullis(settings);
  await new Promise<void>((resolve) => {
    // First signal: drain (health NOT_SERVING, checks still answered for --drain-seconds), then close.
    // A second signal closes at once.
    let signalled = false;
    const onSignal = (signal: string) => {
      if (signalled) {
        process.stderr.write(`portcullis: ${signal} again, closing now\n`);
        running.stop().then(resolve, resolve);
        return;
      }
      signalled = true;
      process.stderr.write(`portcullis: ${signal}, draining for ${settings.drainSeconds}s\n`);
      running.drain().then(() => running.stop()).then(resolve, resolve);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
  return 0;
}
