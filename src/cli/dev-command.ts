import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { buildApp } from '../app';
import { ensureMasterKey, openLocalBackend } from '../backends/local';
import { loadConfig } from '../config/load';
import { ensureDemoUpstreamCerts, startDemoUpstream } from '../demo/demo-upstream';
import { addMissingClients, initPki } from '../identity/pki';
import { systemClock } from '../lib/clock';
import { SecretValue } from '../lib/secret-value';
import { EXIT } from './cli-io';
import { str, type Command } from './command';
import { reloadOnSighup } from './policy-commands';

/** Where the repo keeps the dev config (works from src/ under tsx and from dist/src/). */
export function devConfigPath(): string {
  for (const p of [path.resolve(__dirname, '../../deploy/dev/config.yaml'), path.resolve(__dirname, '../../../deploy/dev/config.yaml')]) {
    if (existsSync(p)) return p;
  }
  return path.resolve('deploy/dev/config.yaml');
}

const DEMO_SECRETS = Object.freeze(['helpdesk-token', 'stripe-key']);
/** Who the dev config names: carol is the third operator, so break-glass has its second pair of eyes. */
const DEV_AGENTS = Object.freeze(['support-bot', 'analyst-bot']);
const DEV_OPERATORS = Object.freeze(['alice', 'bob', 'carol']);

export const devCommand: Command = Object.freeze<Command>({
  path: ['dev'],
  summary: 'quick start: dev PKI, demo secrets and a demo HTTPS upstream under var/dev, then serve deploy/dev/config.yaml',
  usage: 'dev [--config FILE]',
  options: { config: { type: 'string' }, json: { type: 'boolean' } },
  async run(values, _pos, io) {
    const file = str(values, 'config') ?? devConfigPath();
    const varDir = path.resolve(path.dirname(file), '../../var/dev');
    const pkiDir = path.join(varDir, 'pki');
    if (!existsSync(path.join(pkiDir, 'ca.pem'))) {
      await initPki({ dir: pkiDir, trustDomain: 'example.org', agents: DEV_AGENTS, operators: DEV_OPERATORS });
      io.stderr.write(`created a dev PKI in ${pkiDir}\n`);
    } else {
      // A dev home from before a name was added (carol) gets its certificate now.
      const added = await addMissingClients({ dir: pkiDir, trustDomain: 'example.org', agents: DEV_AGENTS, operators: DEV_OPERATORS });
      if (added.length) io.stderr.write(`added dev certificates: ${added.join(', ')}\n`);
    }
    await ensureDemoUpstreamCerts(path.join(varDir, 'demo-upstream'));
    const config = loadConfig(file);

    // Demo secrets: random tokens sealed in the local store; the demo upstream accepts exactly these.
    const local = config.backends['local'];
    if (local?.kind !== 'local') throw new Error('the dev config needs a local backend named "local"');
    await ensureMasterKey(local.keyFile, { sealedFile: local.path, allowInsecurePermissions: true });
    const store = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.keyFile, clock: systemClock, allowInsecurePermissions: true });
    const tokens: Record<string, SecretValue> = {};
    try {
      const have = new Set((await store.list()).map((s) => s.name));
      for (const name of DEMO_SECRETS) {
        if (!have.has(name)) await store.put(name, SecretValue.fromString(`demo_${name.replace(/-/g, '_')}_${randomBytes(18).toString('base64url')}`));
        tokens[name] = (await store.get(name)).value;
      }
    } finally {
      await store.close();
    }
    const upstream = await startDemoUpstream({ dir: path.join(varDir, 'demo-upstream'), port: 8443, tokens });
    const app = await buildApp({ config });
    const pki = path.relative(process.cwd(), pkiDir) || pkiDir;
    io.stderr.write(
      [
        `secret-broker (DEV MODE) serving on ${config.listen.host}:${app.port} (mTLS); health on ${config.healthListen?.host}:${app.healthPort} (plaintext)`,
        `demo upstream (the "helpdesk" and "stripe" APIs) on https://127.0.0.1:${upstream.port}; it demands the tokens sealed in ${path.relative(process.cwd(), local.path)}`,
        '',
        'try, as the agent support-bot (see README "Quick start"):',
        `  export SECRET_BROKER_ADDR=127.0.0.1:${app.port} SECRET_BROKER_CA=${pki}/ca.pem SECRET_BROKER_CERT=${pki}/agents/support-bot.pem SECRET_BROKER_KEY=${pki}/agents/support-bot.key`,
        '  node dist/src/main.js lease request tickets.update ticket/T-1 --param ticket=T-1',
        '  node dist/src/main.js invoke --lease <lease id> --method PUT --path /tickets/T-1 --body \'{"status":"closed"}\'',
        '',
        'press Ctrl-C to stop',
      ].join('\n') + '\n',
    );
    const stopHup = reloadOnSighup(app, io);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    stopHup();
    await app.close();
    await upstream.close();
    for (const t of Object.values(tokens)) t.wipe();
    return EXIT.ok;
  },
});
