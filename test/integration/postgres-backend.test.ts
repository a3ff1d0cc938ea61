import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { PassThrough } from 'node:stream';
import { Client as PgClient } from 'pg';
import { CredentialLeftError, type CredentialHandle, type IssuedCredential, type LeaseBinding } from '../../src/backends/backend';
import { openPostgresBackend, preparePostgresSecret, type PostgresBackend, type PostgresSpec } from '../../src/backends/postgres';
import { DDL_LOCK_KEY } from '../../src/backends/postgres/role-sql';
import type { PostgresBackendConfig } from '../../src/config/config-types';
import { ManualClock } from '../../src/lib/clock';
import { BrokerError } from '../../src/lib/errors';
import { createLogger } from '../../src/lib/logger';
import { SecretValue } from '../../src/lib/secret-value';
import { startEphemeralPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { until } from '../helpers/until';

/**
 * The postgres backend against a real, private PostgreSQL cluster that logs every
 * statement (log_statement = all): what a lease's role may and may not do, its
 * attributes as pg_roles shows them, revocation ending sessions, no password in any
 * log, and a stopped server.
 */
const SPEC: PostgresSpec = {
  grants: [
    { privilege: 'SELECT', schema: 'analytics' },
    { privilege: 'UPDATE', schema: 'billing', table: 'invoices' },
  ],
  connectionLimit: 3,
  statementTimeoutMs: 12_000,
};

function cfg(over: Partial<PostgresBackendConfig> = {}): PostgresBackendConfig {
  return { kind: 'postgres', name: 'appdb', urlSecret: { backend: 'local', name: 'appdb-admin' }, rolePrefix: 'sb_', cacheTtlMs: 0, timeoutMs: 3000, breakerFailures: 5, breakerOpenMs: 1000, maxLeaseConnections: 100_000, ...over };
}

async function connectAs(pg: EphemeralPostgres, user: string, password: string): Promise<PgClient> {
  const c = new PgClient({ host: pg.host, port: pg.port, database: pg.database, user, password, connectionTimeoutMillis: 5000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function refused(c: PgClient, sql: string): Promise<string> {
  try {
    await c.query(sql);
  } catch (e) {
    return (e as { code?: string }).code ?? 'error';
  }
  assert.fail(`expected PostgreSQL to refuse: ${sql}`);
}

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof BrokerError, `a BrokerError, got ${String(e)}`);
    return e.kind;
  }
  return 'resolved';
}

describe('postgres backend against a real PostgreSQL (log_statement = all)', function () {
  this.timeout(120_000);
  let pg: EphemeralPostgres;
  let admin: PgClient;
  let clock: ManualClock;
  let logs: string;
  let backend: PostgresBackend;
  let adminUrl: string;
  let urlReads: number;
  const issued: IssuedCredential[] = [];

  const lease = (over: Partial<LeaseBinding> = {}): LeaseBinding => ({
    leaseId: 'l1',
    agent: 'support-bot',
    action: 'analytics.query',
    resource: 'analytics',
    expiresAt: clock.now() + 300_000,
    maxExpiresAt: clock.now() + 900_000,
    ...over,
  });
  const open = (over: Partial<PostgresBackendConfig> = {}): PostgresBackend => {
    const out = new PassThrough();
    out.on('data', (d: Buffer) => (logs += d.toString('utf8')));
    return openPostgresBackend(cfg(over), {
      clock,
      log: createLogger({ level: 'debug', destination: out }),
      adminUrl: async () => {
        urlReads++;
        return SecretValue.fromString(adminUrl);
      },
    });
  };
  const issue = async (b = backend, l = lease()): Promise<IssuedCredential> => {
    const c = await b.create(SPEC, l, b.plan(SPEC, l));
    issued.push(c);
    return c;
  };

  before(async () => {
    pg = await startEphemeralPostgres({ settings: ["log_statement = 'all'", "log_min_messages = 'info'"] });
    admin = await connectAs(pg, pg.superuser, pg.password);
    await admin.query(`CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int, what text); INSERT INTO analytics.events VALUES (1, 'signup');
                       CREATE SCHEMA billing; CREATE TABLE billing.invoices (id int, paid bool); CREATE TABLE billing.cards (id int, pan text);
                       INSERT INTO billing.invoices VALUES (7, false);`);
  });
  after(async () => {
    await admin?.end().catch(() => undefined);
    await pg?.close();
  });
  beforeEach(() => {
    clock = new ManualClock(Date.now());
    logs = '';
    urlReads = 0;
    adminUrl = pg.adminUrl;
    backend = open();
  });
  afterEach(async () => {
    await backend.close();
  });

  it('issues a role that can do what its grants allow and nothing else', async () => {
    const c = await issue();
    assert.equal(c.credential.user, c.handle.id);
    assert.match(c.handle.id, /^sb_[0-9a-f]{32}$/);
    assert.deepEqual({ ...c.credential, password: undefined }, { kind: 'database', host: '127.0.0.1', port: pg.port, database: pg.database, user: c.handle.id, password: undefined });
    assert.deepEqual(c.details, { role: c.handle.id, grants: [{ privilege: 'SELECT', schema: 'analytics' }, { privilege: 'UPDATE', schema: 'billing', table: 'invoices' }] });
    assert.equal(JSON.stringify(c.details).includes(c.credential.password.revealString()), false);
    const s = await connectAs(pg, c.credential.user, c.credential.password.revealString());
    try {
      assert.deepEqual((await s.query('SELECT id, what FROM analytics.events')).rows, [{ id: 1, what: 'signup' }]);
      assert.equal((await s.query('UPDATE billing.invoices SET paid = true')).rowCount, 1);
      assert.equal(await refused(s, "INSERT INTO analytics.events VALUES (2, 'x')"), '42501');
      assert.equal(await refused(s, 'SELECT * FROM billing.invoices'), '42501', 'UPDATE only, not SELECT');
      assert.equal(await refused(s, 'SELECT * FROM billing.cards'), '42501', 'another table of the schema');
      assert.equal(await refused(s, 'CREATE TABLE analytics.mine (x int)'), '42501');
      assert.equal(await refused(s, 'CREATE TABLE public.mine (x int)'), '42501');
      assert.equal(await refused(s, `SET ROLE ${pg.superuser}`), '42501');
      assert.equal(await refused(s, 'CREATE ROLE evil LOGIN'), '42501');
      assert.deepEqual((await s.query('SHOW statement_timeout')).rows, [{ statement_timeout: '12s' }], 'the default statement_timeout');
    } finally {
      await s.end();
    }
  });

  it('a prepared secret is the credential\'s password, used once; a discarded one or another backend\'s is not used', async () => {
    const l = lease();
    const prepared = backend.prepare(SPEC);
    const c = await backend.create(SPEC, l, backend.plan(SPEC, l), prepared);
    issued.push(c);
    await (await connectAs(pg, c.credential.user, c.credential.password.revealString())).end();
    prepared.discard(); // once taken, a discard does nothing: the lease's password is not wiped
    await (await connectAs(pg, c.credential.user, c.credential.password.revealString())).end();
    const again = await issue(backend, lease());
    assert.notEqual(again.credential.password.revealString(), c.credential.password.revealString());

    // Taken already, discarded, or made by another backend: create makes its own password, which works.
    for (const p of [prepared, (() => { const d = backend.prepare(SPEC); d.discard(); return d; })(), preparePostgresSecret({ name: 'other' })]) {
      const lx = lease();
      const cx = await backend.create(SPEC, lx, backend.plan(SPEC, lx), p);
      issued.push(cx);
      assert.notEqual(cx.credential.password.revealString(), c.credential.password.revealString());
      const sx = await connectAs(pg, cx.credential.user, cx.credential.password.revealString());
      await sx.end();
    }
  });

  it('sets the attributes, connection limit, VALID UNTIL and statement_timeout PostgreSQL shows in pg_roles', async () => {
    const l = lease();
    const c = await issue(backend, l);
    const r = (
      await admin.query(
        `SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolinherit, rolreplication, rolbypassrls, rolconnlimit,
                extract(epoch FROM rolvaliduntil) * 1000 AS until, rolconfig,
                (SELECT count(*) FROM pg_auth_members WHERE member = r.oid) AS memberships
           FROM pg_roles r WHERE rolname = $1`,
        [c.handle.id],
      )
    ).rows[0];
    assert.deepEqual(
      { ...r, until: Math.round(Number(r.until)) },
      {
        rolcanlogin: true,
        rolsuper: false,
        rolcreatedb: false,
        rolcreaterole: false,
        rolinherit: false,
        rolreplication: false,
        rolbypassrls: false,
        rolconnlimit: 3,
        until: l.expiresAt,
        rolconfig: ['statement_timeout=12000'],
        memberships: '0',
      },
    );
    const grantable = await admin.query(`SELECT count(*)::int AS n FROM information_schema.role_table_grants WHERE grantee = $1 AND is_grantable = 'YES'`, [c.handle.id]);
    assert.equal(grantable.rows[0].n, 0, 'never WITH GRANT OPTION');
    // The stored verifier is SCRAM-SHA-256 (and the password logs in, so it is the right one).
    const pw = await admin.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [c.handle.id]);
    assert.match(pw.rows[0]!.p, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    const s = await connectAs(pg, c.credential.user, c.credential.password.revealString());
    await s.end();
  });

  it('renew moves VALID UNTIL, never past the max TTL', async () => {
    const l = lease();
    const c = await issue(backend, l);
    const until = async (): Promise<number> => Math.round(Number((await admin.query('SELECT extract(epoch FROM rolvaliduntil) * 1000 AS u FROM pg_roles WHERE rolname = $1', [c.handle.id])).rows[0].u));
    assert.deepEqual(await backend.renew(c.handle, { leaseId: 'l1', expiresAt: l.expiresAt + 60_000, maxExpiresAt: l.maxExpiresAt }), { expiresAt: l.expiresAt + 60_000 });
    assert.equal(await until(), l.expiresAt + 60_000);
    assert.deepEqual(await backend.renew(c.handle, { leaseId: 'l1', expiresAt: l.maxExpiresAt + 3_600_000, maxExpiresAt: l.maxExpiresAt }), { expiresAt: l.maxExpiresAt });
    assert.equal(await until(), l.maxExpiresAt);
  });

  it('revoke ends open sessions, drops the role, and is idempotent; a revoked login fails', async () => {
    const c = await issue();
    const password = c.credential.password.revealString();
    const s = await connectAs(pg, c.credential.user, password);
    await s.query('SELECT 1 FROM analytics.events');
    await backend.revoke(c.handle);
    assert.ok(await refused(s, 'SELECT 1 FROM analytics.events'), 'the open session is terminated');
    await s.end().catch(() => undefined);
    assert.equal((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [c.handle.id])).rowCount, 0);
    await assert.rejects(connectAs(pg, c.credential.user, password));
    await backend.revoke(c.handle);
  });

  it('revokeMany drops many roles in one round and counts an already-missing role as gone', async () => {
    const cs = [await issue(), await issue(), await issue()];
    const sessions = await Promise.all(cs.map((c) => connectAs(pg, c.credential.user, c.credential.password.revealString())));
    const missing: CredentialHandle = backend.plan(SPEC, lease());
    const gone = await backend.revokeMany([...cs.map((c) => c.handle), missing]);
    assert.deepEqual(new Set(gone), new Set([...cs.map((c) => c.handle.id), missing.id]));
    for (const s of sessions) {
      assert.ok(await refused(s, 'SELECT 1'));
      await s.end().catch(() => undefined);
    }
    assert.equal((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = ANY($1)', [cs.map((c) => c.handle.id)])).rowCount, 0);
  });

  it('a large revokeMany revokes the shared grants once per object first; a small one goes straight to DROP OWNED; both leave nothing', async () => {
    const count = (roles: readonly string[]): number =>
      readFileSync(pg.logFile, 'utf8')
        .split('statement: ') // one logged statement string each, with its newlines
        .filter((l) => l.includes('$sb_revoke$') && roles.some((r) => l.includes(r))).length;
    const small = await Promise.all(Array.from({ length: 3 }, () => issue()));
    const large = await Promise.all(Array.from({ length: 20 }, () => issue()));
    const ids = (cs: typeof small): string[] => cs.map((c) => c.handle.id);
    const oids = (await admin.query<{ oid: number }>('SELECT oid FROM pg_roles WHERE rolname = ANY($1)', [[...ids(small), ...ids(large)]])).rows.map((r) => r.oid);
    assert.equal(oids.length, 23);
    const held = async (): Promise<number> => (await admin.query('SELECT 1 FROM pg_shdepend WHERE refobjid = ANY($1::oid[])', [oids])).rowCount ?? 0;
    assert.ok((await held()) > 0, 'before: the roles hold privileges (pg_shdepend names them)');
    assert.deepEqual(new Set(await backend.revokeMany(small.map((c) => c.handle))), new Set(ids(small)));
    assert.deepEqual(new Set(await backend.revokeMany(large.map((c) => c.handle))), new Set(ids(large)));
    assert.equal(count(ids(small)), 0, 'below the threshold no DO block is planned');
    assert.ok(count(ids(large)) > 0, 'the large batch revoked shared grants in one block');
    const left = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = ANY($1)', [[...ids(small), ...ids(large)]]);
    assert.equal(left.rowCount, 0);
    // Nothing of theirs is left in any ACL either (pg_shdepend would still name their oids).
    assert.equal(await held(), 0);
  });

  // Found by an outside probe (N2): a lease role could keep a large object of another lease role locked
  // (granted to it by that role) from an open transaction, and the whole batch failed with the one role.
  it('a role whose drop waits on a lock another session holds fails alone: the rest of the batch is dropped', async () => {
    const [a, b2, c] = await Promise.all([issue(), issue(), issue()]);
    const [ra, rb, rc] = [a!.handle.id, b2!.handle.id, c!.handle.id];
    const asA = new PgClient({ host: pg.host, port: pg.port, database: pg.database, user: ra, password: a!.credential.password.revealString() });
    const asB = new PgClient({ host: pg.host, port: pg.port, database: pg.database, user: rb, password: b2!.credential.password.revealString() });
    for (const x of [asA, asB]) x.on('error', () => undefined);
    await asA.connect();
    await asB.connect();
    const oid = (await asA.query<{ oid: number }>(`SELECT lo_from_bytea(0, 'owned by a') AS oid`)).rows[0]!.oid;
    await asA.query(`GRANT SELECT, UPDATE ON LARGE OBJECT ${oid} TO "${rb}"`);
    await asA.end();
    await asB.query('BEGIN');
    await asB.query(`SELECT lo_put(${oid}, 0, '\\x58')`);
    try {
      const gone = await backend.revokeMany([a!.handle, c!.handle]);
      assert.deepEqual(gone, [rc], 'the role whose drop waited is not gone; the other is');
      const left = (await admin.query<{ rolname: string; rolcanlogin: boolean }>('SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = ANY($1)', [[ra, rc]])).rows;
      assert.deepEqual(left, [{ rolname: ra, rolcanlogin: false }], 'a cannot log in any more');
    } finally {
      await asB.end().catch(() => undefined);
    }
    assert.deepEqual(new Set(await backend.revokeMany([a!.handle, b2!.handle])), new Set([ra, rb]));
  });

  it('a batch whose drops all wait on the role-DDL key held by another session gives up after two one-by-one drops, not one lock_timeout per role', async () => {
    const made = await Promise.all(Array.from({ length: 8 }, () => issue()));
    const holder = new PgClient({ connectionString: pg.adminUrl });
    holder.on('error', () => undefined);
    await holder.connect();
    await holder.query(`SELECT pg_advisory_lock(${DDL_LOCK_KEY})`);
    const started = Date.now();
    try {
      assert.deepEqual(await backend.revokeMany(made.map((m) => m.handle)), []);
      // lock_timeout is 750 ms here: the batch and two single drops, not the batch and eight.
      assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
    } finally {
      await holder.end();
    }
    assert.equal((await backend.revokeMany(made.map((m) => m.handle))).length, 8);
  });

  it('concurrent creates and revokes on the same database, schema and tables all succeed (no "tuple concurrently updated")', async () => {
    const ls = Array.from({ length: 16 }, (_, i) => lease({ leaseId: `c${i}` }));
    const made = await Promise.all(ls.map((l) => backend.create(SPEC, l, backend.plan(SPEC, l))));
    assert.equal(made.length, 16);
    await Promise.all(made.map((c) => backend.revoke(c.handle)));
    const left = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = ANY($1)', [made.map((c) => c.handle.id)]);
    assert.equal(left.rowCount, 0);
  });

  it('creates that arrive together go in one round: each role gets exactly its own grants, and a bad spec fails alone', async () => {
    const onlyEvents: PostgresSpec = { grants: [{ privilege: 'SELECT', schema: 'analytics', table: 'events' }], connectionLimit: 1, statementTimeoutMs: 5000 };
    const bad: PostgresSpec = { grants: [{ privilege: 'SELECT', schema: 'analytics', table: 'nope' }], connectionLimit: 2, statementTimeoutMs: 5000 };
    const specs = [SPEC, onlyEvents, SPEC, bad, onlyEvents, SPEC];
    const ls = specs.map((_, i) => lease({ leaseId: `b${i}` }));
    const handles = specs.map((sp, i) => backend.plan(sp, ls[i]!));
    const out = await Promise.allSettled(specs.map((sp, i) => backend.create(sp, ls[i]!, handles[i])));
    assert.deepEqual(out.map((o) => o.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.equal(await kindOf(Promise.reject((out[3] as PromiseRejectedResult).reason)), 'failed_precondition');
    const roles = handles.map((h) => h.id);
    try {
      const rows = await admin.query<{ rolname: string; rolconnlimit: number; upd: boolean; sel_events: boolean }>(
        `SELECT rolname::text, rolconnlimit,
                has_table_privilege(rolname, 'billing.invoices', 'UPDATE') AS upd,
                has_table_privilege(rolname, 'analytics.events', 'SELECT') AS sel_events
           FROM pg_roles WHERE rolname = ANY($1)`,
        [roles],
      );
      const by = new Map(rows.rows.map((r) => [r.rolname, r]));
      assert.equal(by.has(roles[3]!), false, 'the bad spec left no role');
      for (const i of [0, 2, 5]) assert.deepEqual({ ...by.get(roles[i]!), rolname: i }, { rolname: i, rolconnlimit: 3, upd: true, sel_events: true });
      // The narrow spec got SELECT on one table only, not the UPDATE its neighbours in the round got.
      for (const i of [1, 4]) assert.deepEqual({ ...by.get(roles[i]!), rolname: i }, { rolname: i, rolconnlimit: 1, upd: false, sel_events: true });
      // And they did share a round: one GRANT named several of them (the server log has every statement).
      const grantsToMany = readFileSync(pg.logFile, 'utf8').split('\n').filter((l) => /GRANT CONNECT ON DATABASE/.test(l) && roles.filter((r) => l.includes(r)).length > 1);
      assert.ok(grantsToMany.length > 0, 'some creates went in one round');
    } finally {
      await Promise.all(out.flatMap((o) => (o.status === 'fulfilled' ? [backend.revoke(o.value.handle)] : [])));
    }
  });

  it('listIssued lists only roles with exactly its prefix (LIKE wildcards escaped), never others', async () => {
    const b = open({ rolePrefix: 'sb_x_' });
    try {
      const mine = await b.create(SPEC, lease(), b.plan(SPEC, lease()));
      // "sbaxa…" matches the unescaped LIKE pattern sb_x_%; "sb_x_admin" has the prefix but not our suffix.
      const lookalike = `sbaxa${'0'.repeat(32)}`;
      await admin.query(`CREATE ROLE ${lookalike}; CREATE ROLE sb_x_admin`);
      try {
        const listed = (await b.listIssued()).map((h) => h.id);
        assert.deepEqual(listed, [mine.handle.id]);
      } finally {
        await admin.query(`DROP ROLE ${lookalike}; DROP ROLE sb_x_admin`);
        await b.revoke(mine.handle);
      }
      assert.deepEqual(await b.listIssued(), []);
    } finally {
      await b.close();
    }
  });

  it('refuses a handle that is not one of its role names (never drops an arbitrary role)', async () => {
    assert.equal(await kindOf(backend.revoke({ backend: 'appdb', id: pg.superuser })), 'invalid_argument');
    assert.equal(await kindOf(backend.revoke({ backend: 'other', id: backend.plan(SPEC, lease()).id })), 'invalid_argument');
    assert.equal(await kindOf(backend.create(SPEC, lease(), { backend: 'appdb', id: 'sb_"; DROP ROLE postgres; --' })), 'invalid_argument');
  });

  it('a grant on a missing table fails the create as failed_precondition and leaves no role behind', async () => {
    const l = lease();
    const h = backend.plan(SPEC, l);
    const err = await backend.create({ ...SPEC, grants: [{ privilege: 'SELECT', schema: 'analytics', table: 'nope' }] }, l, h).then(
      () => assert.fail('created'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof BrokerError && err.kind === 'failed_precondition', String(err));
    assert.equal(CredentialLeftError.handleIn(err), undefined);
    assert.doesNotMatch(err.message, /nope|does not exist|relation/, 'no SQL error text in the message');
    assert.equal((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [h.id])).rowCount, 0);
    await assert.rejects(backend.validate({ ...SPEC, grants: [{ privilege: 'SELECT', schema: 'nowhere' }] }), /schema nowhere does not exist/);
    await backend.validate(SPEC);
  });

  it('warns once in the log when PUBLIC may CONNECT to other databases or create TEMP tables here', async () => {
    await backend.health();
    await new Promise((r) => setTimeout(r, 200));
    assert.match(logs, /PUBLIC may CONNECT to other databases \(template1\)/);
    assert.match(logs, /PUBLIC may create TEMP tables in postgres/);
    await admin.query(`REVOKE CONNECT ON DATABASE template1 FROM PUBLIC; REVOKE TEMP ON DATABASE postgres FROM PUBLIC`);
    try {
      const b = open();
      logs = '';
      await b.health();
      await new Promise((r) => setTimeout(r, 200));
      await b.close();
      assert.doesNotMatch(logs, /PUBLIC may/);
    } finally {
      await admin.query(`GRANT CONNECT ON DATABASE template1 TO PUBLIC; GRANT TEMP ON DATABASE postgres TO PUBLIC`);
    }
  });

  it('warns once in the log when the admin login is a superuser (F4); a CREATEROLE login that is not gets no such warning', async () => {
    await backend.health();
    await until('the superuser warning is logged', () => /admin login/.test(logs), 5000);
    assert.match(logs, new RegExp(`admin login ${pg.superuser} is a superuser.*CREATEROLE login that is not a superuser`));
    assert.equal(logs.split('is a superuser').length - 1, 1, 'once');
    await backend.health();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(logs.split('is a superuser').length - 1, 1, 'still once');
    const pw = `adm-${Math.random().toString(36).slice(2)}`;
    await admin.query(`CREATE ROLE sb_notsuper LOGIN CREATEROLE PASSWORD '${pw}'`);
    adminUrl = `postgres://sb_notsuper:${pw}@127.0.0.1:${pg.port}/${pg.database}`;
    const b = open();
    try {
      logs = '';
      await b.health();
      await until('the PUBLIC warnings (the same check) are logged', () => /PUBLIC may/.test(logs), 5000);
      assert.doesNotMatch(logs, /superuser/);
      assert.doesNotMatch(logs, new RegExp(pw), 'no password in the log');
    } finally {
      await b.close();
      await admin.query(`DROP ROLE sb_notsuper`);
    }
  });

  it('reads the admin URL again after an authentication failure (a rotated admin password)', async () => {
    await backend.health();
    const before = urlReads;
    const next = 'rotated-' + Math.random().toString(36).slice(2);
    await admin.query(`CREATE ROLE sbadmin LOGIN CREATEROLE PASSWORD '${next}'`);
    try {
      adminUrl = `postgres://sbadmin:wrong@127.0.0.1:${pg.port}/${pg.database}`;
      const b = open();
      assert.equal(await kindOf(b.health()), 'failed_precondition');
      adminUrl = `postgres://sbadmin:${next}@127.0.0.1:${pg.port}/${pg.database}`;
      await b.health();
      assert.ok(urlReads >= before + 2, 'read again');
      assert.doesNotMatch(logs, new RegExp(next));
      await b.close();
    } finally {
      await admin.query('DROP ROLE sbadmin');
    }
  });

  describe('the current and the pending admin URL (a rotation of the admin password part-way)', () => {
    const ROLE = 'sbrot_admin';
    let current: string;
    let pending: string | undefined;
    let reads: { current: number; pending: number };
    const url = (pw: string): string => `postgres://${ROLE}:${pw}@127.0.0.1:${pg.port}/${pg.database}`;
    const setPassword = (pw: string) => admin.query(`ALTER ROLE ${ROLE} PASSWORD '${pw}'`);
    /** Ends the backend's admin connections (and lets its pool see them go), so its next use opens a new one. */
    const cut = async (): Promise<void> => {
      const sessions = `FROM pg_stat_activity WHERE usename = '${ROLE}' AND application_name = 'secret-broker'`;
      await admin.query(`SELECT pg_terminate_backend(pid) ${sessions}`);
      await until('the admin sessions to end', async () => (await admin.query(`SELECT 1 ${sessions}`)).rowCount === 0);
      await new Promise((r) => setTimeout(r, 100));
    };
    /** Logins the server refused for the admin role so far. */
    const refusals = (): number => readFileSync(pg.logFile, 'utf8').split(`password authentication failed for user "${ROLE}"`).length - 1;
    const openRotating = (): PostgresBackend => {
      const out = new PassThrough();
      out.on('data', (d: Buffer) => (logs += d.toString('utf8')));
      return openPostgresBackend(cfg(), {
        clock,
        log: createLogger({ level: 'debug', destination: out }),
        adminUrl: async (o) => {
          if (o?.pending) {
            reads.pending++;
            if (pending === undefined) throw new BrokerError('failed_precondition', 'no pending admin URL');
            return SecretValue.fromString(pending);
          }
          reads.current++;
          return SecretValue.fromString(current);
        },
      });
    };

    beforeEach(async () => {
      reads = { current: 0, pending: 0 };
      pending = undefined;
      current = url('pw-a');
      await admin.query(`CREATE ROLE ${ROLE} LOGIN SUPERUSER PASSWORD 'pw-a'`);
    });
    afterEach(async () => {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '${ROLE}'; DROP ROLE ${ROLE}`);
    });

    it('uses the pending URL only after the current one was refused, and the current one again at the next refusal: no stale pending login is tried', async () => {
      const b = openRotating();
      try {
        await b.health();
        assert.equal(reads.pending, 0, 'the current URL works: the pending one is not read');
        // ALTERed, not yet current: the current URL is refused, the pending one works.
        await setPassword('pw-b');
        pending = url('pw-b');
        await cut();
        await b.health();
        const pendingReads = reads.pending;
        assert.ok(pendingReads >= 1, 'the pending URL was read');
        // The rotation finished: the new URL is current, no pending one is left; then the next rotation stages one
        // that is not ALTERed yet. The login that works keeps working; the stale pending URL is neither read nor tried.
        current = url('pw-b');
        pending = undefined;
        await cut();
        await b.health();
        pending = url('pw-c');
        const refusedBefore = refusals();
        await cut();
        await b.health();
        await cut();
        await b.listIssued();
        assert.equal(reads.pending, pendingReads, 'the pending URL is not read again while a login works');
        assert.equal(refusals(), refusedBefore, 'no login with the stale pending URL');
        // That rotation completes (ALTERed and made current) while no pending URL is readable: the current one is read afresh.
        await setPassword('pw-c');
        current = url('pw-c');
        pending = undefined;
        await cut();
        const currentReads = reads.current;
        await b.health();
        assert.ok(reads.current > currentReads, 'the current URL was read again');
        // The next ALTER: the current URL is refused again, the pending one works.
        await setPassword('pw-d');
        pending = url('pw-d');
        await cut();
        await b.health();
        assert.ok(reads.pending > pendingReads, 'the pending URL was read again');
        // That one finishes, and the next is ALTERed before this pool (on the old pending URL) opens a connection:
        // refused, then the current URL (not made current yet) refused, then the new pending one, in one call.
        current = url('pw-d');
        pending = undefined;
        await setPassword('pw-e');
        pending = url('pw-e');
        await cut();
        await b.listIssued();
      } finally {
        await b.close();
      }
    });

    it('a pending admin URL that does not parse is skipped with a warning (without its content) and the current one is used: it does not jam the backend', async () => {
      const b = openRotating();
      const garbage = 'not-a-url %%% pending_garbage_Vq81Zt';
      try {
        await b.health();
        // The current URL is refused, and the pending value is garbage: nothing logs in.
        await setPassword('pw-b');
        pending = garbage;
        await cut();
        await assert.rejects(b.health(), (e: unknown) => e instanceof BrokerError && !/not usable/.test(e.message), 'a refused login, not the pending URL\'s parse error');
        // The current URL is fixed while the garbage stays pending: the backend logs in with it again.
        current = url('pw-b');
        await b.health();
        await cut();
        await b.listIssued();
        assert.match(logs, /pending admin URL does not parse/);
        assert.ok(!logs.includes('pending_garbage_Vq81Zt'), 'the pending value is not logged');
      } finally {
        await b.close();
      }
    });

    it('a wrong admin password with nothing pending costs two refused logins per call, not three (the third would repeat the second)', async () => {
      const b = openRotating();
      try {
        await b.health();
        await setPassword('pw-b');
        await cut();
        const before = refusals();
        await assert.rejects(b.health());
        assert.equal(refusals() - before, 2, 'the current URL, then the current URL read afresh');
        // With something pending, the third login still happens when it differs: pending refused, current refused, new pending.
        pending = url('pw-b');
        await b.health();
        current = url('pw-b');
        pending = undefined;
        await setPassword('pw-c');
        pending = url('pw-c');
        await cut();
        await b.health();
      } finally {
        await b.close();
      }
    });

    it('concurrent calls refused together all switch to the pending URL (one refusal does not undo another)', async () => {
      const b = openRotating();
      try {
        await Promise.all(Array.from({ length: 6 }, () => b.listIssued()));
        await setPassword('pw-b');
        pending = url('pw-b');
        await cut();
        const kinds = await Promise.all(Array.from({ length: 6 }, () => kindOf(b.listIssued())));
        assert.deepEqual(kinds, Array<string>(6).fill('resolved'));
        await setPassword('pw-c');
        current = url('pw-c');
        pending = undefined;
        await cut();
        const again = await Promise.all(Array.from({ length: 6 }, () => kindOf(b.listIssued())));
        assert.deepEqual(again, Array<string>(6).fill('resolved'));
      } finally {
        await b.close();
      }
    });
  });

  it('works with a least-privileged admin login (CREATEROLE, pg_signal_backend, grant options), not a superuser', async () => {
    const pw = `adm-${Math.random().toString(36).slice(2)}`;
    await admin.query(`CREATE ROLE sb_least LOGIN CREATEROLE PASSWORD '${pw}'; GRANT pg_signal_backend TO sb_least;
                       GRANT CONNECT ON DATABASE postgres TO sb_least WITH GRANT OPTION;
                       GRANT USAGE ON SCHEMA analytics, billing TO sb_least WITH GRANT OPTION;
                       GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO sb_least WITH GRANT OPTION;
                       GRANT UPDATE ON billing.invoices TO sb_least WITH GRANT OPTION;`);
    adminUrl = `postgres://sb_least:${pw}@127.0.0.1:${pg.port}/${pg.database}`;
    const b = open();
    try {
      await b.validate(SPEC);
      const c = await b.create(SPEC, lease(), b.plan(SPEC, lease()));
      const s = await connectAs(pg, c.credential.user, c.credential.password.revealString());
      assert.equal((await s.query('SELECT count(*)::int AS n FROM analytics.events')).rows[0].n, 1);
      await b.revoke(c.handle);
      assert.ok(await refused(s, 'SELECT 1'), 'the session is terminated');
      await s.end().catch(() => undefined);
      assert.equal((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [c.handle.id])).rowCount, 0, 'the role is dropped');
      const many = [await b.create(SPEC, lease(), b.plan(SPEC, lease())), await b.create(SPEC, lease(), b.plan(SPEC, lease()))];
      assert.equal((await b.revokeMany(many.map((x) => x.handle))).length, 2);
      const listed = (await b.listIssued()).map((h) => h.id);
      for (const x of many) assert.equal(listed.includes(x.handle.id), false);
    } finally {
      await b.close();
      await admin.query(`DROP OWNED BY sb_least; DROP ROLE sb_least`);
    }
  });

  it('no password reaches the server log or the broker log (only the SCRAM verifier is sent)', async () => {
    const c = await issue();
    const s = await connectAs(pg, c.credential.user, c.credential.password.revealString());
    await s.end();
    await backend.revoke(c.handle);
    const serverLog = readFileSync(pg.logFile, 'utf8');
    assert.match(serverLog, /CREATE ROLE "sb_[0-9a-f]{32}" WITH LOGIN .* PASSWORD 'SCRAM-SHA-256\$4096:/, 'log_statement = all is on');
    for (const x of issued) {
      const p = x.credential.password.revealString();
      assert.equal(serverLog.includes(p), false, 'the server log holds no password');
      assert.equal(logs.includes(p), false, 'the broker log holds no password');
    }
    assert.equal(serverLog.includes(pg.password), false);
    assert.equal(logs.includes(pg.password), false, 'nor the admin password');
  });

  it('a stopped PostgreSQL is unavailable (no server text), and the backend works again when it returns', async () => {
    const c = await issue();
    await pg.stop();
    try {
      const err = await backend.create(SPEC, lease(), backend.plan(SPEC, lease())).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof BrokerError && err.kind === 'unavailable', String(err));
      assert.doesNotMatch(err.message, /ECONNREFUSED|terminat|127\.0\.0\.1/);
      assert.equal(await kindOf(backend.revoke(c.handle)), 'unavailable');
      assert.equal(await kindOf(backend.revokeMany([c.handle])), 'unavailable');
      assert.equal(await kindOf(backend.listIssued()), 'unavailable');
      assert.equal(await kindOf(backend.health()), 'unavailable');
    } finally {
      await pg.start();
      await admin.end().catch(() => undefined);
      admin = await connectAs(pg, pg.superuser, pg.password);
    }
    await backend.health();
    await backend.revoke(c.handle);
    assert.equal((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [c.handle.id])).rowCount, 0);
    await issue();
  });

  it('creates that arrive while a round waits on an unreachable server share the next round, which is not split: one connection attempt per round', async () => {
    // A server that accepts and never answers: the first round waits out the timeout, and every create
    // that arrives meanwhile joins the next one.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const saved = adminUrl;
    adminUrl = `postgres://nobody:pw@127.0.0.1:${(silent.address() as net.AddressInfo).port}/db`;
    const b = open({ timeoutMs: 1000 });
    try {
      logs = '';
      const n = 8;
      const kinds = await Promise.all(Array.from({ length: n }, () => kindOf(b.create(SPEC, lease(), b.plan(SPEC, lease())))));
      assert.deepEqual(kinds, Array<string>(n).fill('unavailable'));
      const attempts = logs.split('\n').filter((l) => l.includes('could not connect with the admin login'));
      assert.equal(attempts.length, 2, `${attempts.length} connection attempts for ${n} creates: ${attempts.join('\n')}`);
      assert.match(attempts[0]!, /"issue a credential"/);
      assert.match(attempts[1]!, /"issue credentials"/, 'the other seven in one round');
    } finally {
      adminUrl = saved;
      await b.close();
      silent.close();
    }
  });
});
