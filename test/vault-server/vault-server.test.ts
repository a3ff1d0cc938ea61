import { strict as assert } from 'node:assert';
import * as https from 'node:https';
import { Client } from 'pg';
import { sharedPostgres, startEphemeralPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { vaultCall } from './vault-client';
import { parseDuration, rewriteList, VaultHttpError } from './vault-http';
import { startVaultServer, type VaultServer } from './vault-server';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
type Obj = Record<string, unknown>;
const data = (r: { body: Obj | undefined }): Obj => r.body!['data'] as Obj;

describe('Vault API server (test/vault-server) over HTTPS', function () {
  this.timeout(60_000);
  let v: VaultServer;
  before(async () => {
    v = await startVaultServer();
  });
  after(async () => {
    await v?.close();
  });

  describe('TLS', () => {
    it('serves a certificate its own CA verifies, and that the default trust store refuses', async () => {
      assert.match(v.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const r = await vaultCall(v, 'GET', 'sys/health');
      assert.equal(r.status, 200);
      await assert.rejects(
        new Promise((resolve, reject) => https.get(`${v.url}/v1/sys/health`, { agent: false }, resolve).on('error', reject)),
        /self[- ]signed|unable to (get|verify)/i,
      );
    });
  });

  describe('KV v2', () => {
    it('put then get: data.data and data.metadata as documented, JSON and Cache-Control headers', async () => {
      const put = await vaultCall(v, 'POST', 'secret/data/app/stripe', { token: v.rootToken, body: { data: { api_key: 'sk_1' } } });
      assert.equal(put.status, 200);
      assert.equal(data(put)['version'], 1);
      assert.equal(data(put)['destroyed'], false);
      assert.equal(data(put)['deletion_time'], '');
      const got = await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: v.rootToken });
      assert.equal(got.status, 200);
      assert.equal(got.headers['content-type'], 'application/json');
      assert.equal(got.headers['cache-control'], 'no-store');
      assert.deepEqual(data(got)['data'], { api_key: 'sk_1' });
      const md = data(got)['metadata'] as Obj;
      assert.deepEqual(Object.keys(md).sort(), ['created_time', 'custom_metadata', 'deletion_time', 'destroyed', 'version']);
      assert.equal(md['version'], 1);
      assert.ok(!Number.isNaN(Date.parse(String(md['created_time']))));
      for (const k of ['request_id', 'lease_id', 'renewable', 'lease_duration', 'wrap_info', 'warnings', 'auth']) assert.ok(k in got.body!, k);
    });

    it('?version=N reads an older version; the current one is the latest', async () => {
      const n = v.putKv('secret', 'app/versioned', { k: 'one' });
      v.putKv('secret', 'app/versioned', { k: 'two' });
      const old = await vaultCall(v, 'GET', `secret/data/app/versioned?version=${n}`, { token: v.rootToken });
      assert.deepEqual(data(old)['data'], { k: 'one' });
      const cur = await vaultCall(v, 'GET', 'secret/data/app/versioned', { token: v.rootToken });
      assert.deepEqual(data(cur)['data'], { k: 'two' });
      assert.equal((data(cur)['metadata'] as Obj)['version'], n + 1);
    });

    it('a missing secret or version is 404 with {"errors":[]}', async () => {
      const r = await vaultCall(v, 'GET', 'secret/data/app/nope', { token: v.rootToken });
      assert.equal(r.status, 404);
      assert.deepEqual(r.body, { errors: [] });
      v.putKv('secret', 'app/one-version', { a: 1 });
      const r2 = await vaultCall(v, 'GET', 'secret/data/app/one-version?version=7', { token: v.rootToken });
      assert.equal(r2.status, 404);
      assert.deepEqual(r2.body, { errors: [] });
    });

    it('a deleted version is 404 with data null and its deletion_time', async () => {
      v.putKv('secret', 'app/deleted', { a: 1 });
      v.deleteKvVersions('secret', 'app/deleted', [1]);
      const r = await vaultCall(v, 'GET', 'secret/data/app/deleted', { token: v.rootToken });
      assert.equal(r.status, 404);
      assert.equal(data(r)['data'], null);
      assert.notEqual((data(r)['metadata'] as Obj)['deletion_time'], '');
    });

    it('check-and-set: cas=0 creates, a stale cas is 400 "check-and-set parameter did not match the current version"', async () => {
      const first = await vaultCall(v, 'PUT', 'secret/data/app/cas', { token: v.rootToken, body: { data: { x: 1 }, options: { cas: 0 } } });
      assert.equal(first.status, 200);
      const again = await vaultCall(v, 'PUT', 'secret/data/app/cas', { token: v.rootToken, body: { data: { x: 2 }, options: { cas: 0 } } });
      assert.equal(again.status, 400);
      assert.deepEqual(again.body, { errors: ['check-and-set parameter did not match the current version'] });
      const right = await vaultCall(v, 'PUT', 'secret/data/app/cas', { token: v.rootToken, body: { data: { x: 2 }, options: { cas: 1 } } });
      assert.equal(data(right)['version'], 2);
      const got = await vaultCall(v, 'GET', 'secret/data/app/cas', { token: v.rootToken });
      assert.deepEqual(data(got)['data'], { x: 2 });
    });

    it('metadata: current_version and versions; LIST (the method, and GET ?list=true) gives immediate children', async () => {
      v.putKv('secret', 'team/a', { v: 1 });
      v.putKv('secret', 'team/a', { v: 2 });
      v.putKv('secret', 'team/sub/b', { v: 1 });
      const md = await vaultCall(v, 'GET', 'secret/metadata/team/a', { token: v.rootToken });
      assert.equal(data(md)['current_version'], 2);
      assert.deepEqual(Object.keys(data(md)['versions'] as Obj), ['1', '2']);
      const list = await vaultCall(v, 'LIST', 'secret/metadata/team', { token: v.rootToken });
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(data(list)['keys'], ['a', 'sub/']);
      const getList = await vaultCall(v, 'GET', 'secret/metadata/team/?list=true', { token: v.rootToken });
      assert.deepEqual(data(getList)['keys'], ['a', 'sub/']);
      const none = await vaultCall(v, 'LIST', 'secret/metadata/empty', { token: v.rootToken });
      assert.equal(none.status, 404);
      assert.deepEqual(none.body, { errors: [] });
      // GET, LIST, PUT, GET on one keep-alive connection: the shim rewrites each LIST request line only.
      const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: v.caPem! });
      try {
        let connections = 0;
        const a = agent as unknown as { createConnection: (...args: unknown[]) => unknown };
        const create = a.createConnection.bind(agent);
        a.createConnection = (...args: unknown[]) => {
          connections++;
          return create(...args);
        };
        await vaultCall(v, 'GET', 'secret/data/team/a', { token: v.rootToken, agent });
        const l2 = await vaultCall(v, 'LIST', 'secret/metadata/team', { token: v.rootToken, agent });
        assert.deepEqual(data(l2)['keys'], ['a', 'sub/']);
        const w = await vaultCall(v, 'PUT', 'secret/data/team/c', { token: v.rootToken, agent, body: { data: { LIST: 'LIST /v1/x HTTP/1.1' } } });
        assert.equal(w.status, 200);
        const after = await vaultCall(v, 'GET', 'secret/data/team/c', { token: v.rootToken, agent });
        assert.deepEqual(data(after)['data'], { LIST: 'LIST /v1/x HTTP/1.1' });
        assert.deepEqual(v.requests.slice(-4).map((q) => q.method), ['GET', 'LIST', 'PUT', 'GET']);
        assert.equal(connections, 1, 'all four on one connection');
      } finally {
        agent.destroy();
      }
    });

    it('an unknown mount is 404 "no handler for route"', async () => {
      const r = await vaultCall(v, 'GET', 'kv/data/x', { token: v.rootToken });
      assert.equal(r.status, 404);
      assert.match(String((r.body!['errors'] as string[])[0]), /no handler for route "kv\/data\/x"/);
    });
  });

  describe('tokens and policies', () => {
    it('no token, an unknown token: 403 "permission denied"', async () => {
      for (const token of [undefined, 'hvs.not-a-token']) {
        const r = await vaultCall(v, 'GET', 'secret/data/app/stripe', token === undefined ? {} : { token });
        assert.equal(r.status, 403);
        assert.deepEqual(r.body, { errors: ['permission denied'] });
      }
    });

    it('a path outside the token policy: 403 with Vault\'s policy text; inside: 200', async () => {
      const { token } = v.createToken({ paths: { 'secret/data/app/*': ['read'] } });
      const ok = await vaultCall(v, 'GET', 'secret/data/app/stripe', { token });
      assert.equal(ok.status, 200);
      const no = await vaultCall(v, 'GET', 'secret/data/team/a', { token });
      assert.equal(no.status, 403);
      assert.deepEqual(no.body, { errors: ['1 error occurred:\n\t* permission denied\n\n'] });
      const write = await vaultCall(v, 'PUT', 'secret/data/app/stripe', { token, body: { data: { x: 1 } } });
      assert.equal(write.status, 403, 'read only');
    });

    it('lookup-self: the documented fields, ttl counting down', async () => {
      const { token, accessor } = v.createToken({ policies: [], ttl: '1h', explicitMaxTtl: '2h' });
      const r = await vaultCall(v, 'GET', 'auth/token/lookup-self', { token });
      assert.equal(r.status, 200);
      const d = data(r);
      assert.equal(d['id'], token);
      assert.equal(d['accessor'], accessor);
      assert.equal(d['creation_ttl'], 3600);
      assert.equal(d['explicit_max_ttl'], 7200);
      assert.equal(d['renewable'], true);
      assert.deepEqual(d['policies'], ['default']);
      assert.ok((d['ttl'] as number) <= 3600 && (d['ttl'] as number) > 3590);
      assert.ok(!Number.isNaN(Date.parse(String(d['expire_time']))));
      assert.equal(d['type'], 'service');
    });

    it('renew-self: the increment, capped by the explicit max TTL with Vault\'s warning; a non-renewable token is 400', async () => {
      const { token } = v.createToken({ ttl: 60, explicitMaxTtl: 120 });
      const r = await vaultCall(v, 'POST', 'auth/token/renew-self', { token, body: { increment: 90 } });
      assert.equal(r.status, 200);
      const a = r.body!['auth'] as Obj;
      assert.equal(a['client_token'], token);
      assert.equal(a['lease_duration'], 90);
      assert.equal(a['renewable'], true);
      const capped = await vaultCall(v, 'POST', 'auth/token/renew-self', { token, body: { increment: '1h' } });
      const cd = (capped.body!['auth'] as Obj)['lease_duration'] as number;
      assert.ok(cd <= 120 && cd >= 118, String(cd));
      assert.match(String((capped.body!['warnings'] as string[])[0]), /exceeded the effective max_ttl/);
      const { token: fixed } = v.createToken({ renewable: false });
      const nr = await vaultCall(v, 'POST', 'auth/token/renew-self', { token: fixed, body: {} });
      assert.equal(nr.status, 400);
      assert.deepEqual(nr.body, { errors: ['lease is not renewable'] });
    });

    it('an expired token is 403', async () => {
      const { token } = v.createToken({ ttl: 1 });
      assert.equal((await vaultCall(v, 'GET', 'auth/token/lookup-self', { token })).status, 200);
      await sleep(1100);
      const r = await vaultCall(v, 'GET', 'auth/token/lookup-self', { token });
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { errors: ['permission denied'] });
    });
  });

  describe('AppRole', () => {
    it('login returns an auth block whose token works; a wrong or destroyed secret id is 400 "invalid role or secret ID"', async () => {
      const { roleId, secretId } = v.createAppRole('broker', { tokenTtl: '20m', paths: { 'secret/data/app/*': ['read'] } });
      const r = await vaultCall(v, 'POST', 'auth/approle/login', { body: { role_id: roleId, secret_id: secretId } });
      assert.equal(r.status, 200);
      const a = r.body!['auth'] as Obj;
      assert.match(String(a['client_token']), /^hvs\./);
      assert.equal(a['lease_duration'], 1200);
      assert.equal(a['renewable'], true);
      assert.deepEqual(a['metadata'], { role_name: 'broker' });
      assert.ok((a['policies'] as string[]).includes('default'));
      const read = await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: String(a['client_token']) });
      assert.equal(read.status, 200);
      const bad = await vaultCall(v, 'POST', 'auth/approle/login', { body: { role_id: roleId, secret_id: 'wrong' } });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { errors: ['invalid role or secret ID'] });
      v.destroySecretId(roleId, secretId);
      const gone = await vaultCall(v, 'POST', 'auth/approle/login', { body: { role_id: roleId, secret_id: secretId } });
      assert.equal(gone.status, 400);
    });
  });

  describe('namespaces (X-Vault-Namespace)', () => {
    it('a secret written in namespace A is not visible from B or root; the header is logged', async () => {
      v.putKv('secret', 'app/ns-only', { in: 'a' }, { namespace: 'team-a' });
      const inA = await vaultCall(v, 'GET', 'secret/data/app/ns-only', { token: v.rootToken, namespace: 'team-a' });
      assert.deepEqual(data(inA)['data'], { in: 'a' });
      for (const namespace of ['team-b', undefined]) {
        const r = await vaultCall(v, 'GET', 'secret/data/app/ns-only', { token: v.rootToken, ...(namespace ? { namespace } : {}) });
        assert.equal(r.status, 404, String(namespace));
      }
      // A token of namespace A is not valid in B.
      const { token } = v.createToken({ namespace: 'team-a', paths: { 'secret/*': ['read'] } });
      assert.equal((await vaultCall(v, 'GET', 'secret/data/app/ns-only', { token, namespace: 'team-a' })).status, 200);
      assert.equal((await vaultCall(v, 'GET', 'secret/data/app/ns-only', { token, namespace: 'team-b' })).status, 403);
      assert.equal((await vaultCall(v, 'GET', 'secret/data/app/ns-only', { token })).status, 403);
      const logged = v.requests.filter((q) => q.path === 'secret/data/app/ns-only').map((q) => q.namespace);
      assert.ok(logged.includes('team-a') && logged.includes('team-b') && logged.includes(undefined));
    });
  });

  describe('faults', () => {
    it('sealed: 503 "Vault is sealed" (sys/health says sealed); unsealed: served again', async () => {
      v.seal();
      try {
        const r = await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: v.rootToken });
        assert.equal(r.status, 503);
        assert.deepEqual(r.body, { errors: ['Vault is sealed'] });
        const h = await vaultCall(v, 'GET', 'sys/health');
        assert.equal(h.status, 503);
        assert.equal(h.body!['sealed'], true);
      } finally {
        v.unseal();
      }
      assert.equal((await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: v.rootToken })).status, 200);
    });

    it('failNext(500, 2): two 500s with an errors body, then normal service; a path prefix limits it', async () => {
      v.failNext(500, 2);
      for (let i = 0; i < 2; i++) {
        const r = await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: v.rootToken });
        assert.equal(r.status, 500);
        assert.ok(Array.isArray(r.body!['errors']));
      }
      assert.equal((await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: v.rootToken })).status, 200);
      v.failNext(502, 1, { pathPrefix: 'database/' });
      assert.equal((await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: v.rootToken })).status, 200);
      assert.equal((await vaultCall(v, 'GET', 'database/creds/none', { token: v.rootToken })).status, 502);
    });

    it('rateLimit: 429 with Retry-After and Vault\'s quota text', async () => {
      v.rateLimit(true);
      try {
        const r = await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: v.rootToken });
        assert.equal(r.status, 429);
        assert.equal(r.headers['retry-after'], '1');
        assert.deepEqual(r.body, { errors: ['request path "secret/data/app/stripe": rate limit quota exceeded'] });
      } finally {
        v.rateLimit(false);
      }
    });

    it('stop(): connection refused; start(): served again on the same port', async () => {
      await v.stop();
      await assert.rejects(vaultCall(v, 'GET', 'sys/health'), (e: Error & { code?: string }) => e.code === 'ECONNREFUSED');
      await v.start();
      assert.equal((await vaultCall(v, 'GET', 'secret/data/app/stripe', { token: v.rootToken })).status, 200);
    });

    it('stall(): the request is never answered (a client timeout fires)', async () => {
      v.stall(true);
      try {
        await assert.rejects(vaultCall(v, 'GET', 'sys/health', { timeoutMs: 300 }), (e: Error & { code?: string }) => e.code === 'ETIMEDOUT');
      } finally {
        v.stall(false);
      }
    });

    it('the request log holds method, path and namespace, never a body or token', async () => {
      await vaultCall(v, 'PUT', 'secret/data/app/logged', { token: v.rootToken, body: { data: { pw: 'hunter2-logged' } } });
      const text = JSON.stringify(v.requests);
      assert.ok(v.requests.some((q) => q.method === 'PUT' && q.path === 'secret/data/app/logged' && q.status === 200 && q.tokenSent));
      assert.doesNotMatch(text, /hunter2-logged/);
      assert.ok(!text.includes(v.rootToken));
    });
  });
});

