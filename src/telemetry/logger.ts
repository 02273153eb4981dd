import { pino, type Logger, type DestinationStream } from 'pino';
import { bounded, boundedFields, TEXT_LIMITS } from '../bounded.ts';

export type { Logger };

/**
 * JSON logs on stderr (stdout carries security events). Credentials that could reach a log line through a
 * request's headers are redacted by path; code never logs bodies or usernames in the first place. Every string
 * in a line is capped (src/bounded.ts) and every list cut to its first 20 items and a count, so no input can
 * make one line huge.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'portcullis' },
      formatters: { log: (fields) => boundedFields(fields) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') args[i] = bounded(args[i] as string, TEXT_LIMITS.logField);
          return method.apply(this, args);
        },
      },
      redact: {
        paths: [
          'headers.authorization', 'headers.cookie', 'headers["set-cookie"]', 'headers["proxy-authorization"]',
          '*.headers.authorization', '*.headers.cookie', '*.headers["set-cookie"]', '*.headers["proxy-authorization"]',
          'password', '*.password', 'token', '*.token',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ fd: 2, sync: false }),
  );
}
