import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * JSON logs on stderr (stdout carries security events). Credentials that could reach a log line through a
 * request's headers are redacted by path; code never logs bodies or usernames in the first place.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'portcullis' },
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
