import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client as PgClient } from 'pg';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { sharedPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { readEntries } from '../helpers/evidence-entries';
import { expectCode } from '../helpers/grpc-expect';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import { setEnv, startMotoServer, useFakeAwsCredentials, type MotoServer } from '../helpers/moto-server';
import { startVaultServer, type VaultServer } from '../vault-server/vault-server';
import { until as pollUntil } from '../helpers/until';

const HELPDESK = 'hd_live_local_7Yq2Vb9Kx4Lm1Nz8';
const CRM = 'crm_live_vault_3Hs8Pd2Wq6Tx9Bk4';
const STRIPE = 'sk_live_aws_5Rf1Gn7Jm3Vc8Zq2';

type Entry = Record<string, unknown> & { type: string; secret?: Record<string, unknown>; lease?: { id?: string } };

/** Polls `fn` until it returns true (or fails after `ms`). */
const until = (what: string, fn: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> => pollUntil(what, fn, ms, 100);

/** Whether PostgreSQL takes this login (a real password check: the cluster trusts nothing on TCP). */
async function canLogin(pg: EphemeralPostgres, user: string, password: string): Promise<boolean> {
  const c = new PgClient({ host: pg.host, port: pg.port, database: pg.database, user, password, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    const r = await c.query<{ u: string }>('SELECT current_user AS u');
    return r.rows[0]?.u === user;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A TCP listener that must receive nothing: it counts connections. */
async function decoy(): Promise<{ url: string; hostPort: string; connections: () => number; close(): Promise<void> }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    n++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    connections: () => n,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('Vault and AWS backends in the daemon (in-repo Vault API server, real moto_server, real PostgreSQL, real mTLS)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pg: EphemeralPostgres;
  let vault: VaultServer;
  let moto: MotoServer;
  let restoreAwsEnv: () => void;
  let helpdesk: HttpsUpstream;
  let crm: HttpsUpstream;
  let stripe: HttpsUpstream;
  let raw: Record<string, unknown>;
  let broker: RunningBroker | undefined;

  const sm = (): SecretsManagerClient => new SecretsManagerClient({ region: 'eu-west-1', endpoint: moto.endpoint });
  async function seedAws(): Promise<void> {
    const client = sm();
    try {
      await client.send(new CreateSecretCommand({ Name: 'prod/stripe', SecretString: JSON.stringify({ api_key: STRIPE, note: 'x' }) }));
    } finally {
      client.destroy();
    }
  }

  before(async () => {
    tmp = tempDir('sb-remote-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    pg = await sharedPostgres();
    vault = await startVaultServer({ postgres: pg });
    vault.putKv('secret', 'app/crm', { token: CRM, owner: 'sales' });
    vault.putKv('secret', 'other/crm', { token: 'not-for-the-broker' });
    vault.createDatabaseRole('readonly', { defaultTtl: '1h', maxTtl: '24h' });
    const { token } = vault.createToken({
      paths: { 'secret/data/app/*': ['read'], 'database/creds/readonly': ['read'], 'sys/leases/renew': ['update'], 'sys/leases/revoke': ['update'] },
      ttl: '1h',
      renewable: true,
    });
    const tokenFile = path.join(tmp.dir, 'vault-token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const vaultCa = path.join(tmp.dir, 'vault-ca.pem');
    writeFileSync(vaultCa, vault.caPem!);
    restoreAwsEnv = useFakeAwsCredentials();
    moto = await startMotoServer();
    await seedAws();
    helpdesk = await startHttpsUpstream({ secret: HELPDESK, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
    crm = await startHttpsUpstream({ secret: CRM, auth: { kind: 'bearer' }, dnsNames: ['crm.test'] });
    stripe = await startHttpsUpstream({ secret: STRIPE, auth: { kind: 'bearer' }, dnsNames: ['stripe.test'] });
    const caFile = writeCaBundle(tmp.dir, [helpdesk, crm, stripe]);
    raw = baseRawConfig(pki, tmp.dir);
    const fast = { cache_ttl: '0s', timeout: '2s', breaker: { failures: 2, open_for: '300ms' } };
    raw['backends'] = {
      ...(raw['backends'] as object),
      vault: { kind: 'vault', address: vault.url, ca_file: vaultCa, token_file: tokenFile, ...fast },
      // The same Vault with the read cache on.
      'vault-cached': { kind: 'vault', address: vault.url, ca_file: vaultCa, token_file: tokenFile, cache_ttl: '30s' },
      aws: { kind: 'aws-secrets-manager', region: 'eu-west-1', endpoint: moto.endpoint, ...fast },
    };
    raw['secrets'] = {
      'helpdesk-token': { backend: 'local', name: 'helpdesk-token' },
      'crm-token': { backend: 'vault', name: 'app/crm', field: 'token' },
      'crm-token-cached': { backend: 'vault-cached', name: 'app/crm', field: 'token' },
      'stripe-key': { backend: 'aws', id: 'prod/stripe', field: 'api_key' },
      // Not in Vault (404), outside the broker token's policy (403), not in AWS.
      'crm-missing': { backend: 'vault', name: 'app/nope', field: 'token' },
      'crm-forbidden': { backend: 'vault', name: 'other/crm', field: 'token' },
      'stripe-missing': { backend: 'aws', id: 'prod/nope', field: 'api_key' },
    };
    const http = (host: string, port: number, secret: string) => ({
      base_url: `https://${host}:${port}`,
      ca_files: [caFile],
      methods: ['GET'],
      paths: ['/echo', '/records/{id}'],
      auth: { bearer: secret },
      allow_networks: ['127.0.0.0/8'],
    });
    raw['actions'] = {
      'tickets.read': { http: http('helpdesk.test', helpdesk.port, 'helpdesk-token') },
      'crm.read': { http: http('crm.test', crm.port, 'crm-token') },
      'crm.cached': { http: http('crm.test', crm.port, 'crm-token-cached') },
      'billing.read': { http: http('stripe.test', stripe.port, 'stripe-key') },
      'crm.missing': { http: http('crm.test', crm.port, 'crm-missing') },
      'crm.forbidden': { http: http('crm.test', crm.port, 'crm-forbidden') },
      'billing.missing': { http: http('stripe.test', stripe.port, 'stripe-missing') },
      'reporting.db': { vault_dynamic: { backend: 'vault', role: 'readonly', connection: { host: '127.0.0.1', port: pg.port, database: pg.database } }, default_ttl: '5m' },
    };
    writeFileSync(
      path.join(String(raw['policies']), 'remote.cedar'),
      `@id("remote-support")
permit (principal in Group::"support", action in [Action::"tickets.read", Action::"crm.read", Action::"crm.cached", Action::"billing.read", Action::"reporting.db", Action::"crm.missing", Action::"crm.forbidden", Action::"billing.missing"], resource);
`,
    );
    await seedLocalSecrets(raw, { 'helpdesk-token': HELPDESK });
  });

  beforeEach(async () => {
    broker = await startBroker({
      pki,
      dir: tmp.dir,
      raw,
      reaperIntervalMs: 50,
      resolver: testResolver(new Map([['helpdesk.test', ['127.0.0.1']], ['crm.test', ['127.0.0.1']], ['stripe.test', ['127.0.0.1']]])),
    });
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
    // Whatever a test did to Vault, the next one finds it up (start and unseal are idempotent).
    await vault.start();
    vault.unseal();
  });
  after(async () => {
    await vault?.close();
    await moto?.close();
    restoreAwsEnv?.();
    await Promise.all([helpdesk?.close(), crm?.close(), stripe?.close()]);
    tmp?.cleanup();
  });

  const b = (): RunningBroker => broker!;
  const agent = () => b().clientFor('agents', 'support-bot').agent;
  const invoke = (action: string, p = '/records/R-1') => call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { action, method: 'GET', path: p });
  const entries = () => readEntries<Entry>(b().app.ledger!);
  const health = (backend: string) => b().app.health.status(`secretbroker.backend.${backend}`);
  const requestDb = () => call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'reporting.db', ttlSeconds: 300 });
  const getLease = (id: string) => call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: id });

  it('injects a token read from Vault KV v2 and one from AWS; the upstreams see the right values; echoes of both are scrubbed', async () => {
    for (const [action, upstream, secret] of [['crm.read', crm, CRM], ['billing.read', stripe, STRIPE]] as const) {
      const before = upstream.requests.length;
      const res = await invoke(action);
      assert.equal(res.statusCode, 200, action);
      const seen = upstream.requests.slice(before);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.headers['authorization'], `Bearer ${secret}`, `${action}: the upstream got the backend's value`);
      assert.ok(seen[0]!.authorized);
      const echo = await invoke(action, '/echo');
      const text = Buffer.from(echo.body).toString('utf8') + JSON.stringify(echo.headers ?? {});
      assert.ok(!text.includes(secret), `${action}: the echoed secret is scrubbed`);
      assert.ok(!text.includes(Buffer.from(secret).toString('base64')), `${action}: its base64 form too`);
      assert.match(text, /\[REDACTED\]/);
    }
    assert.ok(!b().logs.text.includes(CRM) && !b().logs.text.includes(STRIPE), 'no value in the log');
  });

  it('evidence of each brokered call names the injected secret, its backend and version (and AWS VersionId), never the value', async () => {
    await invoke('crm.read');
    await invoke('billing.read');
    await invoke('tickets.read');
    const results = (await entries()).filter((e) => e.type === 'invoke.result' && e['outcome'] === 'ok');
    const by = (name: string) => results.filter((e) => e.secret?.['name'] === name).at(-1)?.secret;
    assert.deepEqual(by('crm-token'), { name: 'crm-token', backend: 'vault', version: 1 });
    const aws = by('stripe-key')!;
    assert.equal(aws['backend'], 'aws');
    assert.equal(aws['version'], 1);
    assert.match(String(aws['version_id']), /^[A-Za-z0-9-]{32,64}$/);
    assert.deepEqual(by('helpdesk-token'), { name: 'helpdesk-token', backend: 'local', version: 1 });
    const log = JSON.stringify(await entries());
    for (const v of [CRM, STRIPE, HELPDESK]) assert.ok(!log.includes(v));
    // A new version in Vault is what the next call injects, and evidence says so (cache_ttl 0s here).
    vault.putKv('secret', 'app/crm', { token: CRM, owner: 'sales', rev: '2' });
    await invoke('crm.read');
    const last = (await entries()).filter((e) => e.type === 'invoke.result' && e.secret?.['name'] === 'crm-token').at(-1)!;
    assert.equal(last.secret!['version'], 2);
  });

  it('a secret Vault does not have (404) or will not give the broker (403), or AWS does not have, is FAILED_PRECONDITION "the broker cannot read secret X"; no vendor text, nothing sent', async () => {
    for (const [action, secret, upstream] of [['crm.missing', 'crm-missing', crm], ['crm.forbidden', 'crm-forbidden', crm], ['billing.missing', 'stripe-missing', stripe]] as const) {
      const before = upstream.requests.length;
      const err = await expectCode(invoke(action), grpc.status.FAILED_PRECONDITION, new RegExp(`^the broker cannot read secret ${secret}$`));
      assert.ok(!/permission denied|ResourceNotFound|errors/i.test(err.details), err.details);
      assert.equal(upstream.requests.length, before, 'nothing was sent upstream');
    }
    // The log has the detail for the operator.
    assert.match(b().logs.text, /permission denied/);
    // Answers from a store are not outages: the breakers stay closed.
    assert.equal(health('vault'), 'SERVING');
    assert.equal(health('aws'), 'SERVING');
  });

  it('a vault_dynamic lease hands the agent a PostgreSQL login that works; revoking the lease revokes the Vault lease and the login stops working', async () => {
    const res = await requestDb();
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    const cred = res.lease!.databaseCredential!;
    assert.ok(cred && cred.user && cred.password);
    assert.deepEqual([cred.host, cred.port, cred.database], ['127.0.0.1', pg.port, pg.database]);
    assert.ok(await canLogin(pg, cred.user, cred.password), 'the Vault-issued login works');
    const live = vault.leases().filter((l) => l.username === cred.user);
    assert.equal(live.length, 1, 'one Vault lease backs it');
    // Nothing after RequestLease repeats the password.
    const got = await getLease(res.lease!.leaseId);
    assert.equal(got.databaseCredential, null);
    const renewed = await call<unknown, { lease: Lease__Output }>(agent(), 'RenewLease', { leaseId: res.lease!.leaseId, ttlSeconds: 600 });
    assert.equal(renewed.lease.databaseCredential, null);
    const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: res.lease!.leaseId, reason: 'done' });
    assert.equal(out.lease.status, 'REVOKED');
    assert.equal(vault.leases().filter((l) => l.username === cred.user).length, 0, 'the Vault lease is revoked');
    assert.equal(await canLogin(pg, cred.user, cred.password), false, 'the login stops working');
    const revoked = (await entries()).filter((e) => e.type === 'credential.revoked' && e.lease?.id === res.lease!.leaseId);
    assert.equal(revoked.length, 1);
    assert.ok(!JSON.stringify(await entries()).includes(cred.password), 'the password is in no evidence entry');
    assert.ok(!b().logs.text.includes(cred.password), 'nor in the log');
  });

  it('a Vault that is down at revoke time leaves the lease REVOKE_FAILED until a retry succeeds; then the login stops working', async () => {
    const res = await requestDb();
    assert.equal(res.status, 'GRANTED');
    const cred = res.lease!.databaseCredential!;
    await vault.stop();
    const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: res.lease!.leaseId });
    assert.equal(out.lease.status, 'REVOKE_FAILED');
    assert.ok(await canLogin(pg, cred.user, cred.password), 'the credential is still live upstream: that is what REVOKE_FAILED says');
    await expectCode(invoke('crm.read'), grpc.status.UNAVAILABLE, /^secret backend vault is unavailable$/);
    await vault.start();
    await until('the retry revoked the credential', async () => (await getLease(res.lease!.leaseId)).status === 'REVOKED', 30_000);
    assert.equal(await canLogin(pg, cred.user, cred.password), false);
    assert.equal((await entries()).filter((e) => e.type === 'credential.revoked' && e.lease?.id === res.lease!.leaseId).length, 1);
  });

  it('outage: moto_server stopped → AWS-backed actions UNAVAILABLE (no AWS text), local- and Vault-backed ones keep working; back → service resumes without a restart', async () => {
    assert.equal((await invoke('billing.read')).statusCode, 200);
    await moto.stop();
    for (let i = 0; i < 3; i++) await expectCode(invoke('billing.read'), grpc.status.UNAVAILABLE, /^secret backend aws is unavailable( \(circuit open\))?$|^backend aws is unavailable \(circuit open\)$/);
    assert.equal(health('aws'), 'NOT_SERVING', 'the open breaker shows in health');
    assert.equal(health('vault'), 'SERVING');
    assert.equal((await invoke('tickets.read')).statusCode, 200, 'local-backed actions keep working');
    assert.equal((await invoke('crm.read')).statusCode, 200, 'Vault-backed actions keep working');
    assert.match(b().logs.text, /backend circuit open/);
    await moto.start(); // empty again: moto keeps no state
    await seedAws();
    await until('AWS-backed calls work again', async () => {
      try {
        return (await invoke('billing.read')).statusCode === 200;
      } catch {
        return false;
      }
    });
    await until('health shows the backend serving', () => health('aws') === 'SERVING');
  });

  it('outage: the Vault API server stopped, and sealed → Vault-backed actions and vault_dynamic UNAVAILABLE; others keep working; back → resumes', async () => {
    for (const fault of ['stop', 'seal'] as const) {
      if (fault === 'stop') await vault.stop();
      else vault.seal();
      await expectCode(invoke('crm.read'), grpc.status.UNAVAILABLE, /unavailable/);
      await expectCode(requestDb(), grpc.status.UNAVAILABLE, /^backend vault is unavailable/);
      await expectCode(invoke('crm.read'), grpc.status.UNAVAILABLE, /unavailable/);
      assert.equal(health('vault'), 'NOT_SERVING');
      assert.equal((await invoke('tickets.read')).statusCode, 200);
      assert.equal((await invoke('billing.read')).statusCode, 200);
      if (fault === 'stop') await vault.start();
      else vault.unseal();
      await until(`Vault-backed calls work again after ${fault}`, async () => {
        try {
          return (await invoke('crm.read')).statusCode === 200;
        } catch {
          return false;
        }
      });
      await until('health shows vault serving', () => health('vault') === 'SERVING');
      const g = await requestDb();
      assert.equal(g.status, 'GRANTED');
    }
    assert.ok(!b().logs.text.includes(CRM), 'no value in the log');
  });

  it('the read cache (cache_ttl 30s) serves a warm secret while Vault is down; an uncached one is UNAVAILABLE', async () => {
    assert.equal((await invoke('crm.cached')).statusCode, 200);
    await vault.stop();
    assert.equal((await invoke('crm.cached')).statusCode, 200, 'served from the in-memory cache');
    await expectCode(invoke('crm.read'), grpc.status.UNAVAILABLE, /unavailable/);
    b().app.backends.invalidate('crm-token-cached');
    await expectCode(invoke('crm.cached'), grpc.status.UNAVAILABLE, /unavailable/);
  });

  it('VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_SKIP_VERIFY, AWS_ENDPOINT_URL* and proxy variables in the daemon\'s environment change nothing', async () => {
    await broker!.close();
    const trap = await decoy();
    const restore = setEnv({
      VAULT_ADDR: trap.url,
      VAULT_TOKEN: 'hvs.from-the-environment',
      VAULT_NAMESPACE: 'evil',
      VAULT_SKIP_VERIFY: '1',
      AWS_ENDPOINT_URL: trap.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: trap.url,
      HTTPS_PROXY: trap.url,
      https_proxy: trap.url,
      HTTP_PROXY: trap.url,
      http_proxy: trap.url,
      ALL_PROXY: trap.url,
      NODE_TLS_REJECT_UNAUTHORIZED: '0',
    });
    try {
      // A Vault backend without ca_file: VAULT_SKIP_VERIFY=1 must not make the server's unknown CA acceptable.
      const r = structuredClone(raw) as Record<string, Record<string, Record<string, unknown>>>;
      r['backends']!['vault-unverified'] = { kind: 'vault', address: vault.url, token_file: (r['backends']!['vault'] as { token_file: string }).token_file, cache_ttl: '0s' };
      r['secrets']!['crm-unverified'] = { backend: 'vault-unverified', name: 'app/crm', field: 'token' };
      r['actions']!['crm.unverified'] = { http: { ...(r['actions']!['crm.read'] as { http: object }).http, auth: { bearer: 'crm-unverified' } } };
      writeFileSync(
        path.join(String(raw['policies']), 'remote-unverified.cedar'),
        '@id("remote-unverified")\npermit (principal in Group::"support", action == Action::"crm.unverified", resource);\n',
      );
      broker = await startBroker({
        pki,
        dir: tmp.dir,
        raw: r,
        resolver: testResolver(new Map([['helpdesk.test', ['127.0.0.1']], ['crm.test', ['127.0.0.1']], ['stripe.test', ['127.0.0.1']]])),
      });
      const seenBefore = vault.requests.length;
      assert.equal((await invoke('crm.read')).statusCode, 200);
      assert.equal((await invoke('billing.read')).statusCode, 200);
      const res = await requestDb();
      assert.equal(res.status, 'GRANTED');
      await expectCode(invoke('crm.unverified'), grpc.status.UNAVAILABLE, /^secret backend vault-unverified is unavailable$/);
      assert.equal(trap.connections(), 0, 'nothing went to the addresses in the environment');
      const sent = vault.requests.slice(seenBefore);
      assert.ok(sent.length > 0);
      assert.ok(sent.every((q) => !q.namespace), 'no X-Vault-Namespace from VAULT_NAMESPACE');
    } finally {
      restore();
      await trap.close();
    }
  });
});
