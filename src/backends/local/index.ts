/** The local sealed store's public surface; the rest of this folder is internal. */
export { openLocalBackend, DEFAULT_MAX_VALUE_BYTES } from './local-backend';
export type { LocalBackendOptions, LocalSecretBackend } from './local-backend';
export { ensureMasterKey, loadMasterKey } from './master-key';
export type { EnsureMasterKeyOptions, LoadMasterKeyOptions } from './master-key';
export { readSecretFromStream } from './read-secret-stream';
export { assertSecretName, SECRET_NAME_PATTERN } from './secret-name';
export { MASTER_KEY_BYTES } from './sealing';
