import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Client as PgClient } from 'pg';
import { call } from '../../src/client/grpc-client';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { sharedPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { readEntries } from '../helpers/evidence-entries';
import { expectCode } from '../helpers/grpc-expect';
import { startVaultServer, type VaultServer } from '../vault-server/vault-server';
import { until as pollUntil } from '../helpers/until';

/**
 * The lifetime of a Vault-issued login against the broker lease, over the real
 * daemon (real mTLS, the in-repo Vault API server, real PostgreSQL):
 * - a create whose clean-up revoke fails hands its handle to the revoker, which
 *   retries until the Vault lease is gone (it used to be left for Vault's TTL);
 * - a lease minted under a broker token that ends sooner is capped at that
 *   token's end, then expires and is revoked cleanly (it used to stay active and
 *   renewable while Vault had already revoked the login with the token).
 */

type Entry = Record<string, unknown> & { type: string; lease?: { id?: string } };

const until = (what: string, fn: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> => pollUntil(what, fn, ms, 100);

async function canLogin(pg: EphemeralPostgres, user: string, password: string): Promise<boolean> {
  const c = new PgClient({ host: pg.host, port: pg.port, database: pg.database, user, password, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    return (await c.query<{ u: string }>('SELECT current_user AS u')).rows[0]?.u === user;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}

const POLICY = { 'database/creds/*': ['read'], 'sys/leases/renew': ['update'], 'sys/leases/revoke': ['update'] } as const;

describe('vault_dynamic lease lifetime in the daemon (in-repo Vault API server, real PostgreSQL, real mTLS)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pg: EphemeralPostgres;
  let vault: VaultServer;
  let broker: RunningBroker | undefined;

  before(async () => {
    tmp = tempDir('sb-vault-life-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    pg = await sharedPostgres();
    vault = await startVaultServer({ postgres: pg, sweepIntervalMs: 100 });
    vault.createDatabaseRole('life', { defaultTtl: '1h', maxTtl: '24h' });
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });
  after(async () => {
    await vault?.close();
    tmp?.cleanup();
  });

  /** A daemon whose `vault` backend authenticates with `token` (token_file). */
  async function start(token: string): Promise<RunningBroker> {
    const tokenFile = path.join(tmp.dir, `vault-token-${Date.now()}`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const vaultCa = path.join(tmp.dir, 'vault-ca.pem');
    writeFileSync(vaultCa, vault.caPem!);
    const raw = baseRawConfig(pki, tmp.dir);
    raw['backends'] = { ...(raw['backends'] as object), vault: { kind: 'vault', address: vault.url, ca_file: vaultCa, token_file: tokenFile, cache_ttl: '0s', timeout: '2s' } };
    raw['actions'] = {
      'life.db': { vault_dynamic: { backend: 'vault', role: 'life', connection: { host: '127.0.0.1', port: pg.port, database: pg.database } }, default_ttl: '5m', max_ttl: '1h' },
    };
    writeFileSync(path.join(String(raw['policies']), 'life.cedar'), '@id("life")\npermit (principal in Group::"support", action == Action::"life.db", resource);\n');
    broker = await startBroker({ pki, dir: tmp.dir, raw, reaperIntervalMs: 50 });
    return broker;
  }
  const agent = () => broker!.clientFor('agents', 'support-bot').agent;
  const requestDb = () => call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'life.db', ttlSeconds: 300 });
  const getLease = (id: string) => call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: id });
  const entries = () => readEntries<Entry>(broker!.app.ledger!);

  it('a create whose shortening and clean-up revoke both fail leaves no live login: the revoker retries the revoke until Vault has it', async () => {
    const { token } = vault.createToken({ paths: POLICY, ttl: '1h' });
    await start(token);
    const before = new Set(vault.leases().map((l) => l.leaseId));
    // Vault makes the login; shortening it to the broker lease fails; so do the
    // backend's own clean-up revoke and the revoker's first attempt.
    vault.failNext(500, 1, { pathPrefix: 'sys/leases/renew' });
    vault.failNext(500, 2, { pathPrefix: 'sys/leases/revoke' });
    await expectCode(requestDb(), grpc.status.UNAVAILABLE);
    const minted = vault.leases().filter((l) => !before.has(l.leaseId));
    assert.equal(minted.length, 1, 'Vault made one login, and it is still live after the failed create');
    const revokes = (): number => vault.requests.filter((r) => r.path === 'sys/leases/revoke').length;
    // Failed before the fix: one revoke attempt ever, and the login lived for Vault's 1h TTL.
    await until('the revoker revoked the orphaned Vault lease', () => vault.leases().every((l) => l.leaseId !== minted[0]!.leaseId));
    assert.ok(revokes() >= 3, `revoke attempts: ${revokes()}`);
    const admin = new PgClient({ host: pg.host, port: pg.port, database: pg.database, user: pg.superuser, password: pg.password });
    await admin.connect();
    try {
      const rows = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', [minted[0]!.username]);
      assert.equal(rows.rows[0]!.n, 0, 'the PostgreSQL login is dropped');
    } finally {
      await admin.end();
    }
    await until('credential.revoked is recorded', async () => (await entries()).some((e) => e.type === 'credential.revoked' && JSON.stringify(e).includes(minted[0]!.leaseId)));
  });

  it('a lease is capped at the end of the broker token that minted it, then expires and its credential is revoked cleanly (never active with a dead login)', async () => {
    // The broker's token ends (max TTL) long before the 5-minute lease.
    const { token } = vault.createToken({ paths: POLICY, ttl: '6s', explicitMaxTtl: '6s', renewable: true });
    await start(token);
    const t0 = Date.now();
    const res = await requestDb();
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    const lease = res.lease!;
    const cred = lease.databaseCredential!;
    assert.ok(await canLogin(pg, cred.user, cred.password), 'the login works while the token lives');
    const expiresAt = Date.parse(lease.expiresAt);
    // Failed before the fix: the lease ran for the 300 s asked for.
    assert.ok(expiresAt <= t0 + 7_000, `lease expiry capped at the token's end: ${lease.expiresAt} (requested +300 s)`);
    // Renewing cannot pass the token's end either.
    const renewed = await call<unknown, { lease: Lease__Output }>(agent(), 'RenewLease', { leaseId: lease.leaseId, ttlSeconds: 600 });
    assert.ok(Date.parse(renewed.lease.expiresAt) <= t0 + 7_000, `renewal capped at the token's end: ${renewed.lease.expiresAt}`);
    // The token ends: Vault revokes the login with it; the broker lease has expired by then and is revoked cleanly.
    await until('the lease expired and its credential was revoked', async () => {
      const l = await getLease(lease.leaseId);
      return l.status === 'EXPIRED' && (await entries()).some((e) => e.type === 'credential.revoked' && e.lease?.id === lease.leaseId);
    });
    assert.equal(await canLogin(pg, cred.user, cred.password), false, 'the login is gone');
    assert.equal(vault.leases().filter((l) => l.username === cred.user).length, 0, 'Vault has no lease for it');
    const failed = (await entries()).filter((e) => e.lease?.id === lease.leaseId && e.type === 'lease.revoke_failed');
    assert.equal(failed.length, 0);
  });

  it('the in-repo Vault revokes the leases a token created when the token is revoked', async () => {
    const { token } = vault.createToken({ paths: POLICY, ttl: '1h' });
    await start(token);
    const res = await requestDb();
    assert.equal(res.status, 'GRANTED');
    const cred = res.lease!.databaseCredential!;
    assert.ok(await canLogin(pg, cred.user, cred.password));
    vault.revokeToken(token);
    await until('Vault revoked the token\'s lease', () => vault.leases().every((l) => l.username !== cred.user));
    assert.equal(await canLogin(pg, cred.user, cred.password), false);
  });
});
