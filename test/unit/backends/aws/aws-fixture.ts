/** Shared setup for the AWS Secrets Manager tests: a backend and an outside writer on a real moto_server. */
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { AwsBackendConfig } from '../../../../src/config/config-types';
import { systemClock } from '../../../../src/lib/clock';
import type { Logger } from '../../../../src/lib/logger';
import { openAwsBackend, type AwsSecretBackend } from '../../../../src/backends/aws';

export const REGION = 'us-east-1';

export function awsConfig(endpoint: string | undefined, over: Partial<AwsBackendConfig> = {}): AwsBackendConfig {
  return {
    kind: 'aws-secrets-manager',
    name: 'aws',
    region: REGION,
    ...(endpoint ? { endpoint } : {}),
    cacheTtlMs: 0,
    timeoutMs: 5000,
    breakerFailures: 5,
    breakerOpenMs: 10_000,
    ...over,
  };
}

/** A logger whose lines a test can read back (to check no value reaches the log). */
export function capturedLog(): { log: Logger; text(): string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), text: () => chunks.join('') };
}

export function openTestBackend(endpoint: string | undefined, over: Partial<AwsBackendConfig> = {}, log: Logger = capturedLog().log): AwsSecretBackend {
  return openAwsBackend(awsConfig(endpoint, over), { clock: systemClock, log });
}

/**
 * Writes the way an operator or another tool would: the SDK directly, with an
 * SDK-chosen VersionId (a UUID, so the version carries no broker number).
 */
export function outsideWriter(endpoint: string, region = REGION): {
  seed(name: string, value: string | Uint8Array, opts?: { field?: string }): Promise<string>;
  client: SecretsManagerClient;
} {
  const client = new SecretsManagerClient({ region, endpoint });
  return {
    client,
    async seed(name, value, opts = {}) {
      const payload =
        typeof value === 'string'
          ? { SecretString: opts.field === undefined ? value : JSON.stringify({ [opts.field]: value }) }
          : { SecretBinary: value };
      try {
        return (await client.send(new PutSecretValueCommand({ SecretId: name, ...payload }))).VersionId!;
      } catch (err) {
        if ((err as { name?: string }).name !== 'ResourceNotFoundException') throw err;
        return (await client.send(new CreateSecretCommand({ Name: name, ...payload }))).VersionId!;
      }
    },
  };
}
