/** The Vault backend's public surface; the rest of this folder is internal. */
export { openVaultBackend } from './vault-backend';
export type { VaultBackend } from './vault-backend';
export type { VaultKvBackend } from './vault-kv';
export { PUT_FIELD as VAULT_PUT_FIELD } from './vault-kv';
export type { VaultDatabaseBackend, VaultDynamicSpec } from './vault-database';
