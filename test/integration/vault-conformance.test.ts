import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client } from 'pg';
import { REPO } from '../helpers/broker-harness';
import { sharedPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { vaultCall } from '../vault-server/vault-client';
import { startVaultServer, type VaultServer } from '../vault-server/vault-server';

/**
 * Keeps the in-repo Vault API server honest with a client nobody here wrote:
 * Vault's official Go client (github.com/hashicorp/vault/api), compiled from
 * test/vault-conformance into .cache/bin/vault-conformance.test (.ci/run builds
 * it; this test builds it when go is found and the binary is missing or older
 * than its sources). Without go and without the binary the test fails on CI
 * and warns loudly and skips elsewhere, as the grpcurl tests do.
 */

const SRC = path.join(REPO, 'test/vault-conformance');
const BIN = path.join(REPO, '.cache/bin/vault-conformance.test');

function executable(f: string): boolean {
  try {
    accessSync(f, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function findGo(): string | undefined {
  for (const d of [...(process.env['PATH'] ?? '').split(path.delimiter), '/usr/local/go/bin']) {
    if (d && executable(path.join(d, 'go'))) return path.join(d, 'go');
  }
  return undefined;
}

const mtime = (f: string): number => statSync(f).mtimeMs;
const stale = (): boolean => !executable(BIN) || ['conformance_test.go', 'go.mod', 'go.sum'].some((f) => mtime(path.join(SRC, f)) > mtime(BIN));

interface Run {
  code: number;
  out: string;
}

function run(cmd: string, args: readonly string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, out: `${String(stdout)}${String(stderr)}` });
    });
  });
}

