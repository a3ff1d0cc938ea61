import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client as PgClient } from 'pg';
import { call } from '../../src/client/grpc-client';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { TrustState__Output } from '../../src/gen/secretbroker/v1/TrustState';
import { ManualClock } from '../../src/lib/clock';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { startEphemeralPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { readEntries } from '../helpers/evidence-entries';
import { seedLocalSecrets } from '../helpers/invoke-broker';

/**
 * A trust drop reaches a live database lease: the agent's PostgreSQL role is
 * dropped (its open session ended, its login refused) before ReportSignal
 * answers, while a lease policy still permits keeps its role. Real daemon over
 * mTLS, real PostgreSQL.
 */
type Entry = Record<string, unknown> & { type: string; index: number; lease?: { id?: string } };

describe('trust drop revokes dynamic PostgreSQL leases (real daemon, real PostgreSQL)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pg: EphemeralPostgres;
  let admin: PgClient;
  let broker: RunningBroker;

  before(async () => {
    tmp = tempDir('sb-trust-pg-');
    pki = await makeTestPki(`${tmp.dir}/pki`);
    pg = await startEphemeralPostgres();
    admin = new PgClient({ connectionString: pg.adminUrl });
    admin.on('error', () => undefined);
    await admin.connect();
    await admin.query(`CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int); CREATE SCHEMA reports; CREATE TABLE reports.daily (id int);`);
    const dir = `${tmp.dir}/d`;
    const raw = baseRawConfig(pki, dir);
    (raw['backends'] as Record<string, unknown>)['appdb'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' }, timeout: '5s' };
    const actions = raw['actions'] as Record<string, unknown>;
    actions['analytics.query'] = { postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m' }, resource: 'analytics' };
    actions['reports.query'] = { postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'reports' }], ttl: '5m' }, resource: 'reports' };
    raw['trust'] = { signals: { 'eval.failed': { weight: -150 } } };
    writeFileSync(
      path.join(raw['policies'] as string, 'db.cedar'),
      `@id("analytics-standard")\npermit (principal in Group::"support", action == Action::"analytics.query", resource) when { context.tier == "trusted" || context.tier == "standard" };\n` +
        `@id("reports-any")\npermit (principal in Group::"support", action == Action::"reports.query", resource);\n`,
    );
    await seedLocalSecrets(raw, { 'helpdesk-token': 'unused', 'appdb-admin': pg.adminUrl });
    broker = await startBroker({ pki, dir, raw, clock: new ManualClock(Date.now()), sweeper: { intervalMs: 3_600_000, graceMs: 120_000 } });
    await broker.app.sweeper.sweep();
  });
  after(async () => {
    await broker?.close();
    await admin?.end().catch(() => undefined);
    await pg?.close();
    tmp?.cleanup();
  });

  const agent = () => broker.clientFor('agents', 'support-bot').agent;
  const roleExists = async (role: string) => (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
  async function grant(action: string) {
    const res = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action, ttlSeconds: 300 });
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    const c = res.lease!.databaseCredential!;
    return { lease: res.lease!, cred: { host: c.host, port: Number(c.port), database: c.database, user: c.user, password: c.password } };
  }
  async function login(cred: { host: string; port: number; database: string; user: string; password: string }): Promise<PgClient> {
    const c = new PgClient({ ...cred, connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  }

  it('the roles of leases no longer permitted are gone from pg_roles before the reply (one batch), the session ends, login fails; a permitted lease keeps its role', async () => {
    const a = await grant('analytics.query');
    const a2 = await grant('analytics.query');
    const r = await grant('reports.query');
    const session = await login(a.cred);
    await session.query('SELECT 1 FROM analytics.events');

    const t0 = Date.now();
    const state = await call<unknown, TrustState__Output>(broker.clientFor('operators', 'alice').operator, 'ReportSignal', {
      agent: 'support-bot',
      kind: 'eval.failed',
      detail: 'failed the data-exfiltration eval',
    });
    const took = Date.now() - t0;
    assert.equal(state.tier, 'restricted');
    assert.equal(state.leasesRevoked, 2);
    assert.ok(took < 1000, `the reply (after the roles were dropped) took ${took} ms`);
    // Already gone when the reply came: no polling.
    assert.equal(await roleExists(a.cred.user), false);
    assert.equal(await roleExists(a2.cred.user), false);
    assert.equal(await roleExists(r.cred.user), true, 'the still-permitted lease keeps its role');
    await assert.rejects(session.query('SELECT 1'), 'the open session was terminated');
    await session.end().catch(() => undefined);
    await assert.rejects(login(a.cred), /password authentication failed|does not exist/);
    const still = await login(r.cred);
    await still.query('SELECT 1 FROM reports.daily');
    await still.end();

    for (const l of [a, a2]) {
      const got = await call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: l.lease.leaseId });
      assert.equal(got.status, 'REVOKED');
    }
    const entries = await readEntries<Entry>(broker.app.ledger!);
    const cause = Number(state.evidence!.index);
    assert.equal(entries[cause]!.type, 'trust.changed');
    for (const l of [a, a2]) {
      const revoked = entries.filter((e) => e.type === 'lease.revoked' && e.lease?.id === l.lease.leaseId);
      assert.deepEqual(revoked.map((e) => e['cause']), [{ type: 'trust.changed', index: cause }]);
      assert.equal(entries.filter((e) => e.type === 'credential.revoked' && e.lease?.id === l.lease.leaseId).length, 1);
    }
    // One revokeMany round for both roles.
    assert.equal(broker.logs.text.split('\n').filter((l) => l.includes('revoking credentials in one batch') && l.includes('"count":2')).length, 1);
  });
});
