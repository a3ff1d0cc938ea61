import { parseArgs } from 'node:util';
import { StartupError } from '../app';
import { ConfigError } from '../config/problems';
import { BrokerError } from '../lib/errors';
import { DeniedError, EXIT, UsageError, type CliIo } from './cli-io';
import type { Command } from './command';
import { devCommand } from './dev-command';
import { evidenceCommands } from './evidence-commands';
import { invokeCommand } from './invoke-command';
import { explanationFromTrailer, formatExplanation, leaseCommands } from './lease-commands';
import { approvalsCommands } from './approvals-commands';
import { breakglassCommands } from './breakglass-commands';
import { policyCommands } from './policy-commands';
import { configCheckCommand, pkiInitCommand, serveCommand } from './local-commands';
import { secretsListCommand, secretsPutCommand } from './secrets-commands';
import { trustCommands } from './trust-commands';
import { reportCommand } from './report-command';
import { rotateCommand } from './rotate-command';
import { healthCommand } from './health-command';
import { consoleCommand } from './console-command';
import { witnessCommand, witnessKeyCommand } from '../witness/witness-command';

export function allCommands(extra: readonly Command[] = []): Command[] {
  return [serveCommand, devCommand, configCheckCommand, pkiInitCommand, secretsPutCommand, secretsListCommand, ...leaseCommands, ...trustCommands, invokeCommand, ...approvalsCommands, ...breakglassCommands, ...policyCommands, ...evidenceCommands, rotateCommand, reportCommand, healthCommand, consoleCommand, witnessCommand, witnessKeyCommand, ...extra];
}

function help(commands: Command[]): string {
  const rows = commands.map((c) => `  ${c.usage.padEnd(60)} ${c.summary}`);
  return ['usage: secret-broker <command> [flags]', '', 'commands:', ...rows, '', 'exit codes: 0 ok, 1 failure, 2 usage, 3 denied'].join('\n') + '\n';
}

function oneLine(err: unknown): string {
  if (err instanceof ConfigError) return err.message; // several lines by design: every problem at once
  if (err instanceof BrokerError || err instanceof UsageError || err instanceof DeniedError || err instanceof StartupError) return err.message;
  const e = err as { code?: string; message?: string };
  return e?.message ? e.message.split('\n')[0]! : String(err);
}

/** Runs one CLI invocation; returns the exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo, extra: readonly Command[] = []): Promise<number> {
  const commands = allCommands(extra);
  if (argv.length === 0 || argv[0] === 'help' || argv[0] === '--help' || argv[0] === '-h') {
    (argv.length === 0 ? io.stderr : io.stdout).write(help(commands));
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const cmd = commands
    .filter((c) => c.path.every((p, i) => argv[i] === p))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!cmd) {
    io.stderr.write(`secret-broker: unknown command "${argv.slice(0, 2).join(' ')}"; run "secret-broker help"\n`);
    return EXIT.usage;
  }
  const rest = argv.slice(cmd.path.length);
  let values: Record<string, string | boolean | string[] | undefined>;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: rest, options: { ...cmd.options, help: { type: 'boolean' } }, allowPositionals: true, strict: true });
    values = parsed.values as typeof values;
    positionals = parsed.positionals;
    if (values.help) {
      io.stdout.write(`usage: secret-broker ${cmd.usage}\n${cmd.summary}\n`);
      return EXIT.ok;
    }
    const [min, max] = cmd.positionals ?? [0, 0];
    if (positionals.length < min || positionals.length > max) throw new UsageError(`usage: secret-broker ${cmd.usage}`);
  } catch (err) {
    io.stderr.write(`secret-broker: ${oneLine(err)}\n`);
    return EXIT.usage;
  }
  try {
    return await cmd.run(values, positionals, io);
  } catch (err) {
    const json = values.json === true;
    const code = err instanceof UsageError ? EXIT.usage : err instanceof DeniedError ? EXIT.denied : EXIT.failure;
    if (json) {
      io.stdout.write(JSON.stringify({ ok: false, error: oneLine(err), ...(err instanceof ConfigError ? { problems: err.problems } : {}), ...(err instanceof DeniedError && err.detail ? { detail: err.detail } : {}) }) + '\n');
    }
    io.stderr.write(`secret-broker: ${oneLine(err)}\n`);
    // A denial's explanation (from the trailer) is shown to a person too, not only in --json.
    const explained = !json && err instanceof DeniedError ? explanationFromTrailer(err.detail) : null;
    if (explained) io.stderr.write(`${formatExplanation(explained)}\n`);
    return code;
  }
}
