/**
 * The AWS Secrets Manager side of a rotation: the requests behind the four
 * documented steps (createSecret, setSecret, testSecret, finishSecret), without
 * `RotateSecret` (no Lambda: the daemon runs the steps itself, fenced by its
 * rotation lock). The orchestration, the lock and the recorded progress are in
 * `src/rotation/rotation-service.ts`; see README.md in this folder.
 */
import { createHash } from 'node:crypto';
import { BrokerError } from '../../lib/errors';
import type { SecretValue } from '../../lib/secret-value';

/** Which VersionId carries each AWS staging label (a fresh DescribeSecret). */
export interface AwsStages {
  current?: string;
  pending?: string;
  previous?: string;
}

export interface AwsRotationSteps {
  /** DescribeSecret: the VersionIds carrying AWSCURRENT, AWSPENDING, AWSPREVIOUS; not_found for an unknown secret. */
  stages(id: string): Promise<AwsStages>;
  /**
   * createSecret: `PutSecretValue` with `VersionStages: ["AWSPENDING"]` (never
   * AWSCURRENT) and `ClientRequestToken: token`, which AWS makes the VersionId.
   * A retry with the same token and value is a no-op; AWS rejects the same
   * token with another value. The VersionId.
   */
  createPending(id: string, token: string, value: SecretValue): Promise<string>;
  /** The value of one version, by VersionId, or of the version staged AWSPENDING (with its VersionId). */
  readVersion(id: string, which: { versionId: string } | { stage: 'AWSPENDING' | 'AWSCURRENT' }): Promise<{ versionId: string; value: SecretValue }>;
  /**
   * finishSecret: `UpdateSecretVersionStage` moving AWSCURRENT to `pending`
   * with `RemoveFromVersionId: from` (AWS refuses when `from` no longer carries
   * AWSCURRENT: someone else changed the secret since it was read); AWS moves
   * AWSPREVIOUS to `from`. Then AWSPENDING is removed from `pending`. Already
   * done (AWSCURRENT on `pending`): only what is left is done.
   */
  finish(id: string, pending: string, from: string): Promise<void>;
  /** The broker's integer number for a VersionId (README "Version numbers"), if the version exists. */
  numberOf(id: string, versionId: string): Promise<number | undefined>;
}

/** The rotation requests of an opened aws-secrets-manager backend's static store (`backend` names it in the error). */
export function awsRotationOf(store: object | undefined, backend: string): AwsRotationSteps {
  const r = (store as { rotation?: AwsRotationSteps } | undefined)?.rotation;
  if (!r) throw new BrokerError('failed_precondition', `backend ${backend} cannot run an AWS rotation (it has no AWSPENDING or AWSCURRENT version requests)`);
  return r;
}

/**
 * The `ClientRequestToken` of a rotation's createSecret: a UUID derived from
 * the backend, the secret id and the fencing token (SHA-256, laid out as an
 * RFC 9562 version 8 UUID), so a retried step sends the same token and AWS
 * treats it as the same request.
 */
export function rotationRequestToken(backend: string, secretId: string, fencingToken: number): string {
  const h = createHash('sha256').update(`secret-broker rotation\0${backend}\0${secretId}\0${fencingToken}`).digest();
  h[6] = (h[6]! & 0x0f) | 0x80; // version 8
  h[8] = (h[8]! & 0x3f) | 0x80; // variant 10
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
