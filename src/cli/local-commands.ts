import { buildApp, loadPolicies } from '../app';
import { loadConfig } from '../config/load';
import { initPki } from '../identity/pki';
import { EXIT, UsageError, emit } from './cli-io';
import { JSON_FLAG, list, str, type Command } from './command';
import { reloadOnSighup } from './policy-commands';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const serveCommand: Command = Object.freeze<Command>({
  path: ['serve'],
  summary: 'run the broker daemon',
  usage: 'serve --config FILE',
  options: { config: { type: 'string' }, ...JSON_FLAG },
  async run(values, _pos, io) {
    const file = str(values, 'config');
    if (!file) throw new UsageError('serve needs --config FILE');
    const config = loadConfig(file);
    const app = await buildApp({ config });
    io.stderr.write(`secret-broker serving on ${config.listen.host}:${app.port} (mTLS)` + (app.healthPort ? `, health on ${config.healthListen?.host}:${app.healthPort} (plaintext)` : '') + '\n');
    const stopHup = reloadOnSighup(app, io);
    await new Promise<void>((resolve) => {
      const stop = (): void => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    io.stderr.write('secret-broker shutting down\n');
    stopHup();
    await app.close();
    return EXIT.ok;
  },
});

export const configCheckCommand: Command = Object.freeze<Command>({
  path: ['config', 'check'],
  summary: 'validate a config file and report every problem',
  usage: 'config check --config FILE [--json]',
  options: { config: { type: 'string' }, ...JSON_FLAG },
  async run(values, _pos, io) {
    const file = str(values, 'config');
    if (!file) throw new UsageError('config check needs --config FILE');
    const config = loadConfig(file);
    const policy = await loadPolicies(config);
    const summary = {
      ok: true,
      file: config.file,
      policies: policy.policySet.policies.length,
      policy_version: policy.version,
      agents: Object.keys(config.agents).length,
      operators: Object.keys(config.operators).length,
      actions: Object.keys(config.actions).length,
      backends: Object.keys(config.backends).length,
      secrets: Object.keys(config.secrets).length,
    };
    emit(io, values.json === true, summary, `${file}: ok (${summary.agents} agents, ${summary.operators} operators, ${summary.actions} actions, ${summary.backends} backends, ${summary.secrets} secrets, ${summary.policies} policies, version ${summary.policy_version.slice(0, 12)})`);
    return EXIT.ok;
  },
});

export const pkiInitCommand: Command = Object.freeze<Command>({
  path: ['pki', 'init'],
  summary: 'create a dev/test PKI: CA, server, agent and operator certificates',
  usage: 'pki init --dir DIR [--agent NAME]... [--operator NAME]... [--trust-domain DOMAIN] [--json]',
  options: {
    dir: { type: 'string' },
    agent: { type: 'string', multiple: true },
    operator: { type: 'string', multiple: true },
    'trust-domain': { type: 'string' },
    ...JSON_FLAG,
  },
  async run(values, _pos, io) {
    const dir = str(values, 'dir');
    if (!dir) throw new UsageError('pki init needs --dir DIR');
    const agents = list(values, 'agent');
    const operators = list(values, 'operator');
    for (const n of [...agents, ...operators]) if (!NAME.test(n)) throw new UsageError(`--agent/--operator: ${JSON.stringify(n)} must be letters, digits, ".", "_" or "-"`);
    const trustDomain = str(values, 'trust-domain') ?? 'example.org';
    if (!/^[a-z0-9.-]+$/.test(trustDomain)) throw new UsageError('--trust-domain: expected a DNS name such as example.org');
    const layout = await initPki({ dir, trustDomain, agents, operators });
    emit(io, values.json === true, layout, () =>
      [
        `CA certificate:   ${layout.caCert}`,
        `CA key (offline): ${layout.caKey}`,
        `server:           ${layout.serverCert}, ${layout.serverKey}`,
        ...Object.entries(layout.agents).map(([n, a]) => `agent ${n}: ${a.id}\n  ${a.cert}\n  ${a.key}`),
        ...Object.entries(layout.operators).map(([n, a]) => `operator ${n}: ${a.id}\n  ${a.cert}\n  ${a.key}`),
      ].join('\n'),
    );
    return EXIT.ok;
  },
});
