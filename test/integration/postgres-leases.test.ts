import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Client as PgClient } from 'pg';
import { call } from '../../src/client/grpc-client';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { openPostgresBackend, scramSha256Verifier } from '../../src/backends/postgres';
import { DDL_LOCK_KEY } from '../../src/backends/postgres/role-sql';
import type { PostgresBackendConfig } from '../../src/config/config-types';
import { ManualClock } from '../../src/lib/clock';
import { createLogger } from '../../src/lib/logger';
import { SecretValue } from '../../src/lib/secret-value';
import { baseRawConfig, cliEnv, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { startEphemeralPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { readEntries } from '../helpers/evidence-entries';
import { expectCode } from '../helpers/grpc-expect';
import { seedLocalSecrets } from '../helpers/invoke-broker';
import { runCapture } from '../helpers/run-cli';
import { until as pollUntil } from '../helpers/until';

/**
 * postgres actions over the real daemon and mTLS, against a real private
 * PostgreSQL that logs every statement: the agent gets a login role for its
 * lease (RequestLease only), can do what the grants allow and nothing else, and
 * the role dies with the lease (revoke, expiry), also across an outage.
 */
type Entry = Record<string, unknown> & { type: string; lease?: { id?: string } };

const until = (what: string, fn: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> => pollUntil(what, fn, ms, 50);

async function connectAs(pg: EphemeralPostgres, cred: { host: string; port: number; database: string; user: string; password: string }): Promise<PgClient> {
  const c = new PgClient({ host: cred.host, port: cred.port, database: cred.database, user: cred.user, password: cred.password, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  assert.equal(cred.port, pg.port);
  return c;
}

/** A session of a lease role holding its own pg_authid row (ALTER ROLE CURRENT_USER PASSWORD, open to every role, in a transaction left open). */
async function holdingOwnRow(pg: EphemeralPostgres, cred: { host: string; port: number; database: string; user: string; password: string }): Promise<PgClient> {
  const s = await connectAs(pg, cred);
  await s.query('BEGIN');
  await s.query(`ALTER ROLE CURRENT_USER PASSWORD '${await scramSha256Verifier(SecretValue.fromString('chosen-by-the-agent'))}'`);
  return s;
}

async function sqlState(c: PgClient, sql: string): Promise<string> {
  try {
    await c.query(sql);
  } catch (e) {
    return (e as { code?: string }).code ?? 'no-code';
  }
  return 'allowed';
}

describe('postgres dynamic credentials over the real daemon (real PostgreSQL, log_statement = all)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pg: EphemeralPostgres;
  let admin: PgClient;
  let broker: RunningBroker | undefined;
  let clock: ManualClock;
  let dir: string;

  before(async () => {
    tmp = tempDir('sb-pgl-');
    pki = await makeTestPki(`${tmp.dir}/pki`);
    // Prepared transactions on (PostgreSQL's default is 0): a lease role must not keep locks or writes through one.
    pg = await startEphemeralPostgres({ settings: ["log_statement = 'all'", 'max_prepared_transactions = 4'] });
    admin = new PgClient({ connectionString: pg.adminUrl });
    admin.on('error', () => undefined);
    await admin.connect();
    await admin.query(`CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int, what text); INSERT INTO analytics.events VALUES (1, 'signup');
                       CREATE SCHEMA billing; CREATE TABLE billing.cards (id int, pan text);`);
  });
  after(async () => {
    await admin?.end().catch(() => undefined);
    await pg?.close();
    tmp?.cleanup();
  });
  beforeEach(async () => {
    // VALID UNTIL is real time upstream: the broker's clock starts at now.
    clock = new ManualClock(Date.now());
    dir = `${tmp.dir}/${Math.random().toString(36).slice(2)}`;
    const raw = baseRawConfig(pki, dir);
    // On here (the harness turns the broker's signals off): a lease role that takes the role-DDL lock raises it.
    (raw['trust'] as { signals: Record<string, unknown> }).signals['broker.credential_misuse'] = { weight: -100 };
    (raw['backends'] as Record<string, unknown>)['appdb'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' }, timeout: '2s', breaker: { failures: 2, open_for: '500ms' } };
    (raw['actions'] as Record<string, unknown>)['analytics.query'] = {
      postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m', connection_limit: 3, statement_timeout: '20s' },
      resource: 'analytics',
      max_ttl: '15m',
    };
    writeFileSync(
      path.join(raw['policies'] as string, 'analytics.cedar'),
      `@id("analytics-support")\n@reason("Support reads analytics with a short-lived role.")\npermit (principal in Group::"support", action == Action::"analytics.query", resource);\n` +
        `@id("analytics-analysts")\npermit (principal in Group::"analysts", action == Action::"analytics.query", resource);\n`,
    );
    await seedLocalSecrets(raw, { 'helpdesk-token': 'unused', 'appdb-admin': pg.adminUrl });
    rawCfg = raw;
    await start();
  });
  let rawCfg: Record<string, unknown>;
  async function start(revoker?: { minDelayMs?: number; probeMs?: number }, more: { grantCheckRetryMs?: number } = {}): Promise<RunningBroker> {
    broker = await startBroker({ pki, dir, raw: rawCfg, clock, reaperIntervalMs: 25, sweeper: { intervalMs: 3_600_000, graceMs: 120_000 }, ...(revoker ? { revoker } : {}), ...more });
    // The sweep at start runs in the background; join it.
    await broker.app.sweeper.sweep();
    return broker;
  }
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });

  const b = (): RunningBroker => broker!;
  const agent = () => b().clientFor('agents', 'support-bot').agent;
  const operator = () => b().clientFor('operators', 'alice').operator;
  const entries = () => readEntries<Entry>(b().app.ledger!);
  const getLease = (id: string) => call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: id });
  const roleExists = async (role: string) => (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;

  /** PostgreSQL back after pg.stop(), with the test's own admin session reconnected. */
  async function restartPostgres(): Promise<void> {
    await pg.start();
    await admin.end().catch(() => undefined);
    admin = new PgClient({ connectionString: pg.adminUrl });
    admin.on('error', () => undefined);
    await admin.connect();
  }

  async function grant(as = 'support-bot'): Promise<{ lease: Lease__Output; cred: { host: string; port: number; database: string; user: string; password: string } }> {
    const res = await call<unknown, LeaseResponse__Output>(b().clientFor('agents', as).agent, 'RequestLease', { action: 'analytics.query', ttlSeconds: 300 });
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    const c = res.lease!.databaseCredential!;
    assert.ok(c, 'RequestLease carries the credential');
    return { lease: res.lease!, cred: { host: c.host, port: Number(c.port), database: c.database, user: c.user, password: c.password } };
  }

  it('grants a role per lease that SELECTs what the grants allow and nothing else; only RequestLease carries the password', async () => {
    const { lease, cred } = await grant();
    assert.deepEqual({ ...cred, password: '' }, { host: '127.0.0.1', port: pg.port, database: 'postgres', user: cred.user, password: '' });
    assert.match(cred.user, /^sb_[0-9a-f]{32}$/);
    assert.ok(cred.password.length >= 40);
    const s = await connectAs(pg, cred);
    try {
      assert.deepEqual((await s.query('SELECT what FROM analytics.events')).rows, [{ what: 'signup' }]);
      assert.equal(await sqlState(s, "INSERT INTO analytics.events VALUES (2, 'x')"), '42501');
      assert.equal(await sqlState(s, 'SELECT * FROM billing.cards'), '42501');
      assert.equal(await sqlState(s, 'CREATE TABLE analytics.mine (x int)'), '42501');
      assert.equal(await sqlState(s, 'CREATE TABLE public.mine (x int)'), '42501');
      assert.equal(await sqlState(s, `SET ROLE ${pg.superuser}`), '42501');
    } finally {
      await s.end();
    }
    const r = (
      await admin.query(
        `SELECT rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolconnlimit, rolconfig,
                round(extract(epoch FROM rolvaliduntil) * 1000) AS until FROM pg_roles WHERE rolname = $1`,
        [cred.user],
      )
    ).rows[0];
    assert.deepEqual(
      { ...r, until: Number(r.until) },
      { rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolinherit: false, rolreplication: false, rolbypassrls: false, rolconnlimit: 3, rolconfig: ['statement_timeout=20000'], until: Date.parse(lease.expiresAt) },
    );

    // GetLease, RenewLease and ListLeases never repeat it; renewal moves VALID UNTIL.
    assert.equal((await getLease(lease.leaseId)).databaseCredential, null);
    clock.advance(10_000);
    const renewed = await call<unknown, LeaseResponse__Output>(agent(), 'RenewLease', { leaseId: lease.leaseId, ttlSeconds: 600 });
    assert.equal(renewed.lease!.databaseCredential, null);
    const until = Number((await admin.query('SELECT round(extract(epoch FROM rolvaliduntil) * 1000) AS u FROM pg_roles WHERE rolname = $1', [cred.user])).rows[0].u);
    assert.equal(until, Date.parse(renewed.lease!.expiresAt));
    assert.equal(until, clock.now() + 600_000);
    const listed = await call<unknown, { leases: Lease__Output[] }>(operator(), 'ListLeases', { agent: 'support-bot' });
    assert.equal(listed.leases[0]!.databaseCredential, null);

    // lease.issued names the role and what was granted, never the password.
    const issued = (await entries()).find((e) => e.type === 'lease.issued' && e.lease?.id === lease.leaseId)!;
    assert.deepEqual((issued.lease as Record<string, unknown>)['credential'], { backend: 'appdb', id: cred.user });
    assert.deepEqual((issued.lease as Record<string, unknown>)['credential_details'], { role: cred.user, grants: [{ privilege: 'SELECT', schema: 'analytics' }] });

    // The cluster still lets PUBLIC connect to template1 and create TEMP tables: the daemon's log says so.
    assert.match(b().logs.text, /PUBLIC may CONNECT to other databases \(template1\)/);
    assert.match(b().logs.text, /PUBLIC may create TEMP tables in postgres/);
    // Its admin login is the cluster's superuser: the daemon's log says that too.
    assert.match(b().logs.text, new RegExp(`admin login ${pg.superuser} is a superuser`));

    // A postgres action has no brokered call.
    await expectCode(call(agent(), 'Invoke', { leaseId: lease.leaseId, method: 'GET', path: '/' }), grpc.status.FAILED_PRECONDITION, /database credential/);
  });

  it('lease show of a database lease does not claim uses left (no Invoke spends it); --json keeps the API fields (finding F8)', async () => {
    const env = cliEnv(b().addr, pki, 'agents', 'support-bot');
    const req = await runCapture(['lease', 'request', 'analytics.query', '--json'], '', env);
    assert.equal(req.code, 0, req.err);
    const granted = JSON.parse(req.out) as { lease: { leaseId: string; dynamicCredential: boolean } };
    assert.equal(granted.lease.dynamicCredential, true);
    const human = await runCapture(['lease', 'show', granted.lease.leaseId], '', env);
    assert.equal(human.code, 0, human.err);
    assert.doesNotMatch(human.out, /uses left/);
    assert.match(human.out, /status ACTIVE, uses not counted \(a database credential: it ends by revocation or expiry\)/);
    const json = await runCapture(['lease', 'show', granted.lease.leaseId, '--json'], '', env);
    assert.equal(json.code, 0, json.err);
    assert.deepEqual(JSON.parse(json.out), await getLease(granted.lease.leaseId));
    assert.equal((JSON.parse(json.out) as { dynamicCredential: boolean }).dynamicCredential, true);
  });

  it('at start, in the background, warns of each grant of a postgres action the admin login cannot give: a missing schema or table, or no grant option (finding F5)', async () => {
    const pw = `chk-${Math.random().toString(36).slice(2)}`;
    await admin.query(`CREATE ROLE sb_checker LOGIN CREATEROLE PASSWORD '${pw}';
                       GRANT USAGE ON SCHEMA analytics TO sb_checker WITH GRANT OPTION;
                       GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO sb_checker WITH GRANT OPTION;`);
    try {
      await b().close();
      const actions = rawCfg['actions'] as Record<string, unknown>;
      const read = (grants: Array<Record<string, string>>) => ({ postgres: { backend: 'appdb', grants, ttl: '5m' }, resource: 'analytics' });
      actions['ghost.read'] = read([{ privilege: 'SELECT', schema: 'ghost' }]);
      actions['nope.read'] = read([{ privilege: 'SELECT', schema: 'analytics', table: 'nope' }]);
      actions['mixed.read'] = read([{ privilege: 'SELECT', schema: 'analytics' }, { privilege: 'SELECT', schema: 'billing' }]);
      await seedLocalSecrets(rawCfg, { 'appdb-admin': `postgres://sb_checker:${pw}@127.0.0.1:${pg.port}/${pg.database}` });
      await start();
      const warned = () => b().logs.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['level'] === 40 && typeof l['grant'] === 'string');
      await until('the grant check warned three times', () => warned().length >= 3);
      const got = warned().map((l) => [l['action'], l['grant'], l['msg']]);
      assert.deepEqual(
        got.sort(),
        [
          ['ghost.read', 'SELECT on schema ghost', 'postgres action ghost.read: grant SELECT on schema ghost cannot be given: backend "appdb" (postgres): schema ghost does not exist'],
          ['mixed.read', 'SELECT on schema billing', 'postgres action mixed.read: grant SELECT on schema billing cannot be given: backend "appdb" (postgres): the admin login may not grant USAGE on schema billing'],
          ['nope.read', 'SELECT on table analytics.nope', 'postgres action nope.read: grant SELECT on table analytics.nope cannot be given: backend "appdb" (postgres): table analytics.nope does not exist'],
        ],
        JSON.stringify(got),
      );
      // The grants that can be given (analytics.query, and mixed.read's on analytics) are not named.
      await until('the grant check finished', () => /postgres: checked the grants of 4 actions on backend appdb: 3 have grants that cannot be given/.test(b().logs.text));
      assert.equal(warned().length, 3);
    } finally {
      await broker?.close();
      broker = undefined;
      await admin.query(`DROP OWNED BY sb_checker; DROP ROLE sb_checker`);
    }
  });

  it('a postgres backend that is down at start does not hold up start-up: the log says its grants could not be checked, and they are checked once it is back (finding F5)', async () => {
    await b().close();
    await pg.stop();
    try {
      await start(undefined, { grantCheckRetryMs: 200 });
      await until('the log says the check could not run', () => /postgres: could not check the grants of analytics\.query on backend appdb: .*; checked again in 200 ms/.test(b().logs.text));
      assert.doesNotMatch(b().logs.text, /postgres: checked the grants/);
    } finally {
      await restartPostgres();
    }
    // The breaker lets a call through once open_for has passed on the broker's (manual) clock.
    clock.advance(1_000);
    await until('the grants are checked once the backend is back', () => /postgres: checked the grants of 1 action on backend appdb: all can be given/.test(b().logs.text), 15_000);
  });

  it('revoking the lease ends the open session and drops the role; credential.revoked follows', async () => {
    const { lease, cred } = await grant();
    const s = await connectAs(pg, cred);
    await s.query('SELECT 1 FROM analytics.events');
    const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId });
    assert.equal(out.lease.status, 'REVOKED');
    assert.notEqual(await sqlState(s, 'SELECT 1 FROM analytics.events'), 'allowed', 'the open session is terminated');
    await s.end().catch(() => undefined);
    assert.equal(await roleExists(cred.user), false);
    await assert.rejects(connectAs(pg, cred), /password authentication failed|does not exist/);
    const revoked = (await entries()).filter((e) => e.type === 'credential.revoked' && e.lease?.id === lease.leaseId);
    assert.equal(revoked.length, 1);
    assert.deepEqual(revoked[0]!['credential'], { backend: 'appdb', id: cred.user });
  });

  // Found by an outside probe: pg_advisory_lock is open to every role, so a lease role could take the
  // key the broker serializes its role DDL with, and hold it from an idle session.
  // Two ways a lease role's own session could hold off its revocation: the role-DDL key (pg_advisory_lock is open to
  // every role: its sessions now end before the drop waits for the lock), and its own pg_authid row
  // (ALTER ROLE self is open to every role: NOLOGIN now ends the sessions when it waits on it).
  const holds: Array<[string, (cred: Parameters<typeof connectAs>[1]) => Promise<PgClient>]> = [
    [
      'holding the role-DDL lock',
      async (cred) => {
        const s = await connectAs(pg, cred);
        await s.query(`SELECT pg_advisory_lock(${DDL_LOCK_KEY})`);
        return s;
      },
    ],
    ['with an open transaction on its own role row', (cred) => holdingOwnRow(pg, cred)],
  ];
  for (const [how, hold] of holds) {
    it(`a lease role ${how} does not hold off its revocation: its session ends and its role is dropped`, async () => {
      const { lease, cred } = await grant();
      const s = await hold(cred);
      const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId });
      assert.equal(out.lease.status, 'REVOKED');
      assert.notEqual(await sqlState(s, 'SELECT 1'), 'allowed', 'the session is terminated');
      await s.end().catch(() => undefined);
      assert.equal(await roleExists(cred.user), false);
    });
  }

  // Found by a second outside probe (N1): RenewLease waited on the role row the lease's own session held,
  // failed as unavailable, and five such failures opened the backend's breaker for every agent.
  it('a lease role with an open transaction on its own role row does not fail its renewal, nor count against the backend', async () => {
    const { lease, cred } = await grant();
    const s = await holdingOwnRow(pg, cred);
    const renewed = await call<unknown, LeaseResponse__Output>(agent(), 'RenewLease', { leaseId: lease.leaseId, ttlSeconds: 600 });
    assert.equal(renewed.status, 'GRANTED');
    assert.equal(renewed.lease!.status, 'ACTIVE');
    assert.notEqual(await sqlState(s, 'SELECT 1'), 'allowed', 'the session holding the row was ended');
    await s.end().catch(() => undefined);
    const other = await grant();
    await call(agent(), 'RevokeLease', { leaseId: other.lease.leaseId });
    await call(agent(), 'RevokeLease', { leaseId: lease.leaseId });
  });

  it('a lease role holding the role-DDL lock does not stop other leases: the broker ends that session, says so, issues, and revokes the holder\'s lease', async () => {
    const holder = await grant();
    const s = await connectAs(pg, holder.cred);
    await s.query(`SELECT pg_advisory_lock(${DDL_LOCK_KEY})`);
    const started = Date.now();
    // Another agent's: the holder's own agent loses trust meanwhile, which may refuse its grant in flight.
    const other = await grant('analyst-bot');
    assert.ok(Date.now() - started < 5_000, 'issued within the lock wait and a retry');
    assert.equal(await roleExists(other.cred.user), true);
    assert.notEqual(await sqlState(s, 'SELECT 1'), 'allowed', 'the holding session is terminated');
    await s.end().catch(() => undefined);
    assert.match(b().logs.text, new RegExp(`${holder.cred.user}.*role-DDL lock|role-DDL lock.*${holder.cred.user}`), 'the log names the role that held the lock');
    // It cannot come back for the lock (found by a second probe, N3): its lease is revoked by the broker, its
    // role dropped, and its agent's trust lowered (broker.credential_misuse).
    await until('the holder lease is revoked', async () => (await getLease(holder.lease.leaseId)).status === 'REVOKED');
    await assert.rejects(connectAs(pg, holder.cred), /not permitted to log in|password authentication failed/, 'NOLOGIN, or the role is gone');
    await until('its role is dropped', async () => !(await roleExists(holder.cred.user)));
    const all = await entries();
    const revoked = all.find((e) => e.type === 'lease.revoked' && e.lease?.id === holder.lease.leaseId);
    assert.equal(revoked?.['by'], 'broker');
    assert.match(String(revoked?.['reason']), /role-DDL lock/);
    const changes = all.filter((e) => e.type === 'trust.changed');
    assert.equal(changes.length, 1, 'one trust change, once');
    const changed = changes[0]!;
    assert.equal((changed['signal'] as { kind?: string } | undefined)?.kind, 'broker.credential_misuse');
    assert.equal(changed['agent'], 'support-bot', 'the holder\'s agent, not the other lease\'s');
    assert.equal(changed['by'], 'broker');
    const t = changed['trust'] as { old: { score: number }; new: { score: number } };
    assert.equal(t.new.score, t.old.score - 100);
    // The other agent's lease, which never touched the lock, is untouched.
    const analyst = b().clientFor('agents', 'analyst-bot').agent;
    assert.equal((await call<unknown, Lease__Output>(analyst, 'GetLease', { leaseId: other.lease.leaseId })).status, 'ACTIVE');
    await call(analyst, 'RevokeLease', { leaseId: other.lease.leaseId });
  });

  // Found by a third outside probe (P2): a lease role that takes the key and lets it go just before lock_timeout
  // (500 ms here), again and again, slowed every role change on the server and was never found. It holds 150 ms here.
  it('a lease role that takes the role-DDL lock and lets it go before lock_timeout, in a loop, is found while a role change waits', async () => {
    const holder = await grant();
    const s = await connectAs(pg, holder.cred);
    let pulses = 0;
    const pulsing = (async () => {
      for (;;) {
        await s.query(`SELECT pg_advisory_lock(${DDL_LOCK_KEY})`);
        pulses += 1;
        await new Promise((r) => setTimeout(r, 150));
        await s.query(`SELECT pg_advisory_unlock(${DDL_LOCK_KEY})`);
      }
    })().catch(() => undefined);
    try {
      await until('the pulse holds the key', () => pulses > 0);
      const other = await grant('analyst-bot');
      await until('the holder lease is revoked', async () => (await getLease(holder.lease.leaseId)).status === 'REVOKED', 10_000);
      await pulsing;
      assert.match(b().logs.text, new RegExp(`lease role ${holder.cred.user} held or awaited the role-DDL lock`));
      await until('its role is dropped', async () => !(await roleExists(holder.cred.user)));
      await call(b().clientFor('agents', 'analyst-bot').agent, 'RevokeLease', { leaseId: other.lease.leaseId });
    } finally {
      await s.end().catch(() => undefined);
    }
  });

  // What is left of P2 (holds shorter than the watchdog's 50 ms) needs a lock no lease role can take at all.
  it('with lock_table, role changes serialize on a table no lease role can lock, and the advisory key held by one holds up nothing', async () => {
    await admin.query('CREATE SCHEMA sb_lock; CREATE TABLE sb_lock.ddl ()');
    try {
      await b().close();
      (rawCfg['backends'] as Record<string, Record<string, unknown>>)['appdb']!['lock_table'] = 'sb_lock.ddl';
      await start();
      const holder = await grant();
      const s = await connectAs(pg, holder.cred);
      try {
        for (const mode of ['ROW EXCLUSIVE', 'SHARE ROW EXCLUSIVE', 'ACCESS EXCLUSIVE']) {
          const got = await sqlState(s, `BEGIN; LOCK TABLE sb_lock.ddl IN ${mode} MODE`);
          await s.query('ROLLBACK');
          assert.equal(got, '42501', `a lease role may not lock it (${mode}): ${got}`);
        }
        await s.query(`SELECT pg_advisory_lock(${DDL_LOCK_KEY})`);
        const other = await grant('analyst-bot');
        // Nobody waited on the key, so nobody went looking: the holder's session and lease are as they were.
        assert.equal(await sqlState(s, 'SELECT 1'), 'allowed');
        assert.equal((await getLease(holder.lease.leaseId)).status, 'ACTIVE');
        assert.match(readFileSync(pg.logFile, 'utf8'), /LOCK TABLE "sb_lock"\."ddl" IN SHARE ROW EXCLUSIVE MODE/);
        await call(b().clientFor('agents', 'analyst-bot').agent, 'RevokeLease', { leaseId: other.lease.leaseId });
        const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: holder.lease.leaseId });
        assert.equal(out.lease.status, 'REVOKED');
        assert.equal(await roleExists(holder.cred.user), false);
      } finally {
        await s.end().catch(() => undefined);
      }
    } finally {
      await b().close();
      broker = undefined;
      await admin.query('DROP SCHEMA sb_lock CASCADE');
    }
  });

  it('a lock_table that does not exist is an error in the log at the first connection, naming what to create', async () => {
    await b().close();
    (rawCfg['backends'] as Record<string, Record<string, unknown>>)['appdb']!['lock_table'] = 'sb_nolock.ddl';
    await start();
    const res = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'analytics.query', ttlSeconds: 300 }).catch((e: unknown) => e);
    assert.match(String((res as Error).message ?? ''), /FAILED_PRECONDITION/);
    await until('the log says the lock table is missing', () => /lock_table sb_nolock\.ddl does not exist/.test(b().logs.text));
  });

  // Found by a third outside probe (P3): two postgres backends of one daemon on one server share the key, and
  // a lease role of one held up the other, which could only name it in its log.
  it('a lease role of another postgres backend on the same server, holding the role-DDL lock, is disabled and its lease revoked', async () => {
    await b().close();
    (rawCfg['backends'] as Record<string, unknown>)['appdb2'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' }, role_prefix: 'sb2_', timeout: '2s' };
    (rawCfg['actions'] as Record<string, unknown>)['analytics.query2'] = { postgres: { backend: 'appdb2', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m' }, resource: 'analytics' };
    writeFileSync(path.join(rawCfg['policies'] as string, 'analytics2.cedar'), `@id("analytics2-support")\npermit (principal in Group::"support", action == Action::"analytics.query2", resource);\n`);
    await start();
    const res = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'analytics.query2', ttlSeconds: 300 });
    assert.equal(res.status, 'GRANTED');
    const c = res.lease!.databaseCredential!;
    assert.match(c.user, /^sb2_[0-9a-f]{32}$/);
    const s = await connectAs(pg, { host: c.host, port: Number(c.port), database: c.database, user: c.user, password: c.password });
    try {
      await s.query(`SELECT pg_advisory_lock(${DDL_LOCK_KEY})`);
      const started = Date.now();
      const other = await grant('analyst-bot');
      assert.ok(Date.now() - started < 5_000, 'appdb issued within the lock wait and a retry');
      assert.notEqual(await sqlState(s, 'SELECT 1'), 'allowed', 'the holding session is terminated');
      await until('the appdb2 lease is revoked', async () => (await getLease(res.lease!.leaseId)).status === 'REVOKED');
      await until('its role is dropped', async () => !(await roleExists(c.user)));
      assert.match(b().logs.text, new RegExp(`lease role ${c.user} held or awaited the role-DDL lock of another backend`));
      await call(b().clientFor('agents', 'analyst-bot').agent, 'RevokeLease', { leaseId: other.lease.leaseId });
    } finally {
      await s.end().catch(() => undefined);
    }
  });

  // Found by a third outside probe (P1): a prepared transaction holds its locks with no session to end.
  async function preparing(cred: Parameters<typeof connectAs>[1], gid: string, ...sql: string[]): Promise<void> {
    const s = await connectAs(pg, cred);
    try {
      await s.query('BEGIN');
      for (const q of sql) await s.query(q);
      await s.query(`PREPARE TRANSACTION '${gid}'`);
    } finally {
      await s.end();
    }
  }
  const prepared = async (gid: string): Promise<boolean> => (await admin.query('SELECT 1 FROM pg_prepared_xacts WHERE gid = $1', [gid])).rowCount === 1;
  const rollBackLeftovers = async (gid: string): Promise<void> => {
    if (await prepared(gid)) await admin.query(`ROLLBACK PREPARED '${gid}'`);
  };

  // The second was found in review: the prepared transaction also locks the role's own pg_authid row, so NOLOGIN waits on it.
  const preparedHolds: Array<[string, string, string[]]> = [
    ['the role-DDL lock', 'sbtest_px1', [`SELECT pg_advisory_xact_lock(${DDL_LOCK_KEY})`]],
    ['the role-DDL lock and its own role row', 'sbtest_px3', [`ALTER ROLE CURRENT_USER PASSWORD 'not-the-lease-password'`, `SELECT pg_advisory_xact_lock(${DDL_LOCK_KEY})`]],
  ];
  for (const [what, gid, sql] of preparedHolds) {
    it(`a lease role holding ${what} in a prepared transaction does not stop other leases: the broker rolls it back and revokes the holder's lease`, async () => {
      const holder = await grant();
      try {
        await preparing(holder.cred, gid, ...sql);
        const started = Date.now();
        const other = await grant('analyst-bot');
        assert.ok(Date.now() - started < 5_000, 'issued within the lock wait and a retry');
        assert.equal(await prepared(gid), false, 'the prepared transaction is rolled back');
        assert.match(b().logs.text, new RegExp(`rolled back a prepared transaction of lease role ${holder.cred.user}`));
        await until('the holder lease is revoked', async () => (await getLease(holder.lease.leaseId)).status === 'REVOKED');
        await until('its role is dropped', async () => !(await roleExists(holder.cred.user)));
        await call(b().clientFor('agents', 'analyst-bot').agent, 'RevokeLease', { leaseId: other.lease.leaseId });
      } finally {
        await rollBackLeftovers(gid);
      }
    });
  }

  it('a revocation is not held off by a prepared transaction of the role on its own role row', async () => {
    const { lease, cred } = await grant();
    try {
      await preparing(cred, 'sbtest_px4', `ALTER ROLE CURRENT_USER PASSWORD 'not-the-lease-password'`);
      const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId });
      assert.equal(out.lease.status, 'REVOKED');
      assert.equal(await prepared('sbtest_px4'), false);
      assert.equal(await roleExists(cred.user), false);
    } finally {
      await rollBackLeftovers('sbtest_px4');
    }
  });

  it('a lease role\'s prepared transaction does not outlive its revocation: it is rolled back before the role is dropped', async () => {
    const { lease, cred } = await grant();
    try {
      await preparing(cred, 'sbtest_px2', 'SELECT pg_advisory_xact_lock(42)');
      const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId });
      assert.equal(out.lease.status, 'REVOKED');
      assert.equal(await prepared('sbtest_px2'), false, 'no prepared transaction (and its locks) left without an owner');
      assert.equal(await roleExists(cred.user), false);
    } finally {
      await rollBackLeftovers('sbtest_px2');
    }
  });

  it('an expired lease ends its session and drops its role', async () => {
    const { cred } = await grant();
    const s = await connectAs(pg, cred);
    clock.advance(301_000);
    await until('the role is dropped', async () => !(await roleExists(cred.user)));
    assert.notEqual(await sqlState(s, 'SELECT 1'), 'allowed', 'the open session is terminated');
    await s.end().catch(() => undefined);
    await assert.rejects(connectAs(pg, cred));
  });

  it('no password in the server log, the broker log, the state store or the evidence', async () => {
    const { lease, cred } = await grant();
    await call(agent(), 'RevokeLease', { leaseId: lease.leaseId });
    const serverLog = readFileSync(pg.logFile, 'utf8');
    assert.match(serverLog, new RegExp(`CREATE ROLE "${cred.user}" WITH LOGIN`), 'the server logs statements');
    assert.equal(serverLog.includes(cred.password), false, 'server log');
    assert.equal(b().logs.text.includes(cred.password), false, 'broker log');
    assert.ok(b().logs.text.includes(lease.leaseId), 'the broker log was captured');
    assert.equal(JSON.stringify(await entries()).includes(cred.password), false, 'evidence');
    for (const f of ['broker.db', 'broker.db-wal']) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(path.join(dir, f));
      } catch {
        continue;
      }
      assert.equal(bytes.includes(Buffer.from(cred.password)), false, f);
      assert.equal(bytes.includes(Buffer.from(pg.password)), false, `${f}: the admin password`);
    }
    assert.equal(b().logs.text.includes(pg.password), false, 'the admin password is not logged');
  });

  it('a broker stopped after recording and creating a role, before the lease was stored, leaves an orphan the next start drops; an unrecorded role with the prefix goes too, a leased one stays', async () => {
    const leased = await grant();
    // What a crash between create and storing the lease leaves: a pending row naming a role that exists upstream.
    const creator = openPostgresBackend(b().config.backends['appdb'] as PostgresBackendConfig, { clock, log: createLogger({ level: 'silent' }), adminUrl: async () => SecretValue.fromString(pg.adminUrl) });
    const spec = { grants: [{ privilege: 'SELECT' as const, schema: 'analytics' }], connectionLimit: 2, statementTimeoutMs: 1000 };
    const binding = { leaseId: 'lease-that-never-was', agent: 'support-bot', action: 'analytics.query', resource: 'analytics', expiresAt: clock.now() + 300_000, maxExpiresAt: clock.now() + 900_000 };
    const planned = creator.plan(spec, binding);
    await b().app.store.insertPendingCredential({ handle: planned, leaseId: binding.leaseId, createdAt: clock.now() });
    const orphan = await creator.create(spec, binding, planned);
    const session = await connectAs(pg, { host: pg.host, port: pg.port, database: pg.database, user: orphan.credential.user, password: orphan.credential.password.revealString() });
    // And one nothing recorded at all (a crash before the pending row existed is impossible; a foreign broker's, say).
    const stray = await creator.create(spec, { ...binding, leaseId: 'stray' });
    await creator.close();
    await broker!.close();
    broker = undefined;
    assert.equal(await roleExists(orphan.handle.id), true, 'the role outlived the broker');

    await start();
    assert.equal(await roleExists(orphan.handle.id), false, 'the next start dropped the recorded orphan');
    assert.equal(await roleExists(stray.handle.id), false, 'and the unrecorded one with the prefix');
    assert.equal(await roleExists(leased.cred.user), true, 'a leased role is never swept');
    assert.notEqual(await sqlState(session, 'SELECT 1'), 'allowed', 'the orphan\'s session is terminated');
    await session.end().catch(() => undefined);
    const swept = (await entries()).filter((e) => e.type === 'credential.revoked' && e['by'] === 'sweeper').map((e) => (e['credential'] as { id: string }).id);
    assert.deepEqual(new Set(swept), new Set([orphan.handle.id, stray.handle.id]));
    assert.deepEqual(await b().app.store.listPendingCredentials('appdb', 10), []);
  });

  it('a stopped PostgreSQL: RequestLease is UNAVAILABLE, revocations queue as REVOKE_FAILED, and all complete when it returns, without a restart', async () => {
    const one = await grant();
    const two = await grant();
    await pg.stop();
    try {
      await expectCode(call(agent(), 'RequestLease', { action: 'analytics.query' }), grpc.status.UNAVAILABLE, /backend appdb is unavailable/);
      for (const l of [one, two]) {
        const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: l.lease.leaseId });
        assert.equal(out.lease.status, 'REVOKE_FAILED');
      }
      const listed = await call<unknown, { leases: Lease__Output[] }>(operator(), 'ListLeases', { status: ['REVOKE_FAILED'] });
      assert.deepEqual(new Set(listed.leases.map((l) => l.leaseId)), new Set([one.lease.leaseId, two.lease.leaseId]));
    } finally {
      await restartPostgres();
    }
    await until('both revocations complete', async () => {
      clock.advance(1_000);
      return (await getLease(one.lease.leaseId)).status === 'REVOKED' && (await getLease(two.lease.leaseId)).status === 'REVOKED';
    });
    assert.equal(await roleExists(one.cred.user), false);
    assert.equal(await roleExists(two.cred.user), false);
    // And new leases work again.
    const three = await grant();
    assert.equal(await roleExists(three.cred.user), true);
  });

  it('F3: once PostgreSQL returns, a revocation owed from the outage drops the role within seconds, not at its next backoff slot', async () => {
    // The first retry is due 10 minutes after the failure: only the probe of the returned backend can beat it.
    await b().close();
    await start({ minDelayMs: 600_000, probeMs: 1_000 });
    const { lease, cred } = await grant();
    const failedAt = clock.now();
    await pg.stop();
    try {
      const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId });
      assert.equal(out.lease.status, 'REVOKE_FAILED');
      // The outage lasts (up to 20 s of the broker's clock) until a probe finds the backend down.
      for (let i = 0; i < 40 && !/backend still unreachable/.test(b().logs.text); i++) {
        clock.advance(500);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal((await getLease(lease.leaseId)).status, 'REVOKE_FAILED');
    } finally {
      await restartPostgres();
    }
    assert.equal(await roleExists(cred.user), true, 'the revoked role outlived the outage');
    const back = Date.now();
    await until('the role is dropped', async () => {
      clock.advance(500);
      await new Promise((r) => setTimeout(r, 100));
      return !(await roleExists(cred.user));
    }, 10_000);
    assert.ok(Date.now() - back < 10_000, 'within seconds of PostgreSQL returning');
    assert.ok(clock.now() - failedAt < 600_000, 'well before the backoff slot');
    assert.match(b().logs.text, /backend reachable again: retrying the revocations owed on it now/);
    await assert.rejects(connectAs(pg, cred), /password authentication failed|does not exist/);
    assert.equal((await getLease(lease.leaseId)).status, 'REVOKED');
    assert.equal((await entries()).filter((e) => e.type === 'credential.revoked' && e.lease?.id === lease.leaseId).length, 1);
  });

  // F3: a retry of a REVOKE_FAILED lease; N1 (a second outside probe): a revocation of an ACTIVE lease, which
  // answered REVOKE_FAILED at once while the breaker was open, and the credential kept working until it closed.
  const revokeAs = async (who: 'agent RevokeLease' | 'operator RevokeLeases', leaseId: string): Promise<string> =>
    who === 'agent RevokeLease'
      ? (await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId })).lease.status
      : (await call<unknown, { revoked: Lease__Output[] }>(operator(), 'RevokeLeases', { leaseId, reason: 'trial' })).revoked.map((l) => l.status).join();
  for (const state of ['ACTIVE', 'REVOKE_FAILED'] as const) {
    for (const who of ['agent RevokeLease', 'operator RevokeLeases'] as const) {
      it(`an ${who} of an ${state} lease right after PostgreSQL returns drops the role, though the breaker is still open (a trial call)`, async () => {
        await b().close();
        await start({ minDelayMs: 600_000 });
        const { lease, cred } = await grant();
        await pg.stop();
        try {
          if (state === 'REVOKE_FAILED') assert.equal(await revokeAs('agent RevokeLease', lease.leaseId), 'REVOKE_FAILED');
          // Failures open the breaker (failures: 2); the clock stands still, so it stays open.
          for (let i = state === 'REVOKE_FAILED' ? 1 : 0; i < 2; i++) {
            await expectCode(call(agent(), 'RequestLease', { action: 'analytics.query' }), grpc.status.UNAVAILABLE, /backend appdb is unavailable/);
          }
        } finally {
          await restartPostgres();
        }
        assert.deepEqual(b().app.backends.breakerStates().find((s) => s.backend === 'appdb')?.state, 'open');
        assert.equal(await revokeAs(who, lease.leaseId), 'REVOKED');
        assert.equal(await roleExists(cred.user), false);
        await assert.rejects(connectAs(pg, cred), /password authentication failed|does not exist/);
        assert.deepEqual(b().app.backends.breakerStates().find((s) => s.backend === 'appdb')?.state, 'closed', 'the trial closed the circuit');
      });
    }
  }
});
