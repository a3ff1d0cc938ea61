/**
 * One configured Vault backend: a KV v2 static store (`kv`) and a dynamic
 * database credential backend (`database`) sharing one client and one auth
 * (see vault-session.ts). Building it does no I/O and cannot fail on an
 * unreachable Vault; the first request authenticates. `close()` on the
 * backend or on either member closes both (they are one connection).
 */
import type { Clock } from '../../lib/clock';
import type { Logger } from '../../lib/logger';
import type { VaultBackendConfig } from '../../config/config-types';
import { createVaultDatabase, type VaultDatabaseBackend } from './vault-database';
import { createVaultKv, healthCheck, type VaultKvBackend } from './vault-kv';
import { VaultSession } from './vault-session';

export interface VaultBackend {
  readonly kind: 'vault';
  readonly name: string;
  readonly kv: VaultKvBackend;
  readonly database: VaultDatabaseBackend;
  /** `kv` and `database` again, under the names the backend registry's `OpenedBackend` uses. */
  readonly static: VaultKvBackend;
  readonly dynamic: VaultDatabaseBackend;
  /** The token is valid and Vault answers (unsealed). */
  health(): Promise<void>;
  /** Stops renewal timers, drops the token and the connections. Idempotent. */
  close(): Promise<void>;
}

export function openVaultBackend(cfg: VaultBackendConfig, deps: { clock: Clock; log: Logger }): VaultBackend {
  const session = new VaultSession(cfg, { clock: deps.clock, log: deps.log.child({ kind: 'vault' }) });
  const close = async (): Promise<void> => session.close();
  const kv = createVaultKv(session, close);
  const database = createVaultDatabase(session, close);
  return Object.freeze({
    kind: 'vault' as const,
    name: cfg.name,
    kv,
    database,
    static: kv,
    dynamic: database,
    health: () => healthCheck(session),
    close,
  });
}
