import { strict as assert } from 'node:assert';
import { chmodSync, copyFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { StartupError } from '../../src/app';
import { call } from '../../src/client/grpc-client';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type TestPki } from '../helpers/broker-harness';
import { spawnDaemon } from '../helpers/spawn-daemon';
import { Client as PgClient } from 'pg';
import { startEphemeralPostgres } from '../helpers/ephemeral-postgres';
import { seedLocalSecrets } from '../helpers/invoke-broker';

describe('startup checks', function () {
  this.timeout(30_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  });
  after(() => tmp.cleanup());

  it('refuses to start when a key file is group- or world-readable, naming it', async () => {
    const key = path.join(tmp.dir, 'server-open.key');
    copyFileSync(pki.layout.serverKey, key);
    chmodSync(key, 0o644);
    const raw = baseRawConfig(pki, tmp.dir);
    raw['tls'] = { ca: pki.layout.caCert, cert: pki.layout.serverCert, key };
    await assert.rejects(startBroker({ pki, dir: tmp.dir, raw }), (err: Error) => {
      assert.match(err.message, /refusing to start/);
      assert.ok(err.message.includes(key));
      assert.match(err.message, /0644/);
      return true;
    });
    // Dev mode relaxes only this check, loudly.
    const dev = await startBroker({ pki, dir: tmp.dir, raw: { ...raw, dev_mode: true } });
    assert.match(dev.logs.text, /DEV MODE/);
    await dev.close();
  });

  describe('one daemon per SQLite state', () => {
    const refused = (err: unknown): boolean => {
      assert.ok(err instanceof StartupError, `expected a StartupError, got ${String(err)}`);
      assert.match(err.message, /refusing to start: another secret-broker daemon is using the state at \S+broker\.db \(it holds \S+broker\.db\.lock\); stop it first/);
      return true;
    };

    it('a second daemon on the same state refuses to start and leaves the first serving; once the first stops, it starts', async () => {
      const t = tempDir();
      const p = await makeTestPki(path.join(t.dir, 'pki'));
      const first = await startBroker({ pki: p, dir: t.dir });
      try {
        await assert.rejects(startBroker({ pki: p, dir: t.dir }), refused);
        const agent = first.clientFor('agents', 'support-bot').agent;
        const g = await call<unknown, { status: string }>(agent, 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-1', params: { fields: { ticket: { stringValue: 'T-1' } } } });
        assert.equal(g.status, 'GRANTED', 'the first daemon still serves');
      } finally {
        await first.close();
      }
      const second = await startBroker({ pki: p, dir: t.dir });
      await second.close();
      t.cleanup();
    });

    it('a start that fails (its port is taken) releases the state: the next start on it is not refused', async () => {
      const t = tempDir();
      const p = await makeTestPki(path.join(t.dir, 'pki'));
      const taken = net.createServer();
      await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
      const port = (taken.address() as net.AddressInfo).port;
      try {
        await assert.rejects(startBroker({ pki: p, dir: t.dir, raw: { ...baseRawConfig(p, t.dir), listen: `127.0.0.1:${port}` } }), /cannot listen on/);
      } finally {
        await new Promise<void>((r) => taken.close(() => r()));
      }
      const next = await startBroker({ pki: p, dir: t.dir });
      await next.close();
      t.cleanup();
    });

    it('a start that fails after the start-up sweep opened a PostgreSQL backend closes that backend too: no admin connection is left', async function () {
      this.timeout(60_000);
      const t = tempDir();
      const pg = await startEphemeralPostgres();
      const taken = net.createServer();
      try {
        const p = await makeTestPki(path.join(t.dir, 'pki'));
        await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()));
        const port = (taken.address() as net.AddressInfo).port;
        const raw: Record<string, unknown> = { ...baseRawConfig(p, t.dir), listen: `127.0.0.1:${port}` };
        (raw['backends'] as Record<string, unknown>)['appdb'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' } };
        (raw['actions'] as Record<string, unknown>)['analytics.query'] = { postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'public' }], ttl: '5m' }, resource: 'analytics' };
        await seedLocalSecrets(raw, { 'appdb-admin': pg.adminUrl });
        await assert.rejects(startBroker({ pki: p, dir: t.dir, raw }), /cannot listen on/);
        const su = new PgClient({ connectionString: pg.adminUrl });
        await su.connect();
        try {
          const left = await su.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'secret-broker'");
          assert.equal(left.rows[0].n, 0, 'the backend the sweep opened was closed');
        } finally {
          await su.end();
        }
      } finally {
        await new Promise<void>((r) => taken.close(() => r()));
        await pg.close();
        t.cleanup();
      }
    });

    it('the lock of a daemon killed with SIGKILL is gone with its process: the next start is not refused', async function () {
      this.timeout(60_000);
      const t = tempDir();
      const p = await makeTestPki(path.join(t.dir, 'pki'));
      const raw = baseRawConfig(p, t.dir);
      const daemon = await spawnDaemon({ ...raw, __dir: t.dir });
      try {
        await assert.rejects(startBroker({ pki: p, dir: t.dir, raw }), refused);
      } finally {
        await daemon.crash();
      }
      const next = await startBroker({ pki: p, dir: t.dir, raw });
      await next.close();
      t.cleanup();
    });
  });
});
