import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'pg';
import type { VaultBackendConfig } from '../../src/config/config-types';
import { BrokerError } from '../../src/lib/errors';
import { ManualClock, systemClock } from '../../src/lib/clock';
import { createLogger } from '../../src/lib/logger';
import { SecretValue } from '../../src/lib/secret-value';
import { canList, canPut, CredentialLeftError, type LeaseBinding } from '../../src/backends/backend';
import { openVaultBackend, type VaultBackend, type VaultDynamicSpec } from '../../src/backends/vault';
import { sharedPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { startVaultServer, type VaultServer } from '../vault-server/vault-server';

/**
 * The Vault backend against the in-repo Vault API server (test/vault-server,
 * kept honest by a conformance test with Vault's official Go client) and a
 * real PostgreSQL for the database secrets engine.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function expectKind(p: Promise<unknown>, kind: string, message?: RegExp): Promise<BrokerError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof BrokerError, `expected a BrokerError ${kind}, got ${caught === undefined ? 'success' : String(caught)}`);
  assert.equal(caught.kind, kind, `kind (message: ${caught.message})`);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** Vault's own words must never be in a message (they go in cause). */
const VAULT_TEXT = /permission denied|sealed|rate limit|internal error|Vault answered|errors|ECONNREFUSED|certificate/i;

/** A pino logger writing into memory, so tests can check that no secret reaches the log. */
function memoryLogger(): { log: ReturnType<typeof createLogger>; text(): string } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination: sink }), text: () => lines.join('') };
}

