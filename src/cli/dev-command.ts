import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { buildApp } from '../app';
import { ensureMasterKey, openLocalBackend } from '../backends/local';
import type { BrokerConfig } from '../config/config-types';
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
const DEMO_UPSTREAM_PORT = 8443;

/**
 * The port the demo upstream serves on: the one the dev config's brokered
 * actions call on 127.0.0.1 (8443 in deploy/dev), so a copy of the config with
 * another port works as is. Several such ports are a config this command
 * cannot serve.
 */
export function demoUpstreamPort(config: Pick<BrokerConfig, 'actions'>): number {
  const ports = new Set<number>();
  for (const a of Object.values(config.actions)) {
    if (!a.http) continue;
    const u = new URL(a.http.baseUrl);
    if (u.hostname === '127.0.0.1') ports.add(u.port ? Number(u.port) : 443);
  }
  if (ports.size > 1) throw new Error(`the dev config's actions call 127.0.0.1 on several ports (${[...ports].join(', ')}); the demo upstream serves one`);
  return ports.values().next().value ?? DEMO_UPSTREAM_PORT;
}
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
    // Before anything is written or started: a config this command cannot serve fails here.
    const port = demoUpstreamPort(config);

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
    // The daemon first: it takes the state's lock, so a second `dev` on the same state stops here
    // with that message, before it could fail on the demo upstream's port.
    let app: Awaited<ReturnType<typeof buildApp>>;
    try {
      app = await buildApp({ config });
    } catch (err) {
      for (const t of Object.values(tokens)) t.wipe();
      throw err;
    }
    let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
    try {
      upstream = await startDemoUpstream({ dir: path.join(varDir, 'demo-upstream'), port, tokens });
    } catch (err) {
      await app.close();
      for (const t of Object.values(tokens)) t.wipe();
      if ((err as { code?: string }).code === 'EADDRINUSE') {
        throw new Error(`the demo upstream cannot listen on 127.0.0.1:${port}: the port is in use (another \`secret-broker dev\` with another config, or another program); free it or change the port in the actions' base_url in ${file}`, { cause: err });
      }
      throw err;
    }
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
