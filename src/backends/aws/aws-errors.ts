/**
 * AWS SDK errors → BrokerError. The message names only the backend and the
 * secret id; what AWS or the SDK said rides along as a sanitized `cause` (its
 * name, code, HTTP status and request id) for the server log. The SDK error
 * itself is never kept: a response that fails to parse carries its body text,
 * and a GetSecretValue body is the secret.
 */
import { BrokerError, type ErrorKind } from '../../lib/errors';

/** What of an SDK error may be logged: never a message or body that could echo a value. */
export interface AwsErrorFacts {
  name: string;
  code?: string;
  httpStatus?: number;
  requestId?: string;
  /** AWS's own message, only for service errors (AWS writes those; they never hold a value). */
  awsMessage?: string;
}

const PRECONDITION: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'DecryptionFailure',
  'InvalidRequestException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignature',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
  'InvalidParameterException',
  'LimitExceededException',
  'EncryptionFailure',
]);

const THROTTLING: ReadonlySet<string> = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded']);

const TLS_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
]);

export function awsErrorFacts(err: unknown): AwsErrorFacts {
  const e = (err ?? {}) as {
    name?: unknown;
    code?: unknown;
    $fault?: unknown;
    $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
    message?: unknown;
  };
  const facts: AwsErrorFacts = { name: typeof e.name === 'string' ? e.name : 'Error' };
  if (typeof e.code === 'string') facts.code = e.code;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number') facts.httpStatus = status;
  if (typeof e.$metadata?.requestId === 'string') facts.requestId = e.$metadata.requestId;
  // A modeled service error (it has a fault and an HTTP status) is AWS's text; anything else may be a parser's.
  if ((e.$fault === 'client' || e.$fault === 'server') && typeof status === 'number' && typeof e.message === 'string') {
    facts.awsMessage = e.message.slice(0, 300);
  }
  return facts;
}

/** What went wrong, in our words, and the kind it maps to. */
export function classifyAwsError(facts: AwsErrorFacts): { kind: ErrorKind; reason: string } {
  const { name, code, httpStatus } = facts;
  if (name === 'ResourceNotFoundException') return { kind: 'not_found', reason: 'not found' };
  if (name === 'AccessDeniedException') return { kind: 'failed_precondition', reason: 'access denied' };
  if (name === 'DecryptionFailure') return { kind: 'failed_precondition', reason: 'its KMS key cannot decrypt it' };
  if (name === 'InvalidRequestException') return { kind: 'failed_precondition', reason: 'the secret is deleted or scheduled for deletion' };
  if (name === 'CredentialsProviderError') return { kind: 'failed_precondition', reason: 'no AWS credentials could be found' };
  if (name === 'EndpointError') return { kind: 'failed_precondition', reason: 'no endpoint fits the configured region and endpoint' };
  if (code && TLS_CODES.has(code)) return { kind: 'failed_precondition', reason: 'the endpoint\'s TLS certificate did not verify' };
  if (PRECONDITION.has(name)) return { kind: 'failed_precondition', reason: 'AWS refused the request' };
  if (THROTTLING.has(name)) return { kind: 'unavailable', reason: 'throttled' };
  if (httpStatus !== undefined && httpStatus >= 500) return { kind: 'unavailable', reason: 'AWS answered with a server error' };
  if (name === 'TimeoutError' || name === 'AbortError' || code === 'ETIMEDOUT') return { kind: 'unavailable', reason: 'timed out' };
  if (httpStatus !== undefined && httpStatus >= 400) return { kind: 'failed_precondition', reason: 'AWS refused the request' };
  // No HTTP answer at all: refused, reset, DNS, socket errors.
  return { kind: 'unavailable', reason: 'unreachable' };
}

/** A clean cause for the log: facts only. */
export function causeOf(facts: AwsErrorFacts): Error {
  const parts = [facts.name, facts.code, facts.httpStatus === undefined ? undefined : `HTTP ${facts.httpStatus}`, facts.requestId && `request ${facts.requestId}`];
  const cause = new Error(`${parts.filter(Boolean).join(', ')}${facts.awsMessage ? `: ${facts.awsMessage}` : ''}`);
  cause.name = 'AwsSdkError';
  return cause;
}

/** `what` is e.g. `secret "prod/stripe"`; the message is ours: backend, secret, reason. */
export function translateAwsError(backend: string, what: string, err: unknown, verb: 'read' | 'write' | 'list' = 'read'): BrokerError {
  if (err instanceof BrokerError) return err;
  const facts = awsErrorFacts(err);
  const { kind, reason } = classifyAwsError(facts);
  const message =
    kind === 'not_found'
      ? `${what} in backend "${backend}" not found`
      : kind === 'failed_precondition'
        ? `backend "${backend}" (aws-secrets-manager): the broker cannot ${verb} ${what} (${reason})`
        : `backend "${backend}" (aws-secrets-manager) is unavailable for ${what} (${reason})`;
  return new BrokerError(kind, message, { cause: causeOf(facts) });
}
