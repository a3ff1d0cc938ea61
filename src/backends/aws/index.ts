/** The AWS Secrets Manager backend's public surface; the rest of this folder is internal. */
export { openAwsBackend, AWS_MAX_ATTEMPTS, AWS_MAX_VALUE_BYTES } from './aws-backend';
export type { AwsBackendDeps, AwsSecretBackend } from './aws-backend';
