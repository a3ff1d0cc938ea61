/** The postgres backend's public surface; the rest of this folder is internal. */
export { checkSpec as checkPostgresSpec, leaseRoleName, openPostgresBackend, planRole as planPostgresRole, prepareSecret as preparePostgresSecret } from './postgres-backend';
export type { PostgresBackend, PostgresBackendDeps, PostgresSpec } from './postgres-backend';
export { scramSha256Verifier } from './scram-verifier';
