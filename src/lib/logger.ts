import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino censors wherever they appear. SecretValue already prints as
 * [REDACTED]; this is the second net for plain strings under tell-tale keys.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  'token',
  'secret',
  'authorization',
  '*.password',
  '*.token',
  '*.secret',
  '*.authorization',
  '*.headers.authorization',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
  'req.headers.authorization',
  'database_credential',
  '*.database_credential',
  '*.databaseCredential',
];

/** JSON logs to stderr (stdout belongs to CLI output). */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream | pino.DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'secret-broker' },
      redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (opts.destination as pino.DestinationStream | undefined) ?? pino.destination({ fd: 2, sync: false }),
  );
}
