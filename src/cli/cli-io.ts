import { safeJson } from './terminal-text';
/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The request was understood and refused by policy: exit code 3. */
export class DeniedError extends Error {
  constructor(
    message: string,
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'DeniedError';
  }
}

export const EXIT = Object.freeze({ ok: 0, failure: 1, usage: 2, denied: 3 });

/** Prints data as JSON (--json) or as the human text. */
export function emit(io: Pick<CliIo, 'stdout'>, json: boolean, data: unknown, human: string | (() => string)): void {
  // Terminal-safe (safeJson): what agents or operators supplied is data, never terminal control.
  if (json) io.stdout.write(safeJson(data) + '\n');
  else io.stdout.write((typeof human === 'function' ? human() : human).replace(/\n?$/, '\n'));
}
