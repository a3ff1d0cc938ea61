import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Client } from 'pg';
import { sharedPostgres, startEphemeralPostgres, type EphemeralPostgres } from '../../helpers/ephemeral-postgres';

const connect = async (pg: EphemeralPostgres, password = pg.password, user = pg.superuser): Promise<Client> => {
  const c = new Client({ host: pg.host, port: pg.port, user, password, database: pg.database, connectionTimeoutMillis: 10_000 });
  await c.connect();
  return c;
};

/** Postmasters whose command line names this data dir (ps, so a leaked one is seen). */
const postmastersFor = (dir: string): string[] =>
  execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(path.join(dir, 'data')) && !l.includes('sb-pg-watchdog'));

describe('ephemeral PostgreSQL (test helper)', function () {
  this.timeout(120_000);
  let pg: EphemeralPostgres;
  before(async () => {
    pg = await startEphemeralPostgres({ database: 'brokertest' });
  });
  after(async () => {
    await pg?.close();
  });

  it('accepts the superuser with its password over TCP on loopback', async () => {
    const c = await connect(pg);
    try {
      const r = await c.query<{ u: string; db: string; enc: string }>("SELECT current_user AS u, current_database() AS db, current_setting('password_encryption') AS enc");
      assert.deepEqual(r.rows[0], { u: pg.superuser, db: 'brokertest', enc: 'scram-sha-256' });
      assert.match(pg.adminUrl, new RegExp(`^postgres://${pg.superuser}:[0-9a-f]+@127\\.0\\.0\\.1:${pg.port}/brokertest$`));
    } finally {
      await c.end();
    }
  });

  it('refuses a wrong password and an empty one (no trust auth on TCP)', async () => {
    await assert.rejects(connect(pg, 'not-the-password'), (e: Error & { code?: string }) => e.code === '28P01');
    await assert.rejects(connect(pg, ''), /password/i);
    const hba = readFileSync(path.join(pg.dir, 'data', 'pg_hba.conf'), 'utf8');
    assert.doesNotMatch(hba, /\btrust\b/);
  });

  it('a role created with a password can log in; once dropped it cannot', async () => {
    const admin = await connect(pg);
    try {
      await admin.query("CREATE ROLE app_user LOGIN PASSWORD 'app-pw-123'");
      const app = await connect(pg, 'app-pw-123', 'app_user');
      await app.end();
      await admin.query('DROP ROLE app_user');
      await assert.rejects(connect(pg, 'app-pw-123', 'app_user'), (e: Error & { code?: string }) => e.code === '28P01');
    } finally {
      await admin.end();
    }
  });

  it('stop() refuses connections, start() brings it back on the same port with the data kept', async () => {
    const c = await connect(pg);
    await c.query('CREATE TABLE kept (v text)');
    await c.query("INSERT INTO kept VALUES ('still here')");
    await c.end();
    await pg.stop();
    assert.deepEqual(postmastersFor(pg.dir), []);
    await assert.rejects(connect(pg), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED');
    await pg.start();
    const c2 = await connect(pg);
    try {
      assert.deepEqual((await c2.query('SELECT v FROM kept')).rows, [{ v: 'still here' }]);
    } finally {
      await c2.end();
    }
  });

  it('close() stops the postmaster and removes the dir', async () => {
    const other = await startEphemeralPostgres();
    assert.equal(postmastersFor(other.dir).length > 0, true, 'a postmaster runs for the cluster');
    await other.close();
    assert.equal(existsSync(other.dir), false);
    assert.deepEqual(postmastersFor(other.dir), []);
  });

  it('sharedPostgres() is one cluster per process', async () => {
    const a = await sharedPostgres();
    const b = await sharedPostgres();
    assert.equal(a, b);
    await a.close();
    assert.equal(existsSync(a.dir), true, 'close() of the shared cluster does nothing');
    const c = await connect(a);
    await c.end();
  });
});
