import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { openVaultBackend, VAULT_PUT_FIELD } from '../../src/backends/vault';
import { systemClock } from '../../src/lib/clock';
import { createLogger } from '../../src/lib/logger';
import { startVaultServer, type VaultServer } from '../vault-server/vault-server';
import { secretBackendContract } from './secret-backend-contract';

// Vault KV v2 on the in-repo Vault API server (kept honest by Vault's official Go client, see
// test/vault-conformance). The outside writer is the server's own admin side, as an operator's
// `vault kv put` would be; the broker reads with a token limited to the KV mount.
describe('vault KV v2 on the in-repo Vault API server', function () {
  this.timeout(60_000);
  let server: VaultServer;
  let dir: string;
  let tokenFile: string;
  before(async () => {
    server = await startVaultServer();
    dir = mkdtempSync(path.join(tmpdir(), 'sb-vault-contract-'));
    // list() walks the whole mount from its root, so this token may read and list all of it.
    const { token } = server.createToken({ paths: { 'secret/data/*': ['read', 'create', 'update'], 'secret/metadata': ['list'], 'secret/metadata/*': ['read', 'list'] }, ttl: '1h', renewable: true });
    tokenFile = path.join(dir, 'token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
  });
  after(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  secretBackendContract('vault (KV v2)', async () => {
    const b = openVaultBackend(
      {
        kind: 'vault',
        name: 'vault-contract',
        address: server.url,
        mount: 'secret',
        databaseMount: 'database',
        caFile: server.caFile!,
        auth: { kind: 'token_file', tokenFile },
        cacheTtlMs: 0,
        timeoutMs: 3_000,
        breakerFailures: 5,
        breakerOpenMs: 1_000,
      },
      { clock: systemClock, log: createLogger({ level: 'silent' }) },
    );
    return {
      backend: b.kv,
      fields: true,
      versionIds: false,
      seed: async (name, value, opts) => {
        server.putKv('secret', name, { [opts?.field ?? VAULT_PUT_FIELD]: value });
      },
      cleanup: () => b.close(),
    };
  });
});
