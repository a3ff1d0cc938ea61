import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client as PgClient } from 'pg';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { openLocalBackend } from '../../src/backends/local';
import { systemClock } from '../../src/lib/clock';
import type { RotationHooks } from '../../src/rotation/rotation-service';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { startEphemeralPostgres, type EphemeralPostgres, loginState } from '../helpers/ephemeral-postgres';
import { readEntries } from '../helpers/evidence-entries';
import { seedLocalSecrets } from '../helpers/invoke-broker';
import { runCapture } from '../helpers/run-cli';
import { rotateWithLockTakenOver } from '../helpers/rotation-takeover';

const INITIAL = 'initial_admin_pw_Xk29Lq7Vz3';

describe('Rotation of a PostgreSQL admin credential (url_secret): real PostgreSQL, real daemon', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pg: EphemeralPostgres;
  let broker: RunningBroker;
  let raw: Record<string, unknown>;
  let env: NodeJS.ProcessEnv;
  let initialUrl: string;
  const hooks: RotationHooks = {};
  const printed: string[] = [];

  const stored = async (name: string): Promise<{ value: string; version: number }> => {
    const local = (raw['backends'] as { local: { path: string; key_file: string } }).local;
    const b = await openLocalBackend({ name: 'local', path: local.path, keyFile: local.key_file, clock: systemClock });
    try {
      const v = await b.get(name);
      const value = v.value.revealString();
      v.value.wipe();
      return { value, version: v.version };
    } finally {
      await b.close();
    }
  };
  const rotate = async (...args: string[]) => {
    const r = await runCapture(['rotate', ...args], '', env);
    printed.push(r.out, r.err);
    return r;
  };
  const grant = async (): Promise<{ user: string; password: string }> => {
    const res = await call<unknown, LeaseResponse__Output>(broker.clientFor('agents', 'support-bot').agent, 'RequestLease', { action: 'analytics.query', ttlSeconds: 300 });
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    const c = res.lease!.databaseCredential!;
    return { user: c.user, password: c.password };
  };
  const queryAs = async (cred: { user: string; password: string }): Promise<PgClient> => {
    const c = new PgClient({ host: '127.0.0.1', port: pg.port, database: pg.database, user: cred.user, password: cred.password, connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    await c.connect();
    assert.equal((await c.query('SELECT count(*)::int AS n FROM analytics.events')).rows[0].n, 1);
    return c;
  };

  before(async () => {
    tmp = tempDir('sb-rot-pg-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    pg = await startEphemeralPostgres({ settings: ["log_statement = 'all'"] });
    const su = new PgClient({ connectionString: pg.adminUrl });
    await su.connect();
    await su.query(`CREATE ROLE broker_admin LOGIN SUPERUSER PASSWORD '${INITIAL}';
                    CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int); INSERT INTO analytics.events VALUES (1);`);
    await su.end();
    initialUrl = `postgres://broker_admin:${INITIAL}@127.0.0.1:${pg.port}/${pg.database}`;
    raw = baseRawConfig(pki, tmp.dir);
    (raw['backends'] as Record<string, unknown>)['appdb'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' }, timeout: '5s' };
    raw['secrets'] = {
      'helpdesk-token': { backend: 'local' },
      'appdb-admin': { backend: 'local', rotation: { every: '30d', generator: { kind: 'random', length: 32 } } },
    };
    (raw['actions'] as Record<string, unknown>)['analytics.query'] = {
      postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m' },
      resource: 'analytics',
    };
    writeFileSync(path.join(raw['policies'] as string, 'analytics.cedar'), `@id("analytics-support")\n@reason("test")\npermit (principal in Group::"support", action == Action::"analytics.query", resource);\n`);
    await seedLocalSecrets(raw, { 'helpdesk-token': 'unused-token-value', 'appdb-admin': initialUrl });
    broker = await startBroker({ pki, dir: tmp.dir, raw, rotationHooks: hooks, sweeper: { intervalMs: 3_600_000, graceMs: 120_000 } });
    const alice = pki.layout.operators['alice']!;
    env = { SECRET_BROKER_ADDR: broker.addr, SECRET_BROKER_CA: pki.layout.caCert, SECRET_BROKER_CERT: alice.cert, SECRET_BROKER_KEY: alice.key };
  });
  after(async () => {
    await broker?.close();
    await pg?.close();
    tmp?.cleanup();
  });

  it('the role rotates its own password: the new one logs in, the old does not; sessions open during the switch keep working', async () => {
    const lease = await grant();
    const agentSession = await queryAs(lease);
    const adminSession = new PgClient({ connectionString: initialUrl });
    adminSession.on('error', () => undefined);
    await adminSession.connect();
    try {
      // A database call in flight across the switch, on the agent's session and on an admin session.
      const inFlight = Promise.all([
        agentSession.query('SELECT pg_sleep(0.8), count(*)::int AS n FROM analytics.events'),
        adminSession.query('SELECT pg_sleep(0.8), 1 AS one'),
      ]);
      const r = await rotate('--secret', 'appdb-admin');
      assert.equal(r.code, 0, r.out + r.err);
      const [agentRows, adminRows] = await inFlight;
      assert.equal(agentRows.rows[0].n, 1);
      assert.equal(adminRows.rows[0].one, 1);
      assert.match(r.out, /^rotated appdb-admin: version 1 -> 2 /);
      const now = await stored('appdb-admin');
      assert.equal(now.version, 2);
      assert.notEqual(now.value, initialUrl);
      assert.equal(await loginState(now.value), null, 'the new password logs in');
      assert.equal(await loginState(initialUrl), '28P01', 'the old password no longer does');
      // Connections open across the switch are not broken.
      assert.equal((await adminSession.query('SELECT 1 AS one')).rows[0].one, 1);
      assert.equal((await agentSession.query('SELECT count(*)::int AS n FROM analytics.events')).rows[0].n, 1);
    } finally {
      await adminSession.end().catch(() => undefined);
      await agentSession.end().catch(() => undefined);
    }
    // The broker keeps minting with the rotated admin login.
    const after = await queryAs(await grant());
    await after.end();
    const e = (await readEntries<{ type: string; secret: string; steps: string[]; outcome: string }>(broker.app.ledger!)).filter((x) => x.type === 'rotation');
    assert.deepEqual(e.map((x) => [x.secret, x.outcome, x.steps.join(',')]), [['appdb-admin', 'rotated', 'locked,read,generated,pending stored,altered,login tested,written,cache dropped']]);
  });

  it('a rotation killed after ALTER ROLE, before the new value became current, is completed by the next run; the broker keeps working meanwhile', async () => {
    const before = await stored('appdb-admin');
    hooks.afterStep = async (_secret, step) => {
      if (step === 'altered') throw new Error('killed after ALTER ROLE (test)');
    };
    let r;
    try {
      r = await rotate('--secret', 'appdb-admin', '--force');
    } finally {
      hooks.afterStep = undefined;
    }
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^failed appdb-admin: /);
    // The store still has the old URL as current, which no longer logs in; the pending one does.
    assert.deepEqual(await stored('appdb-admin'), before);
    assert.equal(await loginState(before.value), '28P01');
    const pending = await stored('appdb-admin.pending');
    assert.equal(await loginState(pending.value), null);
    const rec = await broker.app.store.rotations!.getRotation('appdb-admin');
    assert.equal(rec!.pendingVersion, pending.version);
    // Meanwhile the broker keeps granting database leases: with its open admin connections, and with
    // new ones (its connections are cut here): the current login fails, so it tries the pending one.
    const open1 = await queryAs(await grant());
    await open1.end();
    const su = new PgClient({ connectionString: pg.adminUrl });
    await su.connect();
    const cut = await su.query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'secret-broker'");
    await su.end();
    assert.ok(cut.rowCount! >= 1, 'the broker had admin connections to cut');
    const meanwhile = await queryAs(await grant());
    await meanwhile.end();
    // The next run (not forced: a pending rotation is due) completes it without a second ALTER.
    const dry = await rotate('--dry-run');
    assert.match(dry.out, /^would rotate appdb-admin: an interrupted rotation is pending/m);
    const next = await rotate('--secret', 'appdb-admin');
    assert.equal(next.code, 0, next.out + next.err);
    assert.match(next.out, /^rotated appdb-admin: version 2 -> 3 /);
    const now = await stored('appdb-admin');
    assert.equal(now.value, pending.value, 'the pending value became current');
    assert.equal(await loginState(now.value), null);
    assert.equal((await broker.app.store.rotations!.getRotation('appdb-admin'))!.pendingVersion, undefined);
    const e = (await readEntries<{ type: string; steps: string[]; outcome: string }>(broker.app.ledger!)).filter((x) => x.type === 'rotation');
    assert.deepEqual(e.slice(-2).map((x) => [x.outcome, x.steps.join(',')]), [
      ['failed', 'locked,read,generated,pending stored,altered'],
      ['rotated', 'locked,read,pending logs in,login tested,written,cache dropped'],
    ]);
    const fresh = await queryAs(await grant());
    await fresh.end();
  });

  it('the lock lost while the ALTER ROLE connection was being opened: the fence, checked after the connect, stops the ALTER; the next run completes', async () => {
    const before = await stored('appdb-admin');
    const rotations = broker.app.store.rotations!;
    const alters = (): number => readFileSync(pg.logFile, 'utf8').split('ALTER ROLE CURRENT_USER PASSWORD').length - 1;
    const altersBefore = alters();
    const { result: r, taken } = await rotateWithLockTakenOver(rotations, hooks, 'afterAdminConnect', () => rotate('--secret', 'appdb-admin', '--force'));
    assert.ok(taken, 'the lock was taken over while the connection was opened');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^failed appdb-admin: .*rejected by the fence/m);
    assert.match(r.out, /the current value is unchanged, and the pending version this run stored stays for the next run/);
    assert.equal(alters(), altersBefore, 'no ALTER ROLE reached the server');
    assert.equal(await loginState(before.value), null, 'the current password still logs in');
    const pending = await stored('appdb-admin.pending');
    assert.equal(await loginState(pending.value), '28P01', 'the pending one does not');
    assert.deepEqual(await stored('appdb-admin'), before);
    const e = (await readEntries<{ type: string; steps: string[]; outcome: string }>(broker.app.ledger!)).filter((x) => x.type === 'rotation');
    assert.deepEqual([e.at(-1)!.outcome, e.at(-1)!.steps.join(',')], ['failed', 'locked,read,generated,pending stored']);
    // The next run finds the pending version, which does not log in, and the current one, which does: it ALTERs.
    const next = await rotate('--secret', 'appdb-admin');
    assert.equal(next.code, 0, next.out + next.err);
    const now = await stored('appdb-admin');
    assert.equal(now.value, pending.value);
    assert.equal(await loginState(now.value), null);
    assert.equal(await loginState(before.value), '28P01');
  });

  it('the lock lost after the ALTER, before the new value became current: the fenced failure says the password was set (not "nothing was written"); the next run completes', async () => {
    const before = await stored('appdb-admin');
    const rotations = broker.app.store.rotations!;
    const { result: r, taken } = await rotateWithLockTakenOver(rotations, hooks, { step: 'altered' }, () => rotate('--secret', 'appdb-admin', '--force'));
    assert.ok(taken, 'the lock was taken over after the ALTER');
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^failed appdb-admin: .*rejected by the fence.*the new admin password was set in the database \(the stored current value no longer logs in\); the next run completes the rotation/m);
    assert.doesNotMatch(r.out, /nothing was written|the current value is unchanged/);
    const e = (await readEntries<{ type: string; steps: string[]; outcome: string; error?: string }>(broker.app.ledger!)).filter((x) => x.type === 'rotation');
    assert.deepEqual([e.at(-1)!.outcome, e.at(-1)!.steps.join(',')], ['failed', 'locked,read,generated,pending stored,altered,login tested']);
    assert.match(e.at(-1)!.error!, /the new admin password was set in the database/);
    assert.deepEqual(await stored('appdb-admin'), before);
    assert.equal(await loginState(before.value), '28P01', 'the ALTER happened');
    const next = await rotate('--secret', 'appdb-admin');
    assert.equal(next.code, 0, next.out + next.err);
    assert.equal(await loginState((await stored('appdb-admin')).value), null);
  });

  it('a resumed run whose ALTER is followed by a refused fence says so too', async () => {
    // Stopped after the pending version was stored: the next run finds the current login working and ALTERs.
    hooks.afterStep = async (_secret, step) => {
      if (step === 'pending stored') throw new Error('stopped before the ALTER (test)');
    };
    try {
      assert.equal((await rotate('--secret', 'appdb-admin', '--force')).code, 1);
    } finally {
      hooks.afterStep = undefined;
    }
    const rotations = broker.app.store.rotations!;
    const { result: r, taken } = await rotateWithLockTakenOver(rotations, hooks, { step: 'altered' }, () => rotate('--secret', 'appdb-admin'));
    assert.ok(taken);
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^failed appdb-admin: .*rejected by the fence.*the new admin password was set in the database \(the stored current value no longer logs in\); the next run completes the rotation/m);
    const e = (await readEntries<{ type: string; steps: string[] }>(broker.app.ledger!)).filter((x) => x.type === 'rotation');
    assert.equal(e.at(-1)!.steps.join(','), 'locked,read,current logs in,altered,login tested');
    const next = await rotate('--secret', 'appdb-admin');
    assert.equal(next.code, 0, next.out + next.err);
    assert.equal(await loginState((await stored('appdb-admin')).value), null);
  });

  it('the server ends the rotation\'s idle admin connection before the ALTER: the run fails with UNAVAILABLE, the daemon keeps running, the next run completes', async () => {
    const before = await stored('appdb-admin');
    hooks.afterAdminConnect = async () => {
      // A server restart or an administrator's pg_terminate_backend while the connection idles.
      const su = new PgClient({ connectionString: pg.adminUrl });
      await su.connect();
      try {
        await su.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'secret-broker-rotation'`);
      } finally {
        await su.end();
      }
      // Let the FATAL message reach the idle client (which emits 'error': with no listener the process would crash).
      await new Promise((r) => setTimeout(r, 300));
    };
    let r;
    try {
      r = await rotate('--secret', 'appdb-admin', '--force');
    } finally {
      hooks.afterAdminConnect = undefined;
    }
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, /^failed appdb-admin: .*could not set the new admin password/m);
    assert.equal(await loginState(before.value), null, 'the current password still logs in');
    assert.equal((await call<unknown, { name: string }>(broker.clientFor('operators', 'alice').operator, 'WhoAmI', {})).name, 'alice', 'the daemon still serves');
    const next = await rotate('--secret', 'appdb-admin');
    assert.equal(next.code, 0, next.out + next.err);
  });

  it('no admin password appears in the rotate output, the daemon log, the evidence, the state database or the server log', async () => {
    const passwords = [INITIAL, new URL((await stored('appdb-admin')).value).password, new URL((await stored('appdb-admin.pending')).value).password];
    const entries = (await readEntries(broker.app.ledger!)).map((x) => JSON.stringify(x)).join('\n');
    const db = readFileSync(path.join(tmp.dir, 'broker.db'));
    const serverLog = readFileSync(pg.logFile, 'utf8');
    assert.match(serverLog, /ALTER ROLE CURRENT_USER PASSWORD 'SCRAM-SHA-256\$/, 'the server saw the verifier');
    for (const p of passwords.slice(1)) {
      assert.ok(!printed.join('\n').includes(p), 'rotate output');
      assert.ok(!broker.logs.text.includes(p), 'daemon log');
      assert.ok(!entries.includes(p), 'evidence');
      assert.ok(!db.includes(Buffer.from(p)), 'state database');
      assert.ok(!serverLog.includes(p), 'PostgreSQL server log');
    }
    assert.ok(!broker.logs.text.includes(INITIAL) && !entries.includes(INITIAL));
  });
});
