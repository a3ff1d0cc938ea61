import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { Client as PgClient } from 'pg';
import { call, connect, credentialsFromFiles, type BrokerClients } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, tempDir, type TestPki } from '../helpers/broker-harness';
import { startEphemeralPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { seedLocalSecrets } from '../helpers/invoke-broker';
import { spawnDaemon, type DaemonProcess } from '../helpers/spawn-daemon';

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The crash case with every part real: a daemon in a child process,
 * a private PostgreSQL cluster, kill -9. The kill lands after the role exists
 * in PostgreSQL and before the lease is stored: PostgreSQL is made to hold
 * the daemon's CREATE ROLE … GRANT statement (a transaction of the test's
 * holds the schema's catalog row), the test then freezes the daemon
 * (SIGSTOP), lets PostgreSQL go, sees the role committed, and kills the
 * frozen daemon, which never got to store the lease.
 */
describe('a broker killed between creating a PostgreSQL role and storing its lease (kill -9, real PostgreSQL)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pg: EphemeralPostgres;
  let admin: PgClient;
  let daemon: DaemonProcess | undefined;
  const clients: BrokerClients[] = [];

  before(async () => {
    tmp = tempDir('sb-pending-pg-');
    pki = await makeTestPki(`${tmp.dir}/pki`);
    pg = await startEphemeralPostgres();
    admin = new PgClient({ connectionString: pg.adminUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA analytics; CREATE TABLE analytics.events (id int); INSERT INTO analytics.events VALUES (1);`);
  });
  after(async () => {
    for (const c of clients) c.close();
    await daemon?.stop();
    await admin?.end().catch(() => undefined);
    await pg?.close();
    tmp?.cleanup();
  });

  it('leaves a pending row and a role no lease owns; the next start drops the role, records it, and clears the row', async () => {
    const dir = tmp.dir;
    const raw = baseRawConfig(pki, dir);
    // A long backend timeout: the create must still be waiting on PostgreSQL when the test lets it go, however slow the machine.
    (raw['backends'] as Record<string, unknown>)['appdb'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' }, timeout: '60s' };
    (raw['actions'] as Record<string, unknown>)['analytics.query'] = {
      postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m' },
      resource: 'analytics',
      max_ttl: '15m',
    };
    writeFileSync(path.join(String(raw['policies']), 'analytics.cedar'), '@id("analytics-support") @reason("test") permit (principal in Group::"support", action == Action::"analytics.query", resource);');
    await seedLocalSecrets(raw, { 'appdb-admin': pg.adminUrl });
    const dbFile = String((raw['state'] as { sqlite: string }).sqlite);
    const roles = async (): Promise<string[]> => (await admin.query<{ rolname: string }>(`SELECT rolname::text FROM pg_roles WHERE rolname LIKE 'sb\\_%' ORDER BY 1`)).rows.map((r) => r.rolname);
    const agentOf = (port: number): BrokerClients => {
      const e = pki.layout.agents['support-bot']!;
      const c = connect(credentialsFromFiles(`127.0.0.1:${port}`, pki.layout.caCert, e.cert, e.key));
      clients.push(c);
      return c;
    };

    daemon = await spawnDaemon({ ...raw, __dir: dir });
    // PostgreSQL holds the daemon's GRANT USAGE ON SCHEMA analytics while this transaction holds that row.
    const holder = new PgClient({ connectionString: pg.adminUrl });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('GRANT USAGE ON SCHEMA analytics TO PUBLIC');
    const granting = call<unknown, LeaseResponse__Output>(agentOf(daemon.port).agent, 'RequestLease', { action: 'analytics.query' }, { deadlineMs: 60_000 }).then(
      () => 'answered',
      () => 'failed',
    );

    const state = new Database(dbFile, { readonly: false });
    state.pragma('busy_timeout = 10000');
    try {
      // Recorded before created: the pending row is durable while PostgreSQL still holds the statement.
      const pending = await until('the pending row', () => state.prepare('SELECT backend, handle_id, lease_id FROM pending_credentials').get() as { backend: string; handle_id: string; lease_id: string } | undefined);
      assert.equal(pending.backend, 'appdb');
      assert.match(pending.handle_id, /^sb_/);
      await until('the daemon to wait on PostgreSQL', async () => (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'CREATE ROLE%'`)).rowCount === 1);
      assert.deepEqual(await roles(), [], 'nothing committed yet');

      // Freeze the daemon (SIGSTOP): from here it runs no code, so it can neither store the lease nor
      // drop the role. PostgreSQL goes on with the statement it holds and commits it server-side.
      // (Holding the state database's write lock instead raced the daemon's 5 s busy timeout: on a
      // loaded machine the daemon gave up, revoked the role itself, and there was no orphan to test.)
      daemon.child.kill('SIGSTOP');
      await holder.query('ROLLBACK');
      await until('the role to be committed', async () => ((await roles()).includes(pending.handle_id) ? true : undefined), 60_000);
      await daemon.crash();
      daemon = undefined;
      assert.equal(await granting, 'failed', 'the agent got no lease');

      assert.equal((state.prepare('SELECT COUNT(*) AS n FROM leases').get() as { n: number }).n, 0, 'no lease owns the role');
      assert.deepEqual(await roles(), [pending.handle_id], 'an orphan role, recorded as pending');

      // The next start sweeps: the role goes, its pending row too, and evidence says who did it.
      daemon = await spawnDaemon({ ...raw, __dir: dir });
      await until('the orphan role to be dropped', async () => ((await roles()).length === 0 ? true : undefined));
      await until('the pending row to be removed', () => ((state.prepare('SELECT COUNT(*) AS n FROM pending_credentials').get() as { n: number }).n === 0 ? true : undefined));
      const entry = await until('credential.revoked by the sweeper', () => {
        const row = state.prepare(`SELECT bytes FROM evidence_entries WHERE type = 'credential.revoked'`).get() as { bytes: Buffer } | undefined;
        return row ? (JSON.parse(row.bytes.toString('utf8')) as { by: string; credential: { backend: string; id: string }; lease: { id: string }; recorded: string }) : undefined;
      });
      assert.equal(entry.by, 'sweeper');
      assert.deepEqual(entry.credential, { backend: 'appdb', id: pending.handle_id });
      assert.equal(entry.lease.id, pending.lease_id);
      assert.equal(entry.recorded, 'pending');

      // And it still serves: a new lease gets a role that stays.
      const res = await call<unknown, LeaseResponse__Output>(agentOf(daemon.port).agent, 'RequestLease', { action: 'analytics.query' }, { deadlineMs: 30_000 });
      assert.equal(res.status, 'GRANTED');
      const cred = res.lease!.databaseCredential!;
      assert.deepEqual(await roles(), [cred.user]);
      // lease.issued records the role and its grants beside the handle; no entry holds the password.
      const issued = await until('lease.issued', () => {
        const row = state.prepare(`SELECT bytes FROM evidence_entries WHERE type = 'lease.issued' AND json_extract(CAST(bytes AS TEXT), '$.lease.id') = ?`).get(res.lease!.leaseId) as { bytes: Buffer } | undefined;
        return row ? (JSON.parse(row.bytes.toString('utf8')) as { lease: { credential: unknown; credential_details: unknown } }) : undefined;
      });
      assert.deepEqual(issued.lease.credential, { backend: 'appdb', id: cred.user });
      assert.deepEqual(issued.lease.credential_details, { role: cred.user, grants: [{ privilege: 'SELECT', schema: 'analytics' }] });
      const allEntries = (state.prepare('SELECT bytes FROM evidence_entries').all() as Array<{ bytes: Buffer }>).map((r) => r.bytes.toString('utf8')).join('\n');
      assert.ok(cred.password.length >= 16 && !allEntries.includes(cred.password), 'the password is in the evidence');
    } finally {
      await holder.end().catch(() => undefined);
      state.close();
    }
  });
});