describe('Vault API server: database secrets engine on a real PostgreSQL', function () {
  this.timeout(60_000);
  let pg: EphemeralPostgres;
  let v: VaultServer;
  before(async () => {
    pg = await sharedPostgres();
    v = await startVaultServer({ postgres: pg, sweepIntervalMs: 100 });
    const admin = new Client({ connectionString: pg.adminUrl });
    await admin.connect();
    await admin.query('CREATE TABLE IF NOT EXISTS vault_orders (id int)');
    await admin.query('TRUNCATE vault_orders');
    await admin.query('INSERT INTO vault_orders VALUES (1), (2)');
    await admin.end();
    v.createDatabaseRole('readonly', { grants: ['GRANT SELECT ON vault_orders TO "{{name}}";'], defaultTtl: '1h', maxTtl: '2h' });
    v.createDatabaseRole('short', { defaultTtl: 2, maxTtl: 2 });
  });
  after(async () => {
    await v?.close();
  });

  const login = async (user: string, password: string): Promise<Client> => {
    const c = new Client({ host: pg.host, port: pg.port, user, password, database: pg.database, connectionTimeoutMillis: 5000 });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const validUntil = async (user: string): Promise<Date | null> => {
    const c = new Client({ connectionString: pg.adminUrl });
    await c.connect();
    try {
      const r = await c.query<{ v: Date | null }>('SELECT rolvaliduntil AS v FROM pg_roles WHERE rolname = $1', [user]);
      return r.rows[0]?.v ?? null;
    } finally {
      await c.end();
    }
  };

  it('creds: a real login with the grants, VALID UNTIL the lease expiry; renew moves it (capped at max_ttl); revoke drops it and ends its session', async () => {
    const r = await vaultCall(v, 'GET', 'database/creds/readonly', { token: v.rootToken });
    assert.equal(r.status, 200, r.text);
    const leaseId = String(r.body!['lease_id']);
    assert.match(leaseId, /^database\/creds\/readonly\/[A-Za-z0-9]{24}$/);
    assert.equal(r.body!['lease_duration'], 3600);
    assert.equal(r.body!['renewable'], true);
    const { username, password } = data(r) as { username: string; password: string };
    assert.match(username, /^v-root-readonly-[A-Za-z0-9]{20}-\d+$/);
    assert.equal(password.length, 20);

    const session = await login(username, password);
    assert.deepEqual((await session.query('SELECT count(*)::int AS n FROM vault_orders')).rows, [{ n: 2 }]);
    const until = await validUntil(username);
    assert.ok(until && Math.abs(until.getTime() - (Date.now() + 3600_000)) < 5000, String(until));
    assert.deepEqual(v.leases().map((l) => l.leaseId), [leaseId]);

    const look = await vaultCall(v, 'PUT', 'sys/leases/lookup', { token: v.rootToken, body: { lease_id: leaseId } });
    assert.equal(data(look)['id'], leaseId);
    assert.equal(data(look)['renewable'], true);

    const renewed = await vaultCall(v, 'PUT', 'sys/leases/renew', { token: v.rootToken, body: { lease_id: leaseId, increment: 5400 } });
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal(renewed.body!['lease_id'], leaseId);
    assert.equal(renewed.body!['lease_duration'], 5400);
    const until2 = await validUntil(username);
    assert.ok(until2 && Math.abs(until2.getTime() - (Date.now() + 5400_000)) < 5000, String(until2));
    const capped = await vaultCall(v, 'PUT', 'sys/leases/renew', { token: v.rootToken, body: { lease_id: leaseId, increment: '10h' } });
    const d = capped.body!['lease_duration'] as number;
    assert.ok(d <= 7200 && d > 7190, String(d));
    assert.match(String((capped.body!['warnings'] as string[])[0]), /exceeded the effective max_ttl/);

    const revoked = await vaultCall(v, 'PUT', 'sys/leases/revoke', { token: v.rootToken, body: { lease_id: leaseId } });
    assert.equal(revoked.status, 204);
    await assert.rejects(session.query('SELECT 1'), 'the open session was terminated');
    await assert.rejects(login(username, password), (e: Error & { code?: string }) => e.code === '28P01');
    assert.equal(await validUntil(username), null);
    assert.deepEqual(v.leases(), []);
  });

  it('revoking an unknown or already revoked lease is 204 (as Vault); renew is 400 "lease not found"; lookup 400 "invalid lease"', async () => {
    const r = await vaultCall(v, 'PUT', 'sys/leases/revoke', { token: v.rootToken, body: { lease_id: 'database/creds/readonly/nope' } });
    assert.equal(r.status, 204);
    const renew = await vaultCall(v, 'PUT', 'sys/leases/renew', { token: v.rootToken, body: { lease_id: 'database/creds/readonly/nope' } });
    assert.equal(renew.status, 400);
    assert.deepEqual(renew.body, { errors: ['lease not found'] });
    const look = await vaultCall(v, 'PUT', 'sys/leases/lookup', { token: v.rootToken, body: { lease_id: 'database/creds/readonly/nope' } });
    assert.deepEqual(look.body, { errors: ['invalid lease'] });
  });

  it('an unknown role is 400 "unknown role"; a token without database/creds read is 403', async () => {
    const r = await vaultCall(v, 'GET', 'database/creds/nope', { token: v.rootToken });
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { errors: ['unknown role: nope'] });
    const { token } = v.createToken({ paths: { 'secret/*': ['read'] } });
    assert.equal((await vaultCall(v, 'GET', 'database/creds/readonly', { token })).status, 403);
    // The default policy renews but does not revoke leases.
    assert.equal((await vaultCall(v, 'PUT', 'sys/leases/revoke', { token, body: { lease_id: 'x' } })).status, 403);
  });

  it('an expired lease is revoked by the server itself: the login stops working', async () => {
    const r = await vaultCall(v, 'GET', 'database/creds/short', { token: v.rootToken });
    assert.equal(r.body!['lease_duration'], 2);
    const { username, password } = data(r) as { username: string; password: string };
    await (await login(username, password)).end();
    await sleep(2600);
    await assert.rejects(login(username, password), (e: Error & { code?: string }) => e.code === '28P01');
    assert.equal(v.leases().length, 0);
    assert.equal(await validUntil(username), null, 'the role is dropped, not just past VALID UNTIL');
  });
});