describe('vault backend (real in-repo Vault API server, real PostgreSQL)', function () {
  this.timeout(60_000);
  let pg: EphemeralPostgres;
  let server: VaultServer;
  let dir: string;
  const opened: VaultBackend[] = [];
  let logs: ReturnType<typeof memoryLogger>;
  /** Every secret a test handled: none may appear in the log. */
  const secrets: string[] = [];

  before(async () => {
    pg = await sharedPostgres();
    server = await startVaultServer({ postgres: pg });
    dir = mkdtempSync(path.join(tmpdir(), 'sb-vault-backend-'));
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    logs = memoryLogger();
    server.unseal();
    server.rateLimit(false);
    server.stall(false);
  });
  afterEach(async () => {
    for (const b of opened.splice(0)) await b.close();
    const text = logs.text();
    for (const s of secrets.splice(0)) assert.ok(!text.includes(s), 'a secret reached the log');
  });

  let fileNo = 0;
  const tokenFile = (token: string): string => {
    const f = path.join(dir, `token-${++fileNo}`);
    writeFileSync(f, `${token}\n`, { mode: 0o600 });
    secrets.push(token);
    return f;
  };

  const config = (over: Partial<VaultBackendConfig> = {}): VaultBackendConfig => ({
    kind: 'vault',
    name: 'vault-test',
    address: server.url,
    mount: 'secret',
    databaseMount: 'database',
    caFile: server.caFile!,
    auth: { kind: 'token_file', tokenFile: tokenFile(server.rootToken) },
    cacheTtlMs: 0,
    timeoutMs: 2_000,
    breakerFailures: 5,
    breakerOpenMs: 1_000,
    ...over,
  });

  const open = (over: Partial<VaultBackendConfig> = {}): VaultBackend => {
    const b = openVaultBackend(config(over), { clock: systemClock, log: logs.log });
    opened.push(b);
    return b;
  };

  const requestsSince = (n: number): typeof server.requests => server.requests.slice(n);

  describe('KV v2', () => {
    it('get: current value, integer version and createdAt from the metadata; a pinned version; a field', async () => {
      server.putKv('secret', 'app/stripe', { api_key: 'sk_one', user: 'acct' });
      const before = Date.now();
      server.putKv('secret', 'app/stripe', { api_key: 'sk_two', user: 'acct' });
      secrets.push('sk_one', 'sk_two');
      const b = open();
      assert.ok(canPut(b.kv) && canList(b.kv));
      const cur = await b.kv.get('app/stripe', { field: 'api_key' });
      assert.equal(cur.value.revealString(), 'sk_two');
      assert.equal(cur.version, 2);
      assert.ok(cur.createdAt !== undefined && cur.createdAt >= before - 1000 && cur.createdAt <= Date.now() + 1000, `createdAt ${cur.createdAt}`);
      assert.equal(String(cur.value), '[REDACTED]');
      const v1 = await b.kv.get('app/stripe', { field: 'api_key', version: 1 });
      assert.equal(v1.value.revealString(), 'sk_one');
      assert.equal(v1.version, 1);
      assert.equal((await b.kv.get('app/stripe', { field: 'user' })).value.revealString(), 'acct');
    });

    it('a map with several keys needs a field; one key needs none; a missing key, secret or version is not_found', async () => {
      server.putKv('secret', 'app/multi', { a: 'x', b: 'y' });
      server.putKv('secret', 'app/single', { token: 'only-one' });
      secrets.push('only-one');
      const b = open();
      await expectKind(b.kv.get('app/multi'), 'invalid_argument', /field: .*"app\/multi".*2 keys/);
      assert.equal((await b.kv.get('app/single')).value.revealString(), 'only-one');
      await expectKind(b.kv.get('app/single', { field: 'nope' }), 'not_found', /field "nope" of secret "app\/single"/);
      await expectKind(b.kv.get('app/absent'), 'not_found', /secret "app\/absent" in backend "vault-test" not found/);
      await expectKind(b.kv.get('app/single', { version: 9 }), 'not_found', /version 9 of secret "app\/single"/);
      server.putKv('secret', 'app/deleted', { v: 'gone' });
      server.putKv('secret', 'app/deleted', { v: 'kept' });
      server.deleteKvVersions('secret', 'app/deleted', [1]);
      await expectKind(b.kv.get('app/deleted', { version: 1 }), 'not_found');
      assert.equal((await b.kv.get('app/deleted')).version, 2);
    });

    it('a value that is not a JSON string is refused, not converted', async () => {
      server.putKv('secret', 'app/typed', { port: 5432, obj: { a: 1 }, nil: null, flag: true });
      const b = open();
      for (const field of ['port', 'obj', 'nil', 'flag']) {
        await expectKind(b.kv.get('app/typed', { field }), 'failed_precondition', new RegExp(`field "${field}" of secret "app/typed" .* is not a string`));
      }
    });

    it('bad names, versions and fields are invalid_argument before anything is sent', async () => {
      const b = open();
      const n = server.requests.length;
      await expectKind(b.kv.get('../sys/seal'), 'invalid_argument', /^name:/);
      await expectKind(b.kv.get('app/x?version=2'), 'invalid_argument', /^name:/);
      await expectKind(b.kv.get('app/x', { version: 0 }), 'invalid_argument', /^version:/);
      await expectKind(b.kv.get('app/x', { version: 1.5 }), 'invalid_argument', /^version:/);
      await expectKind(b.kv.get('app/x', { field: '' }), 'invalid_argument', /^field:/);
      assert.equal(server.requests.length, n);
    });

    it('put writes { value } with check-and-set = the version read: 1 for a new name, then +1, and reads back', async () => {
      const b = open();
      const n = server.requests.length;
      const first = await b.kv.put('rotated/token', SecretValue.fromString('first-value'));
      assert.equal(first.version, 1);
      assert.ok(typeof first.createdAt === 'number');
      server.putKv('secret', 'rotated/token', { value: 'outside-writer' });
      const third = await b.kv.put('rotated/token', SecretValue.fromString('third-value'));
      assert.equal(third.version, 3);
      secrets.push('first-value', 'third-value', 'outside-writer');
      const back = await b.kv.get('rotated/token');
      assert.equal(back.value.revealString(), 'third-value');
      assert.equal(back.version, 3);
      assert.equal((await b.kv.get('rotated/token', { field: 'value', version: 1 })).value.revealString(), 'first-value');
      const writes = requestsSince(n).filter((r) => r.path === 'secret/data/rotated/token' && r.method !== 'GET');
      assert.equal(writes.length, 2);
      assert.ok(writes.every((r) => r.status === 200));
    });

    it('put: a check-and-set mismatch (another writer got in) is read again and retried; three in a row is unavailable', async () => {
      const b = open();
      await b.kv.put('race/token', SecretValue.fromString('v1'));
      server.failNext(400, 1, { pathPrefix: 'secret/data/race/token', errors: ['check-and-set parameter did not match the current version'] });
      const second = await b.kv.put('race/token', SecretValue.fromString('v2'));
      assert.equal(second.version, 2);
      server.failNext(400, 3, { pathPrefix: 'secret/data/race/token', errors: ['check-and-set parameter did not match the current version'] });
      const err = await expectKind(b.kv.put('race/token', SecretValue.fromString('v3')), 'unavailable', /kept changing/);
      assert.doesNotMatch(err.message, /check-and-set/);
      assert.equal((await b.kv.get('race/token')).version, 2);
    });

    it('put refuses an empty or non-UTF-8 value', async () => {
      const b = open();
      await expectKind(b.kv.put('app/bin', SecretValue.fromBytes(Buffer.from([0xff, 0xfe]))), 'invalid_argument', /^value:.*UTF-8/);
      await expectKind(b.kv.put('app/bin', SecretValue.fromString('')), 'invalid_argument', /^value:/);
    });

    it('list walks the mount: every name with its current version, sorted', async () => {
      server.putKv('secret', 'list/b', { value: 'x' });
      server.putKv('secret', 'list/a/deep', { value: 'x' });
      server.putKv('secret', 'list/a/deep', { value: 'y' });
      const b = open();
      const names = (await b.kv.list()).filter((l) => l.name.startsWith('list/'));
      assert.deepEqual(
        names.map((l) => [l.name, l.version]),
        [
          ['list/a/deep', 2],
          ['list/b', 1],
        ],
      );
      assert.ok(names.every((l) => typeof l.createdAt === 'number'));
    });
  });

  describe('auth', () => {
    it('construction does no I/O and does not throw on an unreachable Vault; the first use is unavailable', async () => {
      const port = await closedPort();
      const n = server.requests.length;
      const b = open({ address: `https://127.0.0.1:${port}`, auth: { kind: 'token_file', tokenFile: path.join(dir, 'does-not-exist-yet') } });
      assert.equal(server.requests.length, n);
      writeFileSync(path.join(dir, 'does-not-exist-yet'), 'hvs.whatever\n');
      const err = await expectKind(b.kv.get('app/x'), 'unavailable', /^backend "vault-test" \(vault\) is unavailable$/);
      assert.doesNotMatch(err.message, VAULT_TEXT);
      await expectKind(b.health(), 'unavailable');
    });

    it('an unreadable ca_file does not fail construction; every call is failed_precondition naming it', async () => {
      const missing = path.join(dir, 'no-such-ca.pem');
      const n = server.requests.length;
      const b = open({ caFile: missing });
      await expectKind(b.kv.get('app/x'), 'failed_precondition', /cannot read ca_file .*no-such-ca\.pem \(ENOENT\)/);
      await expectKind(b.health(), 'failed_precondition');
      assert.equal(server.requests.length, n);
    });

    it('token_file: a missing or empty file is failed_precondition naming no token', async () => {
      const b = open({ auth: { kind: 'token_file', tokenFile: path.join(dir, 'missing-token') } });
      await expectKind(b.kv.get('app/x'), 'failed_precondition', /cannot authenticate to Vault: cannot read token_file \(ENOENT\)/);
      const empty = path.join(dir, 'empty-token');
      writeFileSync(empty, '\n');
      const b2 = open({ auth: { kind: 'token_file', tokenFile: empty } });
      await expectKind(b2.kv.get('app/x'), 'failed_precondition', /token_file does not hold a token/);
    });

    it('token_file: a file caught empty mid-rewrite keeps the token in use; the finished file is read', async () => {
      server.putKv('secret', 'tf/c', { value: 'tf-c' });
      const rules = { 'secret/data/tf/*': ['read'] } as const;
      const a = server.createToken({ paths: rules }).token;
      const file = tokenFile(a);
      const b = open({ auth: { kind: 'token_file', tokenFile: file } });
      await b.kv.get('tf/c');
      writeFileSync(file, '');
      assert.equal((await b.kv.get('tf/c')).value.revealString(), 'tf-c');
      assert.match(logs.text(), /keeping the current token/);
      const next = server.createToken({ paths: rules }).token;
      secrets.push(next);
      writeFileSync(file, next);
      server.revokeToken(a);
      assert.equal((await b.kv.get('tf/c')).value.revealString(), 'tf-c');
    });

    it('token_file: a rewritten file is re-read (mtime/size change) and its new token used', async () => {
      server.putKv('secret', 'tf/a', { value: 'tf-secret' });
      secrets.push('tf-secret');
      const rules = { 'secret/data/tf/*': ['read'] } as const;
      const a = server.createToken({ paths: rules }).token;
      const file = tokenFile(a);
      const b = open({ auth: { kind: 'token_file', tokenFile: file } });
      assert.equal((await b.kv.get('tf/a')).value.revealString(), 'tf-secret');
      const next = server.createToken({ paths: rules, displayName: 'a-longer-name' }).token;
      secrets.push(next);
      server.revokeToken(a);
      writeFileSync(file, `${next}\n`);
      assert.equal((await b.kv.get('tf/a')).value.revealString(), 'tf-secret');
    });

    it('token_file: a 403 re-reads the file once even when its stat did not change, and retries with the new token', async () => {
      server.putKv('secret', 'tf/b', { value: 'tf-b' });
      const rules = { 'secret/data/tf/*': ['read'] } as const;
      const a = server.createToken({ paths: rules }).token;
      const file = tokenFile(a);
      const fixed = 1_700_000_000; // whole seconds, so restoring the mtime is exact
      utimesSync(file, fixed, fixed);
      const b = open({ auth: { kind: 'token_file', tokenFile: file } });
      await b.kv.get('tf/b');
      const st = statSync(file);
      let next = server.createToken({ paths: rules }).token;
      while (next.length !== a.length) next = server.createToken({ paths: rules }).token;
      secrets.push(next);
      server.revokeToken(a);
      writeFileSync(file, `${next}\n`);
      utimesSync(file, fixed, fixed);
      const now = statSync(file);
      assert.deepEqual([now.mtimeMs, now.size, now.ino], [st.mtimeMs, st.size, st.ino], 'same size, mtime and inode: only the 403 can tell');
      const n = server.requests.length;
      assert.equal((await b.kv.get('tf/b')).value.revealString(), 'tf-b');
      const seen = requestsSince(n).filter((r) => r.path === 'secret/data/tf/b').map((r) => r.status);
      assert.deepEqual(seen, [403, 200]);
    });

    it('token_file: a 403 with an unchanged file is failed_precondition and is not retried', async () => {
      server.putKv('secret', 'other/x', { value: 'not-yours' });
      const t = server.createToken({ paths: { 'secret/data/tf/*': ['read'] } }).token;
      const b = open({ auth: { kind: 'token_file', tokenFile: tokenFile(t) } });
      const n = server.requests.length;
      const err = await expectKind(b.kv.get('other/x'), 'failed_precondition', /^the broker cannot read secret "other\/x" in backend "vault-test"$/);
      assert.doesNotMatch(err.message, VAULT_TEXT);
      assert.match(String((err.cause as Error).message), /403/);
      assert.equal(requestsSince(n).filter((r) => r.path === 'secret/data/other/x').length, 1);
    });

    it('token_file: lookup-self learns the TTL and renew-self renews at 2/3 of it, so the token outlives its first TTL', async function () {
      this.timeout(20_000);
      server.putKv('secret', 'ttl/x', { value: 'ttl-secret' });
      const t = server.createToken({ ttl: 3, renewable: true, paths: { 'secret/data/ttl/*': ['read'] } }).token;
      const b = open({ auth: { kind: 'token_file', tokenFile: tokenFile(t) } });
      const n = server.requests.length;
      await b.kv.get('ttl/x');
      assert.ok(requestsSince(n).some((r) => r.path === 'auth/token/lookup-self'));
      await sleep(4_500); // past the first TTL: only renewals keep it alive
      const renewals = requestsSince(n).filter((r) => r.path === 'auth/token/renew-self' && r.status === 200);
      assert.ok(renewals.length >= 1, 'renew-self was called');
      assert.equal((await b.kv.get('ttl/x')).value.revealString(), 'ttl-secret');
      assert.match(logs.text(), /token renewed/);
    });

    it('token_file: a renewal capped by the token\'s max TTL stops the renewals (no renewing ever more often)', async function () {
      this.timeout(20_000);
      const t = server.createToken({ ttl: 3, renewable: true, explicitMaxTtl: 4 }).token;
      const b = open({ auth: { kind: 'token_file', tokenFile: tokenFile(t) } });
      const n = server.requests.length;
      await b.health();
      await sleep(4_500);
      const renewals = requestsSince(n).filter((r) => r.path === 'auth/token/renew-self');
      assert.equal(renewals.length, 1, `renew-self calls: ${renewals.length}`);
      assert.match(logs.text(), /reached its max TTL/);
    });

    it('renewal and re-login are also due on use (the clock says so even when no timer fired)', async () => {
      server.putKv('secret', 'due/x', { value: 'due' });
      const clock = new ManualClock(Date.now());
      const t = server.createToken({ ttl: 3600, renewable: true, paths: { 'secret/data/due/*': ['read'] } }).token;
      const b = openVaultBackend(config({ auth: { kind: 'token_file', tokenFile: tokenFile(t) } }), { clock, log: logs.log });
      opened.push(b);
      await b.kv.get('due/x');
      let n = server.requests.length;
      clock.advance(1_000_000); // before 2/3 of the TTL: nothing to do
      await b.kv.get('due/x');
      assert.deepEqual(requestsSince(n).map((r) => r.path), ['secret/data/due/x']);
      n = server.requests.length;
      clock.advance(1_500_000); // past 2/3 of the TTL
      await b.kv.get('due/x');
      assert.deepEqual(requestsSince(n).map((r) => r.path), ['auth/token/renew-self', 'secret/data/due/x']);

      const { roleId, secretId } = server.createAppRole('due-role', { tokenTtl: 3600, paths: { 'secret/data/due/*': ['read'] } });
      const secretIdFile = path.join(dir, 'due-secret-id');
      writeFileSync(secretIdFile, secretId);
      const ar = openVaultBackend(config({ auth: { kind: 'approle', roleId, secretIdFile, mount: 'approle' } }), { clock, log: logs.log });
      opened.push(ar);
      await ar.kv.get('due/x');
      n = server.requests.length;
      clock.advance(2_500_000);
      await ar.kv.get('due/x');
      assert.deepEqual(requestsSince(n).map((r) => r.path), ['auth/approle/login', 'secret/data/due/x']);
    });

    it('close clears the renewal timer: no renew-self after close, and later calls are unavailable', async function () {
      this.timeout(20_000);
      const t = server.createToken({ ttl: 3, renewable: true }).token;
      const b = open({ auth: { kind: 'token_file', tokenFile: tokenFile(t) } });
      await b.health();
      await b.close();
      const n = server.requests.length;
      await sleep(2_500);
      assert.equal(requestsSince(n).length, 0);
      await expectKind(b.kv.get('app/x'), 'unavailable', /closed/);
      await expectKind(b.database.revoke({ backend: 'vault-test', id: 'x' }), 'unavailable', /closed/);
    });

    it('approle: logs in on first use with the secret id from its file, and again before the token expires', async function () {
      this.timeout(20_000);
      server.putKv('secret', 'ar/x', { value: 'ar-secret' });
      secrets.push('ar-secret');
      const { roleId, secretId } = server.createAppRole('broker', { tokenTtl: 3, paths: { 'secret/data/ar/*': ['read'] } });
      secrets.push(secretId);
      const secretIdFile = path.join(dir, 'secret-id');
      writeFileSync(secretIdFile, `${secretId}\n`);
      const n = server.requests.length;
      const b = open({ auth: { kind: 'approle', roleId, secretIdFile, mount: 'approle' } });
      assert.equal(server.requests.length, n, 'no login at construction');
      assert.equal((await b.kv.get('ar/x')).value.revealString(), 'ar-secret');
      const logins = (): number => requestsSince(n).filter((r) => r.path === 'auth/approle/login' && r.status === 200).length;
      assert.equal(logins(), 1);
      assert.ok(requestsSince(n).filter((r) => r.path === 'auth/approle/login').every((r) => !r.tokenSent), 'a login carries no token');
      await sleep(4_500);
      assert.ok(logins() >= 2, `logged in again (${logins()} logins)`);
      assert.equal((await b.kv.get('ar/x')).value.revealString(), 'ar-secret');
    });

    it('approle: a 403 with a token Vault still knows is the policy\'s answer (no new login); with a token Vault dropped, it logs in again and retries once', async () => {
      server.putKv('secret', 'ar/y', { value: 'ar-y' });
      const { roleId, secretId } = server.createAppRole('broker-403', { paths: { 'secret/data/ar/*': ['read'] } });
      secrets.push(secretId);
      const secretIdFile = path.join(dir, 'secret-id-403');
      writeFileSync(secretIdFile, secretId);
      const b = open({ auth: { kind: 'approle', roleId, secretIdFile, mount: 'approle' } });
      await b.kv.get('ar/y');
      const logins = (since: number): number => requestsSince(since).filter((r) => r.path === 'auth/approle/login').length;
      // The read is refused, lookup-self says the token is fine: failed_precondition, no login.
      let n = server.requests.length;
      server.failNext(403, 1, { pathPrefix: 'secret/data/ar/y' });
      await expectKind(b.kv.get('ar/y'), 'failed_precondition', /^the broker cannot read secret "ar\/y" in backend "vault-test"$/);
      assert.equal(logins(n), 0);
      assert.ok(requestsSince(n).some((r) => r.path === 'auth/token/lookup-self'));
      // The read and lookup-self are refused (the token is gone): a new login, and the read succeeds.
      n = server.requests.length;
      server.failNext(403, 2);
      assert.equal((await b.kv.get('ar/y')).value.revealString(), 'ar-y');
      assert.equal(logins(n), 1);
      assert.deepEqual(
        requestsSince(n).map((r) => `${r.path} ${r.status}`),
        ['secret/data/ar/y 403', 'auth/token/lookup-self 403', 'auth/approle/login 200', 'secret/data/ar/y 200'],
      );
    });

    it('approle: a refused login is failed_precondition without Vault text', async () => {
      const { roleId } = server.createAppRole('broker-bad');
      const secretIdFile = path.join(dir, 'wrong-secret-id');
      writeFileSync(secretIdFile, 'not-the-secret-id\n');
      const b = open({ auth: { kind: 'approle', roleId, secretIdFile, mount: 'approle' } });
      const err = await expectKind(b.kv.get('app/x'), 'failed_precondition', /cannot authenticate to Vault: Vault refused the AppRole login/);
      assert.doesNotMatch(err.message, /invalid role or secret ID/);
    });

    it('namespace: X-Vault-Namespace is sent on every request and reads that namespace', async () => {
      server.putKv('secret', 'ns/x', { value: 'in-team-a' }, { namespace: 'team-a' });
      server.putKv('secret', 'ns/x', { value: 'in-root' });
      const t = server.createToken({ namespace: 'team-a', paths: { 'secret/data/ns/*': ['read'] } }).token;
      const b = open({ namespace: 'team-a', auth: { kind: 'token_file', tokenFile: tokenFile(t) } });
      const n = server.requests.length;
      assert.equal((await b.kv.get('ns/x')).value.revealString(), 'in-team-a');
      const sent = requestsSince(n);
      assert.ok(sent.length >= 2);
      assert.ok(sent.every((r) => r.namespace === 'team-a'), JSON.stringify(sent));
      const root = open();
      const m = server.requests.length;
      assert.equal((await root.kv.get('ns/x')).value.revealString(), 'in-root');
      assert.ok(requestsSince(m).every((r) => r.namespace === undefined));
    });
  });

  describe('errors', () => {
    it('429, 500, 502, 503 sealed → unavailable; no Vault text in the message; service resumes', async () => {
      server.putKv('secret', 'err/x', { value: 'err-secret' });
      const b = open();
      await b.kv.get('err/x');
      server.rateLimit(true);
      assert.doesNotMatch((await expectKind(b.kv.get('err/x'), 'unavailable')).message, VAULT_TEXT);
      server.rateLimit(false);
      for (const status of [500, 502]) {
        server.failNext(status, 1);
        const err = await expectKind(b.kv.get('err/x'), 'unavailable', /^backend "vault-test" \(vault\) is unavailable$/);
        assert.match(String((err.cause as Error).message), new RegExp(String(status)));
      }
      server.seal();
      const sealed = await expectKind(b.kv.get('err/x'), 'unavailable');
      assert.doesNotMatch(sealed.message, VAULT_TEXT);
      assert.match(String((sealed.cause as Error).message), /503.*sealed/);
      await expectKind(b.health(), 'unavailable');
      server.unseal();
      assert.equal((await b.kv.get('err/x')).version, 1);
      await b.health();
    });

    it('a stopped server → unavailable (connection refused); it resumes when the server returns', async () => {
      server.putKv('secret', 'err/y', { value: 'y' });
      const b = open();
      await b.kv.get('err/y');
      await server.stop();
      try {
        const err = await expectKind(b.kv.get('err/y'), 'unavailable', /^backend "vault-test" \(vault\) is unavailable$/);
        assert.doesNotMatch(err.message, VAULT_TEXT);
        await expectKind(b.database.revoke({ backend: 'vault-test', id: 'database/creds/x/y' }), 'unavailable');
      } finally {
        await server.start();
      }
      assert.equal((await b.kv.get('err/y')).value.revealString(), 'y');
    });

    it('a server that never answers → unavailable within the timeout', async () => {
      server.putKv('secret', 'err/z', { value: 'z' });
      const b = open({ timeoutMs: 400 });
      await b.kv.get('err/z');
      server.stall(true);
      const t0 = Date.now();
      try {
        await expectKind(b.kv.get('err/z'), 'unavailable');
      } finally {
        server.stall(false);
      }
      const took = Date.now() - t0;
      assert.ok(took >= 350 && took < 1_500, `took ${took} ms`);
    });
  });

  describe('dynamic database credentials', () => {
    const spec = (role: string): VaultDynamicSpec => ({ role, connection: { host: pg.host, port: pg.port, database: pg.database } });
    const lease = (ttlMs: number, maxMs = ttlMs * 4): LeaseBinding => {
      const now = Date.now();
      return { leaseId: `lease-${Math.random()}`, agent: 'a', action: 'reporting.db', resource: 'r', expiresAt: now + ttlMs, maxExpiresAt: now + maxMs };
    };
    const login = async (user: string, password: string): Promise<void> => {
      const c = new Client({ host: pg.host, port: pg.port, user, password, database: pg.database, connectionTimeoutMillis: 10_000 });
      await c.connect();
      try {
        await c.query('SELECT 1');
      } finally {
        await c.end();
      }
    };

    before(() => {
      server.createDatabaseRole('readonly', { defaultTtl: 3600, maxTtl: 7200 });
    });

    it('create → a login that WORKS on PostgreSQL, with Vault’s lease shortened to the broker lease; renew; revoke → the login FAILS; revoke again resolves', async () => {
      const b = open();
      const l = lease(60_000, 90_000);
      const issued = await b.database.create(spec('readonly'), l);
      const password = issued.credential.password.revealString();
      secrets.push(password);
      assert.equal(issued.handle.backend, 'vault-test');
      assert.match(issued.handle.id, /^database\/creds\/readonly\//);
      assert.deepEqual(
        { kind: issued.credential.kind, host: issued.credential.host, port: issued.credential.port, database: issued.credential.database },
        { kind: 'database', host: pg.host, port: pg.port, database: pg.database },
      );
      assert.ok(issued.expiresAt <= l.expiresAt && issued.expiresAt > l.expiresAt - 5_000, `expiresAt ${issued.expiresAt - Date.now()} ms from now`);
      const vaultLease = server.leases().find((x) => x.leaseId === issued.handle.id);
      assert.ok(vaultLease, 'Vault has the lease');
      const vaultLeft = vaultLease.expiresAt.getTime() - Date.now();
      assert.ok(vaultLeft <= 62_000 && vaultLeft > 50_000, `Vault's lease was shortened to the broker lease (${vaultLeft} ms left)`);
      assert.equal(vaultLease.username, issued.credential.user);
      await login(issued.credential.user, password);

      const renewed = await b.database.renew(issued.handle, { leaseId: l.leaseId, expiresAt: Date.now() + 120_000, maxExpiresAt: l.maxExpiresAt });
      assert.ok(renewed.expiresAt <= l.maxExpiresAt && renewed.expiresAt > l.maxExpiresAt - 5_000, 'renewal capped at maxExpiresAt');
      const after = server.leases().find((x) => x.leaseId === issued.handle.id)!;
      assert.ok(Math.abs(after.expiresAt.getTime() - l.maxExpiresAt) < 2_000, 'Vault lease extended to maxExpiresAt');
      await login(issued.credential.user, password);

      await b.database.revoke(issued.handle);
      assert.equal(server.leases().find((x) => x.leaseId === issued.handle.id), undefined);
      await assert.rejects(login(issued.credential.user, password), /password authentication failed|does not exist/);
      await b.database.revoke(issued.handle); // already revoked
      await b.database.revoke({ backend: 'vault-test', id: 'database/creds/readonly/neverissued' }); // unknown
    });

    it('the database down at revoke and renew (Vault: 400 "failed to … entry") is unavailable, so the revoke is retried; it succeeds when the database returns', async function () {
      this.timeout(60_000);
      const b = open();
      const l = lease(60_000);
      const issued = await b.database.create(spec('readonly'), l);
      const password = issued.credential.password.revealString();
      secrets.push(password);
      await pg.stop();
      try {
        const revokeErr = await expectKind(b.database.revoke(issued.handle), 'unavailable', /^backend "vault-test" \(vault\) is unavailable$/);
        assert.match(String((revokeErr.cause as Error).message), /400.*failed to revoke entry/);
        await expectKind(b.database.renew(issued.handle, l), 'unavailable');
      } finally {
        await pg.start();
      }
      await login(issued.credential.user, password); // the lease was kept, so the login still exists
      await b.database.revoke(issued.handle);
      await assert.rejects(login(issued.credential.user, password), /password authentication failed|does not exist/);
    });

    it('renew of a revoked lease is refused (not unavailable), with no Vault text', async () => {
      const b = open();
      const l = lease(60_000);
      const issued = await b.database.create(spec('readonly'), l);
      secrets.push(issued.credential.password.revealString());
      await b.database.revoke(issued.handle);
      const err = await expectKind(b.database.renew(issued.handle, l), 'failed_precondition', /^the broker cannot renew a credential lease in backend "vault-test"$/);
      assert.doesNotMatch(err.message, /lease not found/);
    });

    it('a failure after Vault made the login revokes it before create rejects', async () => {
      const b = open();
      const before = server.leases().length;
      server.failNext(500, 1, { pathPrefix: 'sys/leases/renew' });
      await expectKind(b.database.create(spec('readonly'), lease(60_000)), 'unavailable');
      assert.equal(server.leases().length, before, 'the Vault lease (and its login) is gone');
    });

    it('a failure after Vault made the login whose clean-up revoke fails too rejects with the handle (CredentialLeftError), so the caller can retry the revoke', async () => {
      const b = open();
      const before = new Set(server.leases().map((x) => x.leaseId));
      server.failNext(500, 1, { pathPrefix: 'sys/leases/renew' });
      server.failNext(500, 1, { pathPrefix: 'sys/leases/revoke' });
      const err = await expectKind(b.database.create(spec('readonly'), lease(60_000)), 'unavailable');
      const left = server.leases().filter((x) => !before.has(x.leaseId));
      assert.equal(left.length, 1, 'the login is still live upstream');
      assert.ok(err instanceof CredentialLeftError, `a CredentialLeftError, got ${err.name}`);
      assert.deepEqual(CredentialLeftError.handleIn(new BrokerError('unavailable', 'wrapped', { cause: err })), { backend: 'vault-test', id: left[0]!.leaseId });
      await b.database.revoke(err.handle);
      assert.equal(server.leases().filter((x) => x.leaseId === left[0]!.leaseId).length, 0, 'revoking the handle removes it');
    });

    describe('the login ends with the broker token that minted it (Vault revokes a token\'s leases with it)', () => {
      const policy = { 'database/creds/*': ['read'], 'sys/leases/renew': ['update'], 'sys/leases/revoke': ['update'] } as const;

      it('create and renew cap the expiry at the end of a token that cannot be renewed further; the handle carries its accessor and end', async () => {
        const { token, accessor } = server.createToken({ paths: policy, ttl: 20, explicitMaxTtl: 20, renewable: false });
        const b = open({ auth: { kind: 'token_file', tokenFile: tokenFile(token) } });
        const t0 = Date.now();
        const l = lease(60_000, 120_000);
        const issued = await b.database.create(spec('readonly'), l);
        secrets.push(issued.credential.password.revealString());
        assert.ok(issued.expiresAt <= t0 + 21_000 && issued.expiresAt > t0 + 15_000, `expiry capped at the token's end: ${issued.expiresAt - t0} ms`);
        assert.equal(issued.handle.attributes?.['token_accessor'], accessor);
        assert.ok(Math.abs(Number(issued.handle.attributes?.['token_expires_at']) - issued.expiresAt) < 1_500);
        const vaultLeft = server.leases().find((x) => x.leaseId === issued.handle.id)!.expiresAt.getTime() - t0;
        assert.ok(vaultLeft <= 21_000, `Vault's lease shortened to the token's end too (${vaultLeft} ms)`);
        const renewed = await b.database.renew(issued.handle, { leaseId: l.leaseId, expiresAt: Date.now() + 100_000, maxExpiresAt: l.maxExpiresAt });
        assert.ok(renewed.expiresAt <= t0 + 21_000, `renewal capped at the token's end: ${renewed.expiresAt - t0} ms`);
        await b.database.revoke(issued.handle);
      });

      it('a renewable token_file token that would end before the lease is renewed first (renew-self), then caps at its max TTL', async () => {
        const { token } = server.createToken({ paths: policy, ttl: 10, explicitMaxTtl: 40, renewable: true });
        const b = open({ auth: { kind: 'token_file', tokenFile: tokenFile(token) } });
        const n = server.requests.length;
        const t0 = Date.now();
        const issued = await b.database.create(spec('readonly'), lease(60_000, 120_000));
        secrets.push(issued.credential.password.revealString());
        assert.ok(requestsSince(n).some((r) => r.path === 'auth/token/renew-self' && r.status === 200), 'the token was renewed');
        // renew-self with the creation TTL (10 s) extends it to ~10 s from now; the lease is capped there, not at the first TTL.
        assert.ok(issued.expiresAt <= t0 + 41_000 && issued.expiresAt > t0 + 8_000, `expiry ${issued.expiresAt - t0} ms`);
        await b.database.revoke(issued.handle);
      });

      it('once the minting token has ended, Vault has revoked the login: renew is refused (failed_precondition), revoke resolves', async function () {
        this.timeout(30_000);
        const { token } = server.createToken({ paths: policy, ttl: 2, explicitMaxTtl: 2, renewable: false });
        const b = open({ auth: { kind: 'token_file', tokenFile: tokenFile(token) } });
        const l = lease(60_000, 120_000);
        const issued = await b.database.create(spec('readonly'), l);
        const password = issued.credential.password.revealString();
        secrets.push(password);
        await login(issued.credential.user, password);
        await new Promise((r) => setTimeout(r, 2_500));
        await server.sweepLeases();
        assert.equal(server.leases().filter((x) => x.leaseId === issued.handle.id).length, 0, 'Vault revoked the lease with its token');
        await assert.rejects(login(issued.credential.user, password), /password authentication failed|does not exist/);
        await expectKind(b.database.renew(issued.handle, { leaseId: l.leaseId, expiresAt: Date.now() + 30_000, maxExpiresAt: l.maxExpiresAt }), 'failed_precondition', /the token that issued this credential has ended/);
        await b.database.revoke(issued.handle);
      });
    });

    it('an unknown role (Vault: 400 unknown role) and a role the token may not read are failed_precondition; validate checks the spec and Vault', async () => {
      const b = open();
      const unknown = await expectKind(b.database.create(spec('no-such-role'), lease(60_000)), 'failed_precondition', /^the broker cannot read credentials for database role "no-such-role" in backend "vault-test"$/);
      assert.match(String((unknown.cause as Error).message), /400.*unknown role/);
      await b.database.validate!(spec('readonly'));
      await expectKind(b.database.validate!({ role: 'readonly', connection: { host: pg.host, port: 0, database: 'x' } }), 'invalid_argument', /^connection.port:/);
      const t = server.createToken({ paths: { 'secret/data/*': ['read'] } }).token;
      const limited = open({ auth: { kind: 'token_file', tokenFile: tokenFile(t) } });
      await expectKind(limited.database.create(spec('readonly'), lease(60_000)), 'failed_precondition', /^the broker cannot read credentials for database role "readonly" in backend "vault-test"$/);
      server.seal();
      try {
        await expectKind(b.database.validate!(spec('readonly')), 'unavailable');
      } finally {
        server.unseal();
      }
      await expectKind(b.database.create({ role: 'a/b', connection: spec('x').connection }, lease(60_000)), 'invalid_argument', /^role:/);
      await expectKind(b.database.revoke({ backend: 'other', id: 'x' }), 'invalid_argument', /handle.backend/);
    });
  });

  describe('configuration only from config (environment variables change nothing)', () => {
    const saved = new Map<string, string | undefined>();
    const setEnv = (vars: Record<string, string>): void => {
      for (const [k, v] of Object.entries(vars)) {
        if (!saved.has(k)) saved.set(k, process.env[k]);
        process.env[k] = v;
      }
    };
    afterEach(() => {
      for (const [k, v] of saved) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      saved.clear();
    });

    it('VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_PREFIX: requests go to the configured address, with the configured token and namespace only', async () => {
      const decoy = await recorder();
      try {
        setEnv({
          VAULT_ADDR: `http://127.0.0.1:${decoy.port}`,
          VAULT_TOKEN: 'hvs.from-the-environment',
          VAULT_NAMESPACE: 'evil',
          VAULT_PREFIX: '/evil',
        });
        server.putKv('secret', 'env/x', { value: 'env-secret' });
        const n = server.requests.length;
        const b = open();
        assert.equal((await b.kv.get('env/x')).value.revealString(), 'env-secret');
        assert.ok(requestsSince(n).every((r) => r.namespace === undefined && !r.path.startsWith('evil')));
        // AppRole login sends no token at all: VAULT_TOKEN must not ride along.
        const { roleId, secretId } = server.createAppRole('env-role', { paths: { 'secret/data/env/*': ['read'] } });
        const secretIdFile = path.join(dir, 'env-secret-id');
        writeFileSync(secretIdFile, secretId);
        const m = server.requests.length;
        const ar = open({ auth: { kind: 'approle', roleId, secretIdFile, mount: 'approle' } });
        await ar.kv.get('env/x');
        const loginReqs = requestsSince(m).filter((r) => r.path === 'auth/approle/login');
        assert.equal(loginReqs.length, 1);
        assert.equal(loginReqs[0]!.tokenSent, false);
        assert.equal(decoy.connections(), 0, 'nothing went to VAULT_ADDR');
      } finally {
        await decoy.close();
      }
    });

    it('DEBUG=node-vault: node-vault\'s debug output (which prints request bodies) stays off, so no value or secret id reaches stderr', async () => {
      const debugLib = createRequire(__filename)('debug') as { enable(ns: string): void; disable(): string };
      const written: string[] = [];
      const origWrite = process.stderr.write.bind(process.stderr);
      setEnv({ DEBUG: 'node-vault' });
      debugLib.enable('node-vault');
      (process.stderr as unknown as { write: (c: unknown, ...rest: unknown[]) => boolean }).write = (c: unknown, ...rest: unknown[]) => {
        written.push(String(c));
        return origWrite(c as string, ...(rest as []));
      };
      try {
        const { roleId, secretId } = server.createAppRole('debug-role', { paths: { 'secret/data/debug/*': ['read', 'create', 'update'], 'secret/metadata/debug/*': ['read'] } });
        secrets.push(secretId);
        const secretIdFile = path.join(dir, 'debug-secret-id');
        writeFileSync(secretIdFile, secretId);
        const b = open({ auth: { kind: 'approle', roleId, secretIdFile, mount: 'approle' } });
        await b.kv.put('debug/x', SecretValue.fromString('debug-put-value'));
        secrets.push('debug-put-value');
        assert.equal((await b.kv.get('debug/x')).value.revealString(), 'debug-put-value');
      } finally {
        process.stderr.write = origWrite;
        debugLib.disable();
      }
      const text = written.join('');
      assert.ok(!text.includes('debug-put-value') && !text.includes('secret_id'), 'nothing from node-vault\'s debug output');
    });

    it('VAULT_SKIP_VERIFY=1 and NODE_TLS_REJECT_UNAUTHORIZED=0: a server whose certificate is not trusted is still refused', async () => {
      setEnv({ VAULT_SKIP_VERIFY: '1', NODE_TLS_REJECT_UNAUTHORIZED: '0' });
      const over = config();
      delete over.caFile; // Node's CA store does not know the test CA
      const n = server.requests.length;
      const b = openVaultBackend(over, { clock: systemClock, log: logs.log });
      opened.push(b);
      const err = await expectKind(b.kv.get('app/x'), 'unavailable');
      assert.match(String((err.cause as Error).message), /certificate/);
      assert.equal(server.requests.length, n, 'no HTTP request got through');
    });

    for (const lower of [false, true]) {
      it(`HTTP_PROXY, HTTPS_PROXY, ALL_PROXY${lower ? ' (lower case)' : ''} and NO_PROXY: no connection to the proxy, https and http`, async () => {
        const proxy = await recorder();
        const plain = await startVaultServer({ tls: false });
        try {
          const url = `http://127.0.0.1:${proxy.port}`;
          const vars = { HTTP_PROXY: url, HTTPS_PROXY: url, ALL_PROXY: url, NO_PROXY: 'nothing.invalid' };
          setEnv(lower ? Object.fromEntries(Object.entries(vars).map(([k, v]) => [k.toLowerCase(), v])) : vars);
          server.putKv('secret', 'proxy/x', { value: 'px' });
          plain.putKv('secret', 'proxy/x', { value: 'plain' });
          assert.equal((await open().kv.get('proxy/x')).value.revealString(), 'px');
          const viaHttp = open({ address: plain.url, auth: { kind: 'token_file', tokenFile: tokenFile(plain.rootToken) } });
          assert.equal((await viaHttp.kv.get('proxy/x')).value.revealString(), 'plain');
          assert.equal(proxy.connections(), 0, 'nothing went through the proxy');
        } finally {
          await plain.close();
          await proxy.close();
        }
      });
    }
  });
});

/** A TCP listener that counts connections and answers nothing useful: a decoy Vault or a proxy. */
async function recorder(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    count++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.end('HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    connections: () => count,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}
