import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { baseRawConfig, type TestPki } from './broker-harness';

/**
 * The base test config plus a Vault backend "vault" (never dialled: the tests stand a fault backend in for it)
 * and a vault_dynamic action "reporting.db" that support-bot may lease.
 */
export function vaultDynamicRawConfig(pki: TestPki, dir: string): Record<string, unknown> {
  const raw = baseRawConfig(pki, dir);
  const tokenFile = path.join(dir, 'vault-token');
  writeFileSync(tokenFile, 'unused-token\n', { mode: 0o600 });
  (raw['backends'] as Record<string, unknown>)['vault'] = { kind: 'vault', address: 'https://127.0.0.1:1', token_file: tokenFile };
  (raw['actions'] as Record<string, unknown>)['reporting.db'] = {
    vault_dynamic: { backend: 'vault', role: 'readonly', connection: { host: '127.0.0.1', port: 5432, database: 'app' } },
    resource: 'reporting',
    default_ttl: '5m',
    max_ttl: '15m',
  };
  writeFileSync(
    path.join(raw['policies'] as string, 'reporting.cedar'),
    `@id("reporting-db-support")\n@reason("Support reads reports with a short-lived login.")\npermit (principal in Group::"support", action == Action::"reporting.db", resource);\n`,
  );
  return raw;
}