describe('Vault API server: PostgreSQL down at renew or revoke', function () {
  this.timeout(90_000);
  let pg: EphemeralPostgres;
  let v: VaultServer;
  before(async () => {
    // Its own cluster: stopping the shared one would break other files' pools.
    pg = await startEphemeralPostgres();
    v = await startVaultServer({ postgres: pg });
    v.createDatabaseRole('app', { defaultTtl: '1h', maxTtl: '2h' });
  });
  after(async () => {
    await v?.close();
    await pg?.close();
  });

  it('renew and revoke answer 400 "failed to … entry" and keep the lease; once PostgreSQL is back, revoke drops the role', async () => {
    const r = await vaultCall(v, 'GET', 'database/creds/app', { token: v.rootToken });
    const leaseId = String(r.body!['lease_id']);
    const { username, password } = data(r) as { username: string; password: string };
    await pg.stop();
    try {
      const renew = await vaultCall(v, 'PUT', 'sys/leases/renew', { token: v.rootToken, body: { lease_id: leaseId } });
      assert.equal(renew.status, 400);
      assert.match(String((renew.body!['errors'] as string[])[0]), /^failed to renew entry: /);
      const revoke = await vaultCall(v, 'PUT', 'sys/leases/revoke', { token: v.rootToken, body: { lease_id: leaseId } });
      assert.equal(revoke.status, 400);
      assert.match(String((revoke.body!['errors'] as string[])[0]), /^failed to revoke entry: /);
      assert.deepEqual(v.leases().map((l) => l.leaseId), [leaseId], 'the lease stays until revoked');
      const creds = await vaultCall(v, 'GET', 'database/creds/app', { token: v.rootToken });
      assert.equal(creds.status, 500);
    } finally {
      await pg.start();
    }
    const c = new Client({ host: pg.host, port: pg.port, user: username, password, database: pg.database });
    await c.connect();
    await c.end();
    const revoke = await vaultCall(v, 'PUT', 'sys/leases/revoke', { token: v.rootToken, body: { lease_id: leaseId } });
    assert.equal(revoke.status, 204, revoke.text);
    const c2 = new Client({ host: pg.host, port: pg.port, user: username, password, database: pg.database });
    await assert.rejects(c2.connect(), (e: Error & { code?: string }) => e.code === '28P01');
    assert.deepEqual(v.leases(), []);
  });
});

