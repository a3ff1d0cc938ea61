import { readFile } from 'node:fs/promises';
import { EXIT, UsageError, emit, type CliIo } from '../cli/cli-io';
import { JSON_FLAG, str, type Command, type Values } from '../cli/command';
import { checkKeyFilePermissions } from '../identity/key-files';
import { systemClock, type Clock } from '../lib/clock';
import { BrokerError } from '../lib/errors';
import { createLogger, type Logger } from '../lib/logger';
import { SecretValue } from '../lib/secret-value';
import { ensureCosignerKey } from './cosigner-key';
import { Witness } from './witness';
import { loadWitnessConfig, type WitnessConfig } from './witness-config';
import { startWitnessServer } from './witness-server';

/** What the witness command takes from outside; tests pass their own. */
export interface WitnessCommandDeps {
  clock?: Clock;
  /** Resolves when the witness should stop; default: SIGINT or SIGTERM. */
  waitForStop?: () => Promise<void>;
  /** Told once the server listens. */
  onStarted?: (info: { url: string; verifierKey: string }) => void;
  /** Default: JSON logs on the command's stderr. */
  logger?: Logger;
}

function configOf(values: Values, cmd: string): WitnessConfig {
  const file = str(values, 'config');
  if (!file) throw new UsageError(`${cmd} needs --config FILE`);
  return loadWitnessConfig(file);
}

function keyOptions(config: WitnessConfig, io: CliIo) {
  return { allowInsecurePermissions: config.devMode, warn: (m: string) => io.stderr.write(`warning: ${m}\n`) };
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function readTls(config: WitnessConfig): Promise<{ cert: Buffer; key: SecretValue } | undefined> {
  if (!config.tls) return undefined;
  if (!config.devMode) {
    const problems = checkKeyFilePermissions([config.tls.key]);
    if (problems.length > 0) throw new BrokerError('failed_precondition', `witness TLS key ${problems[0]}`);
  }
  try {
    const cert = await readFile(config.tls.cert);
    const raw = await readFile(config.tls.key);
    const key = SecretValue.fromBytes(raw);
    raw.fill(0);
    return { cert, key };
  } catch (err) {
    throw new BrokerError('failed_precondition', `witness TLS files cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}

/** `witness --config W`: runs a c2sp.org/tlog-witness witness until SIGINT or SIGTERM. */
export function makeWitnessCommand(deps: WitnessCommandDeps = {}): Command {
  return {
    path: ['witness'],
    summary: 'run a transparency-log witness (c2sp.org/tlog-witness) that cosigns consistent checkpoints',
    usage: 'witness --config W [--json]',
    options: { config: { type: 'string' }, ...JSON_FLAG },
    async run(values, _pos, io) {
      const config = configOf(values, 'witness');
      const clock = deps.clock ?? systemClock;
      const log = deps.logger ?? createLogger({ destination: io.stderr });
      if (config.devMode) io.stderr.write('warning: witness dev_mode is on: insecure key file modes and plain HTTP off loopback are accepted\n');
      const key = await ensureCosignerKey(config.keyPath, config.name, keyOptions(config, io));
      if (key.created) io.stderr.write(`created witness key ${config.keyPath} (0600); back it up: its verifier key is what logs and auditors trust\n`);
      let witness: Witness;
      try {
        witness = await Witness.open({ statePath: config.statePath, signerKey: key.signerKey, logs: config.logs, clock, log });
      } finally {
        key.signerKey.wipe();
      }
      try {
        const tls = await readTls(config);
        const server = await startWitnessServer({ witness, host: config.listen.host, port: config.listen.port, ...(tls ? { tls } : {}), log });
        tls?.key.wipe();
        io.stderr.write(
          `secret-broker witness ${witness.name} listening on ${server.url} (${tls ? 'HTTPS' : 'plain HTTP'}) for ${config.logs.length} log key(s)\n` +
            `witness verifier key: ${witness.verifierKey}\n`,
        );
        if (values.json === true) io.stdout.write(`${JSON.stringify({ name: witness.name, url: server.url, verifier_key: witness.verifierKey })}\n`);
        deps.onStarted?.({ url: server.url, verifierKey: witness.verifierKey });
        await (deps.waitForStop ?? waitForSignal)();
        io.stderr.write('secret-broker witness shutting down\n');
        await server.close();
      } finally {
        await witness.close();
      }
      return EXIT.ok;
    },
  };
}

export const witnessCommand: Command = makeWitnessCommand();

/** `witness key --config W`: prints the witness verifier key (creates the key if missing). */
export const witnessKeyCommand: Command = Object.freeze<Command>({
  path: ['witness', 'key'],
  summary: "print the witness's cosigner verifier key (creates the key file if missing)",
  usage: 'witness key --config W [--json]',
  options: { config: { type: 'string' }, ...JSON_FLAG },
  async run(values, _pos, io) {
    const config = configOf(values, 'witness key');
    const key = await ensureCosignerKey(config.keyPath, config.name, keyOptions(config, io));
    key.signerKey.wipe();
    if (key.created) io.stderr.write(`created witness key ${config.keyPath} (0600)\n`);
    emit(io, values.json === true, { name: key.name, verifier_key: key.verifierKey, key_file: config.keyPath, created: key.created }, key.verifierKey);
    return EXIT.ok;
  },
});
