import { ensureMasterKey, openLocalBackend, readSecretFromStream, assertSecretName, DEFAULT_MAX_VALUE_BYTES } from '../backends/local';
import type { BackendConfig, BrokerConfig } from '../config/config-types';
import { loadConfig } from '../config/load';
import { systemClock } from '../lib/clock';
import { EXIT, UsageError, emit } from './cli-io';
import { JSON_FLAG, str, type Command } from './command';

function localBackend(config: BrokerConfig, name: string | undefined): Extract<BackendConfig, { kind: 'local' }> {
  const locals = Object.values(config.backends).filter((b): b is Extract<BackendConfig, { kind: 'local' }> => b.kind === 'local');
  const b = name ? locals.find((l) => l.name === name) : locals[0];
  if (!b) throw new UsageError(name ? `--backend: "${name}" is not a local backend in ${config.file}` : `no local backend is configured in ${config.file}`);
  return b;
}

export const secretsPutCommand: Command = Object.freeze<Command>({
  path: ['secrets', 'put'],
  summary: 'add a version of a secret to the local sealed store; the value is read from stdin, never argv',
  usage: 'secrets put NAME --config FILE [--backend NAME] [--json]  < value',
  options: { config: { type: 'string' }, backend: { type: 'string' }, ...JSON_FLAG },
  positionals: [1, 1],
  async run(values, [name], io) {
    const file = str(values, 'config');
    if (!file) throw new UsageError('secrets put needs --config FILE');
    assertSecretName(name!);
    const config = loadConfig(file);
    const b = localBackend(config, str(values, 'backend'));
    if ((io.stdin as { isTTY?: boolean }).isTTY) io.stderr.write('reading the secret from stdin; end with Ctrl-D\n');
    const { created } = await ensureMasterKey(b.keyFile, { sealedFile: b.path, allowInsecurePermissions: config.devMode });
    if (created) io.stderr.write(`created master key ${b.keyFile} (0600); back it up: without it the sealed store cannot be opened\n`);
    const value = await readSecretFromStream(io.stdin, DEFAULT_MAX_VALUE_BYTES);
    const backend = await openLocalBackend({ name: b.name, path: b.path, keyFile: b.keyFile, clock: systemClock, allowInsecurePermissions: config.devMode });
    try {
      const { version } = await backend.put(name!, value);
      emit(io, values.json === true, { name, version, backend: b.name }, `stored ${name} version ${version} in ${b.name}`);
      return EXIT.ok;
    } finally {
      value.wipe();
      await backend.close();
    }
  },
});

export const secretsListCommand: Command = Object.freeze<Command>({
  path: ['secrets', 'list'],
  summary: 'list secret names and their integer versions (never values)',
  usage: 'secrets list --config FILE [--backend NAME] [--json]',
  options: { config: { type: 'string' }, backend: { type: 'string' }, ...JSON_FLAG },
  async run(values, _pos, io) {
    const file = str(values, 'config');
    if (!file) throw new UsageError('secrets list needs --config FILE');
    const config = loadConfig(file);
    const b = localBackend(config, str(values, 'backend'));
    const backend = await openLocalBackend({ name: b.name, path: b.path, keyFile: b.keyFile, clock: systemClock, allowInsecurePermissions: config.devMode });
    try {
      const items = (await backend.list()).map((s) => ({ name: s.name, version: s.version }));
      emit(io, values.json === true, items, () => (items.length ? items.map((s) => `${s.name}\tv${s.version}`).join('\n') : '(no secrets)'));
      return EXIT.ok;
    } finally {
      await backend.close();
    }
  },
});
