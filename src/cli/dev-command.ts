import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { buildApp } from '../app';
import { loadConfig } from '../config/load';
import { initPki } from '../identity/pki';
import { EXIT } from './cli-io';
import { str, type Command } from './command';

/** Where the repo keeps the dev config (works from src/ under tsx and from dist/src/). */
export function devConfigPath(): string {
  for (const p of [path.resolve(__dirname, '../../deploy/dev/config.yaml'), path.resolve(__dirname, '../../../deploy/dev/config.yaml')]) {
    if (existsSync(p)) return p;
  }
  return path.resolve('deploy/dev/config.yaml');
}

export const devCommand: Command = {
  path: ['dev'],
  summary: 'quick start: generate a dev PKI under var/dev if missing, then serve deploy/dev/config.yaml',
  usage: 'dev [--config FILE]',
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  async run(values, _pos, io) {
    const file = str(values, 'config') ?? devConfigPath();
    const pkiDir = path.resolve(path.dirname(file), '../../var/dev/pki');
    if (!existsSync(path.join(pkiDir, 'ca.pem'))) {
      await initPki({ dir: pkiDir, trustDomain: 'example.org', agents: ['support-bot', 'analyst-bot'], operators: ['alice', 'bob'] });
      io.stderr.write(`created a dev PKI in ${pkiDir}\n`);
    }
    const config = loadConfig(file);
    const app = await buildApp({ config });
    const pki = path.relative(process.cwd(), pkiDir);
    io.stderr.write(
      [
        `secret-broker (DEV MODE) serving on ${config.listen.host}:${app.port} (mTLS); health on ${config.healthListen?.host}:${app.healthPort} (plaintext)`,
        `agent credentials:    --ca ${pki}/ca.pem --cert ${pki}/agents/support-bot.pem --key ${pki}/agents/support-bot.key`,
        `operator credentials: --ca ${pki}/ca.pem --cert ${pki}/operators/alice.pem --key ${pki}/operators/alice.key`,
        'press Ctrl-C to stop',
      ].join('\n') + '\n',
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await app.close();
    return EXIT.ok;
  },
};