describe('Vault API server: HTTP plumbing', () => {
  it('rewriteList: a LIST request line becomes GET ?list=true; anything else is untouched', () => {
    const r = (s: string): string => rewriteList(Buffer.from(s, 'latin1')).toString('latin1');
    assert.equal(r('LIST /v1/secret/metadata/a HTTP/1.1\r\nHost: x\r\n\r\n'), 'GET /v1/secret/metadata/a?list=true HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(r('LIST /v1/secret/metadata/a?x=1 HTTP/1.1\r\n\r\n'), 'GET /v1/secret/metadata/a?x=1&list=true HTTP/1.1\r\n\r\n');
    for (const s of ['GET /v1/x HTTP/1.1\r\n\r\n', '{"LIST /v1/x HTTP/1.1":1}', 'LIST /v1/x HTTP/1.1']) assert.equal(r(s), s);
  });

  it('parseDuration: seconds and Go-style durations; anything else is a 400 naming the field', () => {
    assert.equal(parseDuration('ttl', 90), 90);
    assert.equal(parseDuration('ttl', '90'), 90);
    assert.equal(parseDuration('ttl', '1h30m'), 5400);
    assert.equal(parseDuration('ttl', '2d'), 172800);
    for (const bad of ['1x', 'h', -1, 1.5, '1h 2m', null]) {
      assert.throws(() => parseDuration('increment', bad), (e: VaultHttpError) => e.status === 400 && /"increment"/.test(e.errors[0]!), String(bad));
    }
  });
});
