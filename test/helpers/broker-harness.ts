import type { RotationHooks } from '../../src/rotation/rotation-service';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp, type App } from '../../src/app';
import { connect, type BrokerClients } from '../../src/client/grpc-client';
import { compileConfig } from '../../src/config/compile';
import type { BrokerConfig } from '../../src/config/config-types';
import { createCa, initPki, issueCert, loadCa, type CertificateAuthority, type PkiLayout } from '../../src/identity/pki';
import type { Clock } from '../../src/lib/clock';
import { createLogger } from '../../src/lib/logger';
import type { ConnectionTimeouts, Handlers } from '../../src/transport/grpc/server';
import type { Resolver } from '../../src/brokered-http';
import type { Store } from '../../src/store/store';
import type { InvokeHooks } from '../../src/broker/invoke-service';
import type { Approvals } from '../../src/broker/approval-gate';
import type { RemoteBackendFactories } from '../../src/backends/registry';
import type { DynamicCredentialSource } from '../../src/broker/dynamic-credentials';

export const REPO = path.resolve(__dirname, '../..');

/** A PKI made once per test file: agents a1, a2 and operators with various roles, plus a foreign CA. */
export interface TestPki {
  dir: string;
  layout: PkiLayout;
  ca: CertificateAuthority;
  foreignCa: CertificateAuthority;
}

export async function makeTestPki(dir: string, agents = ['support-bot', 'analyst-bot', 'unlisted-bot'], operators = ['alice', 'bob', 'carol']): Promise<TestPki> {
  const layout = await initPki({ dir, trustDomain: 'example.org', agents, operators });
  // initPki does not hand back the CA object; tests need to issue odd certificates, so make a second
  // CA we control and a foreign one. The in-config CA is the one from initPki.
  const ca = await loadCa(readFileSync(layout.caCert, 'utf8'), readFileSync(layout.caKey, 'utf8'));
  return { dir, layout, ca, foreignCa: await createCa('foreign CA') };
}

/** The environment the CLI reads its client identity from: the daemon at `addr`, as the named agent or operator of `pki`. */
export function cliEnv(addr: string, pki: TestPki, kind: 'agents' | 'operators', name: string): Record<string, string> {
  const id = pki.layout[kind][name];
  if (!id) throw new Error(`the test PKI has no ${kind}/${name}`);
  return { SECRET_BROKER_ADDR: addr, SECRET_BROKER_CA: pki.layout.caCert, SECRET_BROKER_CERT: id.cert, SECRET_BROKER_KEY: id.key };
}

export async function writeClientCert(
  pki: TestPki,
  name: string,
  opts: { uris: string[]; foreign?: boolean; notBefore?: Date; notAfter?: Date },
): Promise<{ cert: string; key: string }> {
  const pair = await issueCert(opts.foreign ? pki.foreignCa : pki.ca, {
    commonName: name,
    uris: opts.uris,
    usage: 'client',
    ...(opts.notBefore ? { notBefore: opts.notBefore } : {}),
    ...(opts.notAfter ? { notAfter: opts.notAfter } : {}),
  });
  const cert = path.join(pki.dir, `${name}.pem`);
  const key = path.join(pki.dir, `${name}.key`);
  writeFileSync(cert, pair.certPem);
  writeFileSync(key, pair.keyPem, { mode: 0o600 });
  return { cert, key };
}

/** A raw config object (the YAML shape) for tests; override any part. */
export function baseRawConfig(pki: TestPki, dir: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const policies = path.join(dir, 'policies');
  mkdirSync(policies, { recursive: true });
  const examples = path.join(REPO, 'deploy/dev/policies');
  if (existsSync(examples)) cpSync(examples, policies, { recursive: true });
  return {
    listen: '127.0.0.1:0',
    tls: { ca: pki.layout.caCert, cert: pki.layout.serverCert, key: pki.layout.serverKey },
    state: { sqlite: path.join(dir, 'broker.db') },
    evidence: { origin: 'test.example/secret-broker', signing_key: path.join(dir, 'evidence.key') },
    // invokes_in_flight above the default 16: the race tests hold 50 Invokes of one agent at once.
    limits: { requests_per_second: 1000, burst: 1000, active_leases: 100, max_body_bytes: 65536, invokes_in_flight: 64 },
    backends: { local: { kind: 'local', path: path.join(dir, 'secrets.sealed'), key_file: path.join(dir, 'master.key') } },
    secrets: { 'helpdesk-token': { backend: 'local', name: 'helpdesk-token' } },
    actions: {
      'tickets.update': {
        http: {
          base_url: 'https://localhost:1/api',
          methods: ['PUT', 'GET'],
          paths: ['/tickets/{id}'],
          auth: { bearer: 'helpdesk-token' },
          allow_networks: ['127.0.0.0/8'],
          context: { ticket: 'path.id' },
        },
        resource: 'ticket/{ticket}',
      },
    },
    agents: {
      'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'] },
      'analyst-bot': { id: 'spiffe://example.org/agent/analyst-bot', groups: ['analysts'] },
    },
    operators: {
      alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin', 'auditor', 'rotator'] },
      bob: { id: 'spiffe://example.org/human/bob', roles: ['approver'] },
      carol: { id: 'spiffe://example.org/human/carol', roles: ['auditor'] },
    },
    approvals: { finance: { approvers: ['alice', 'bob'], required: 1, expires: '15m' } },
    // The broker's own trust signals are off here: tests that provoke refusals and denials on
    // purpose would otherwise lower their agent's trust as they go. Trust tests turn them on.
    trust: { signals: { 'broker.denial_burst': { weight: 0 }, 'broker.outside_template': { weight: 0 }, 'broker.secret_echo': { weight: 0 }, 'broker.credential_misuse': { weight: 0 } } },
    policies,
    ...over,
  };
}