describe("Vault API server conformance: Vault's official Go client (github.com/hashicorp/vault/api)", function () {
  this.timeout(240_000);
  let pg: EphemeralPostgres;
  let vault: VaultServer;
  let tmp: string;
  let bin: string;

  before(async function () {
    if (stale()) {
      const go = findGo();
      if (!go) {
        if (executable(BIN)) {
          console.warn(`\n  !!! ${BIN} is older than test/vault-conformance and no go is found to rebuild it; running it as is\n`);
        } else {
          const msg = `${BIN} not found and no go on PATH or in /usr/local/go/bin; .ci/run builds it (cd test/vault-conformance && GOFLAGS=-mod=mod go test -c -o ../../.cache/bin/vault-conformance.test .)`;
          if (process.env['CI'] === 'true') throw new Error(msg);
          console.warn(`\n  !!! SKIPPING the Vault Go-client conformance test: ${msg}\n`);
          this.skip();
        }
      } else {
        mkdirSync(path.dirname(BIN), { recursive: true });
        const built = await run(go, ['test', '-c', '-o', BIN, '.'], { cwd: SRC, env: { ...process.env, GOFLAGS: '-mod=mod' }, timeoutMs: 180_000 });
        assert.equal(built.code, 0, `go test -c failed:\n${built.out}`);
      }
    }
    bin = BIN;

    pg = await sharedPostgres();
    vault = await startVaultServer({ postgres: pg });
    tmp = mkdtempSync(path.join(tmpdir(), 'sb-vault-conf-'));
  });
  after(async () => {
    await vault?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('KV v2 with check-and-set, token lookup/renew-self, AppRole login, database/creds, lease renew/revoke/lookup, leases revoked with their token, and the namespace header decode as the client expects', async () => {
    const token = vault.createToken({ paths: { 'secret/data/conformance/*': ['read'] }, ttl: '1h', explicitMaxTtl: '2h' });
    const leaseToken = vault.createToken({ paths: { 'database/creds/*': ['read'] }, ttl: '1h' });
    const approle = vault.createAppRole('conformance', { tokenTtl: '20m', paths: { 'secret/data/conformance/*': ['read'] } });
    vault.createDatabaseRole('conformance', { defaultTtl: '1h', maxTtl: '2h' });
    vault.putKv('secret', 'conformance/ns-only', { in: 'namespace' }, { namespace: 'conformance-ns' });
    const outFile = path.join(tmp, 'out.json');

    // A clean environment: none of the client's own VAULT_* variables.
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? tmp,
      VAULT_CONFORMANCE_ADDR: vault.url,
      VAULT_CONFORMANCE_CACERT: vault.caFile!,
      VAULT_CONFORMANCE_ROOT_TOKEN: vault.rootToken,
      VAULT_CONFORMANCE_TOKEN: token.token,
      VAULT_CONFORMANCE_ROLE_ID: approle.roleId,
      VAULT_CONFORMANCE_SECRET_ID: approle.secretId,
      VAULT_CONFORMANCE_DB_ROLE: 'conformance',
      VAULT_CONFORMANCE_LEASE_TOKEN: leaseToken.token,
      VAULT_CONFORMANCE_NAMESPACE: 'conformance-ns',
      VAULT_CONFORMANCE_OUT: outFile,
    };
    const r = await run(bin, ['-test.v', '-test.count=1'], { cwd: tmp, env, timeoutMs: 120_000 });
    assert.equal(r.code, 0, `the Go conformance test failed (exit ${r.code}):\n${r.out}`);
    for (const name of ['TestKVv2GetAndPutWithCheckAndSet', 'TestTokenLookupSelfAndRenewSelf', 'TestAppRoleLogin', 'TestDatabaseCredsLeaseRenewAndRevoke', 'TestLeasesEndWithTheirToken', 'TestNamespaceHeader']) {
      assert.match(r.out, new RegExp(`--- PASS: ${name} `), `${name} did not run and pass:\n${r.out}`);
    }

    // What the client sent, as the server saw it.
    const seen = vault.requests.map((q) => `${q.method} ${q.path}${q.namespace ? ` ns=${q.namespace}` : ''} ${q.status}`);
    for (const line of [
      'PUT secret/data/conformance/app 400',
      'LIST secret/metadata/conformance 200',
      'PUT auth/approle/login 200',
      'PUT auth/token/renew-self 200',
      'GET database/creds/conformance 200',
      'PUT sys/leases/renew 200',
      'PUT sys/leases/lookup 200',
      'PUT sys/leases/revoke 204',
      'PUT sys/leases/renew 400',
      'PUT auth/token/revoke-self 204',
      'PUT sys/leases/lookup 400',
      'GET secret/data/conformance/ns-only ns=conformance-ns 200',
      'GET secret/data/conformance/ns-only 404',
    ]) {
      assert.ok(seen.includes(line), `the server never saw "${line}":\n${seen.join('\n')}`);
    }

    // The logins the Go client decoded are real PostgreSQL roles: the revoked one is gone, the live one works until revoked.
    const out = JSON.parse(readFileSync(outFile, 'utf8')) as { revoked_username: string; live_username: string; live_password: string; live_lease_id: string };
    const admin = new Client({ connectionString: pg.adminUrl });
    await admin.connect();
    try {
      const roles = async (u: string): Promise<number> => (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [u])).rowCount ?? 0;
      assert.equal(await roles(out.revoked_username), 0, 'the revoked lease dropped its role');
      const login = (): Promise<void> => {
        const c = new Client({ host: pg.host, port: pg.port, user: out.live_username, password: out.live_password, database: pg.database, connectionTimeoutMillis: 5000 });
        return c.connect().then(() => c.end());
      };
      await login();
      const revoked = await vaultCall(vault, 'PUT', 'sys/leases/revoke', { token: vault.rootToken, body: { lease_id: out.live_lease_id } });
      assert.equal(revoked.status, 204);
      await assert.rejects(login(), (e: Error & { code?: string }) => e.code === '28P01');
      assert.equal(await roles(out.live_username), 0);
    } finally {
      await admin.end();
    }
  });
});
