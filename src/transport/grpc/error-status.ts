import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { BrokerError, type ErrorKind } from '../../lib/errors';

const CODES: Record<ErrorKind, grpc.status> = Object.freeze<Record<ErrorKind, grpc.status>>({
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  permission_denied: grpc.status.PERMISSION_DENIED,
  not_found: grpc.status.NOT_FOUND,
  failed_precondition: grpc.status.FAILED_PRECONDITION,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  unavailable: grpc.status.UNAVAILABLE,
  unimplemented: grpc.status.UNIMPLEMENTED,
  internal: grpc.status.INTERNAL,
});

/**
 * The one place errors become gRPC statuses. A BrokerError shows its public
 * message; anything else becomes INTERNAL whose only detail is the request id,
 * while the raw cause goes to the server log.
 */
export function toStatus(err: unknown, requestId: string, log: Logger): Partial<grpc.StatusObject> {
  const metadata = new grpc.Metadata();
  metadata.set('secretbroker-request-id', requestId);
  if (err instanceof BrokerError && err.kind !== 'internal') {
    for (const [k, v] of Object.entries(err.trailers)) metadata.set(k, v);
    const level = err.kind === 'unavailable' ? 'warn' : 'info';
    log[level]({ kind: err.kind, msg_public: err.message, cause: err.cause }, 'request failed');
    return { code: CODES[err.kind], details: err.message, metadata };
  }
  log.error({ err }, 'internal error');
  return { code: grpc.status.INTERNAL, details: `internal error (request id ${requestId})`, metadata };
}