/** Collects log lines in memory so tests can grep them for secrets. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(chunk.toString('utf8'));
    cb();
  }
  get text(): string {
    return this.lines.join('');
  }
}

export interface RunningBroker {
  app: App;
  config: BrokerConfig;
  logs: LogCapture;
  addr: string;
  clientFor(kind: 'agents' | 'operators', name: string): BrokerClients;
  clientWith(cert: string, key: string): BrokerClients;
  close(): Promise<void>;
}

export async function startBroker(opts: {
  pki: TestPki;
  dir: string;
  raw?: Record<string, unknown>;
  clock?: Clock;
  handlerOverrides?: Handlers;
  resolver?: Resolver;
  store?: Store;
  hooks?: InvokeHooks;
  /** How often the lease reaper runs (default 1 s). */
  reaperIntervalMs?: number;
  /** Connection timeouts (defaults: CONNECTION_TIMEOUTS in src/transport/grpc/server.ts); tests shorten them. */
  connectionTimeouts?: Partial<ConnectionTimeouts>;
  /** Dynamic credential backends (test/helpers/fault-credential-backend.ts). */
  dynamicCredentials?: DynamicCredentialSource;
  /** How remote backends are opened (default: the real clients). */
  backendFactories?: RemoteBackendFactories;
  /** The orphan credential sweeper's period and grace (defaults 5 min and 2 min). */
  sweeper?: { intervalMs?: number; graceMs?: number };
  /** The credential revoker's backoff and probe period (defaults 1 s to 5 min, and 2 s). */
  revoker?: { minDelayMs?: number; maxDelayMs?: number; probeMs?: number };
  /** The first wait before an unreachable postgres backend's grants are checked again (default 30 s). */
  grantCheckRetryMs?: number;
  /** Approvals for the decision step (the gate and the consume statement). */
  approvals?: Approvals;
  /** Pauses a rotation between its read and its fenced write. */
  rotationHooks?: RotationHooks;
}): Promise<RunningBroker> {
  const raw = opts.raw ?? baseRawConfig(opts.pki, opts.dir);
  const config = compileConfig(raw, path.join(opts.dir, 'config.yaml'));
  const logs = new LogCapture();
  const app = await buildApp({
    config,
    log: createLogger({ level: 'debug', destination: logs }),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.handlerOverrides ? { handlerOverrides: opts.handlerOverrides } : {}),
    ...(opts.resolver ? { resolver: opts.resolver } : {}),
    ...(opts.store ? { store: opts.store } : {}),
    ...(opts.hooks ? { hooks: opts.hooks } : {}),
    ...(opts.reaperIntervalMs !== undefined ? { reaperIntervalMs: opts.reaperIntervalMs } : {}),
    ...(opts.connectionTimeouts ? { connectionTimeouts: opts.connectionTimeouts } : {}),
    ...(opts.dynamicCredentials ? { dynamicCredentials: opts.dynamicCredentials } : {}),
    ...(opts.backendFactories ? { backendFactories: opts.backendFactories } : {}),
    ...(opts.sweeper ? { sweeper: opts.sweeper } : {}),
    ...(opts.revoker ? { revoker: opts.revoker } : {}),
    ...(opts.grantCheckRetryMs !== undefined ? { grantCheckRetryMs: opts.grantCheckRetryMs } : {}),
    ...(opts.approvals ? { approvals: opts.approvals } : {}),
    ...(opts.rotationHooks ? { rotationHooks: opts.rotationHooks } : {}),
  });
  const addr = `127.0.0.1:${app.port}`;
  const caPem = readFileSync(opts.pki.layout.caCert);
  const clients: BrokerClients[] = [];
  const clientWith = (cert: string, key: string): BrokerClients => {
    const c = connect({ addr, caPem, certPem: readFileSync(cert), keyPem: readFileSync(key) });
    clients.push(c);
    return c;
  };
  return {
    app,
    config,
    logs,
    addr,
    clientWith,
    clientFor: (kind, name) => {
      const e = opts.pki.layout[kind][name];
      if (!e) throw new Error(`no ${kind} cert for ${name}`);
      return clientWith(e.cert, e.key);
    },
    close: async () => {
      for (const c of clients) c.close();
      await app.close();
    },
  };
}

export function tempDir(prefix = 'sb-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
