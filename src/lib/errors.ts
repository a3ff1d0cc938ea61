/**
 * The closed set of errors that may reach a client. Anything thrown that is not
 * a BrokerError becomes INTERNAL with a request id only (see
 * transport/grpc/error-mapping.ts). `message` is the public face and must never
 * contain backend text or secret material; `cause` is logged server-side only.
 */
export type ErrorKind =
  | 'invalid_argument'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'unavailable'
  | 'unimplemented'
  | 'internal';

export class BrokerError extends Error {
  readonly kind: ErrorKind;
  /** Extra public metadata sent as gRPC trailers (string values only). */
  readonly trailers: Readonly<Record<string, string>>;

  constructor(kind: ErrorKind, message: string, opts: { cause?: unknown; trailers?: Record<string, string> } = {}) {
    // Expected outcomes (denials, bad input, limits) are hot and need no stack trace;
    // capturing one costs more than the rest of a rejected request. Keep it where it helps debugging.
    const keepStack = kind === 'internal' || kind === 'unavailable';
    const limit = Error.stackTraceLimit;
    if (!keepStack) Error.stackTraceLimit = 0;
    try {
      super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'BrokerError';
    this.kind = kind;
    this.trailers = Object.freeze({ ...(opts.trailers ?? {}) });
  }
}

/**
 * The backend answered, but a lock another session holds kept a statement waiting past its
 * lock_timeout. UNAVAILABLE to the caller (retrying may help), yet no sign the backend is down: a
 * circuit breaker does not count it, so one session holding a lock (a lease role's, say) cannot
 * open the breaker for everyone.
 */
export class ContentionError extends BrokerError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('unavailable', message, opts);
    this.name = 'ContentionError';
  }
}

export const invalidArgument = (field: string, expected: string): BrokerError =>
  new BrokerError('invalid_argument', `${field}: ${expected}`);

export const unavailable = (what: string, cause?: unknown): BrokerError =>
  new BrokerError('unavailable', `${what} is unavailable`, { cause });

export const notFound = (what: string): BrokerError => new BrokerError('not_found', `${what} not found`);

export const failedPrecondition = (message: string): BrokerError => new BrokerError('failed_precondition', message);

export const permissionDenied = (message: string, trailers?: Record<string, string>): BrokerError =>
  new BrokerError('permission_denied', message, trailers ? { trailers } : {});

export const resourceExhausted = (message: string): BrokerError => new BrokerError('resource_exhausted', message);

export const unimplemented = (what: string, issue: string): BrokerError =>
  new BrokerError('unimplemented', `${what} is not implemented yet (${issue})`);
