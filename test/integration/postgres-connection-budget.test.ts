import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Client as PgClient } from 'pg';
import { call } from '../../src/client/grpc-client';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { scramSha256Verifier } from '../../src/backends/postgres';
import { DDL_LOCK_KEY } from '../../src/backends/postgres/role-sql';
import { ManualClock } from '../../src/lib/clock';
import { SecretValue } from '../../src/lib/secret-value';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { startEphemeralPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { expectCode } from '../helpers/grpc-expect';
import { seedLocalSecrets } from '../helpers/invoke-broker';

/**
 * Found by an outside probe (F2): one agent's lease roles could take every
 * connection slot PostgreSQL has for non-superusers (active_leases x
 * connection_limit), and the broker's admin login, not a superuser as the
 * README advises, could then not connect to revoke them. Over the real daemon,
 * against a real PostgreSQL with 17 slots open to non-superusers.
 */
describe('postgres: the connection budget of lease roles (max_lease_connections), and revocations with every slot taken', function () {
  this.timeout(120_000);
  const ADMIN_PASSWORD = 'broker-admin-password-for-this-test';
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pg: EphemeralPostgres;
  let su: PgClient;
  let broker: RunningBroker | undefined;

  before(async () => {
    tmp = tempDir('sb-pgbudget-');
    pki = await makeTestPki(`${tmp.dir}/pki`);
    pg = await startEphemeralPostgres({ settings: ['max_connections = 20', 'superuser_reserved_connections = 3'] });
    su = new PgClient({ connectionString: pg.adminUrl });
    su.on('error', () => undefined);
    await su.connect();
    // The admin the README advises: CREATEROLE, not a superuser, owning what it grants.
    await su.query(`SET log_statement = 'none'; CREATE ROLE broker_admin LOGIN CREATEROLE PASSWORD '${ADMIN_PASSWORD}';
                    GRANT CONNECT ON DATABASE ${pg.database} TO broker_admin WITH GRANT OPTION;
                    CREATE SCHEMA analytics AUTHORIZATION broker_admin; SET ROLE broker_admin; CREATE TABLE analytics.events (id int); RESET ROLE;
                    CREATE ROLE filler LOGIN PASSWORD 'filler'; GRANT CONNECT ON DATABASE ${pg.database} TO filler;`);
  });
  after(async () => {
    await su?.end().catch(() => undefined);
    await pg?.close();
    tmp?.cleanup();
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });

  async function start(backend: Record<string, unknown>): Promise<RunningBroker> {
    const dir = `${tmp.dir}/${Math.random().toString(36).slice(2)}`;
    const raw = baseRawConfig(pki, dir);
    (raw['backends'] as Record<string, unknown>)['appdb'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' }, timeout: '2s', ...backend };
    (raw['actions'] as Record<string, unknown>)['analytics.query'] = {
      postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m', connection_limit: 2 },
      resource: 'analytics',
    };
    writeFileSync(path.join(raw['policies'] as string, 'analytics.cedar'), `@id("analytics-support")\npermit (principal in Group::"support", action == Action::"analytics.query", resource);\n`);
    await seedLocalSecrets(raw, { 'helpdesk-token': 'unused', 'appdb-admin': `postgres://broker_admin:${ADMIN_PASSWORD}@127.0.0.1:${pg.port}/${pg.database}` });
    broker = await startBroker({ pki, dir, raw, clock: new ManualClock(Date.now()), sweeper: { intervalMs: 3_600_000, graceMs: 120_000 } });
    return broker;
  }
  const agent = () => broker!.clientFor('agents', 'support-bot').agent;
  const request = () => call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'analytics.query', ttlSeconds: 300 });
  const revoke = (id: string) => call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: id });
  const leaseRoles = async (): Promise<string[]> => (await su.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'sb\\_%' ORDER BY 1`)).rows.map((r) => r.rolname);
  const dropAll = async (): Promise<void> => {
    for (const r of await leaseRoles()) await su.query(`DROP OWNED BY "${r}"; DROP ROLE "${r}"`);
  };

  it('refuses a lease whose CONNECTION LIMIT does not fit with RESOURCE_EXHAUSTED, creating nothing, and issues again once a lease ends', async () => {
    await start({ max_lease_connections: 4 });
    const a = await request();
    const b = await request();
    assert.equal(a.status, 'GRANTED');
    assert.equal(b.status, 'GRANTED');
    const err = await expectCode(request(), grpc.status.RESOURCE_EXHAUSTED, /max_lease_connections/);
    assert.doesNotMatch(err.details, /pg_|SQL|sb_/, 'our words only');
    assert.equal((await leaseRoles()).length, 2, 'no third role was created');
    assert.match(broker!.logs.text, /may hold 4 connections together \(max_lease_connections\) and hold 4/);
    await revoke(a.lease!.leaseId);
    const c = await request();
    assert.equal(c.status, 'GRANTED');
    await revoke(b.lease!.leaseId);
    await revoke(c.lease!.leaseId);
    assert.deepEqual(await leaseRoles(), []);
  });

  it('a role dropped behind the broker\'s back frees its connections: a create that might not fit asks the server', async () => {
    await start({ max_lease_connections: 4 });
    const a = await request();
    const b = await request();
    await expectCode(request(), grpc.status.RESOURCE_EXHAUSTED, /max_lease_connections/);
    const role = a.lease!.databaseCredential!.user;
    // As the admin that granted its privileges (DROP OWNED by another role leaves those).
    await su.query(`SET ROLE broker_admin; GRANT "${role}" TO broker_admin; DROP OWNED BY "${role}"; DROP ROLE "${role}"; RESET ROLE`);
    const c = await request();
    assert.equal(c.status, 'GRANTED');
    for (const l of [a, b, c]) await revoke(l.lease!.leaseId);
    assert.deepEqual(await leaseRoles(), []);
  });

  it('without max_lease_connections, lease roles may hold half of the slots open to non-superusers, and the log says so', async () => {
    await start({});
    // 20 - 3 reserved for superusers = 17 open; half is 8, four roles with CONNECTION LIMIT 2.
    const granted: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await request();
      assert.equal(r.status, 'GRANTED');
      granted.push(r.lease!.leaseId);
    }
    await expectCode(request(), grpc.status.RESOURCE_EXHAUSTED, /max_lease_connections/);
    assert.match(broker!.logs.text, /lease roles may hold 8 connections together, half of the server's 17 connection slots open to non-superusers/);
    for (const id of granted) await revoke(id);
    await dropAll();
  });

  // F1 again, with an admin that is not a superuser and has no pg_signal_backend: ending a lease role's
  // session needs the admin's membership in that role, which the broker takes first.
  it('with a non-superuser admin: a lease role holding the role-DDL lock is ended and other leases are issued; one holding its own role row is still revoked', async () => {
    await start({ max_lease_connections: 100 });
    const holder = await request();
    const hc = holder.lease!.databaseCredential!;
    const s = new PgClient({ host: hc.host, port: Number(hc.port), database: hc.database, user: hc.user, password: hc.password });
    s.on('error', () => undefined);
    await s.connect();
    await s.query(`SELECT pg_advisory_lock(${DDL_LOCK_KEY})`);
    const other = await request();
    assert.equal(other.status, 'GRANTED');
    await assert.rejects(s.query('SELECT 1'), 'the holding session was ended');
    await s.end().catch(() => undefined);
    assert.match(broker!.logs.text, new RegExp(`lease role ${hc.user} held or awaited the role-DDL lock`));

    const oc = other.lease!.databaseCredential!;
    const t = new PgClient({ host: oc.host, port: Number(oc.port), database: oc.database, user: oc.user, password: oc.password });
    t.on('error', () => undefined);
    await t.connect();
    await t.query('BEGIN');
    await t.query(`ALTER ROLE CURRENT_USER PASSWORD '${await scramSha256Verifier(SecretValue.fromString('chosen-by-the-agent'))}'`);
    const out = await revoke(other.lease!.leaseId);
    assert.equal(out.lease.status, 'REVOKED');
    await assert.rejects(t.query('SELECT 1'), 'its session was ended');
    await t.end().catch(() => undefined);
    await revoke(holder.lease!.leaseId);
    assert.deepEqual(await leaseRoles(), []);
  });

  it('a revocation gets through when other clients hold every slot open to non-superusers: the admin pool keeps one connection', async () => {
    await start({ max_lease_connections: 100 });
    const r = await request();
    assert.equal(r.status, 'GRANTED');
    // The admin pool closes connections idle for 10 s: wait past that, then take every slot left.
    await new Promise((res) => setTimeout(res, 10_500));
    const fillers: PgClient[] = [];
    try {
      for (;;) {
        const f = new PgClient({ host: '127.0.0.1', port: pg.port, database: pg.database, user: 'filler', password: 'filler' });
        f.on('error', () => undefined);
        try {
          await f.connect();
        } catch (e) {
          assert.equal((e as { code?: string }).code, '53300', 'the slots ran out');
          break;
        }
        fillers.push(f);
        assert.ok(fillers.length <= 17, 'no more than the open slots');
      }
      const out = await revoke(r.lease!.leaseId);
      assert.equal(out.lease.status, 'REVOKED');
      assert.deepEqual(await leaseRoles(), []);
    } finally {
      await Promise.all(fillers.map((f) => f.end().catch(() => undefined)));
    }
  });
});
