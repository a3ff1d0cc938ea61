import { BrokerError, type ErrorKind } from '../lib/errors';

/**
 * Why a witness refused a checkpoint, one code per HTTP status of
 * c2sp.org/tlog-witness `add-checkpoint`. Callers branch on `code` (and
 * `reason` for detail), never on message text. Messages carry origins, sizes
 * and key names only.
 */
export type WitnessErrorCode =
  /** 400: the request body or the checkpoint is malformed, or old size > checkpoint size (a rollback). */
  | 'WITNESS_MALFORMED'
  /** 403: no valid signature by a log key the witness trusts for the origin, or a bad one. */
  | 'WITNESS_BAD_SIGNATURE'
  /** 404: the witness is not configured for the checkpoint's origin. */
  | 'WITNESS_UNKNOWN_LOG'
  /** 409: old size is not the size the witness last cosigned; `witnessSize` says which it is. */
  | 'WITNESS_CONFLICT'
  /** 422: the checkpoint is not consistent with what the witness cosigned before (a fork), or the proof is wrong. */
  | 'WITNESS_INCONSISTENT'
  /** 503: the witness cannot persist its state (so it signs nothing). */
  | 'WITNESS_UNAVAILABLE';

const KIND: Readonly<Record<WitnessErrorCode, ErrorKind>> = Object.freeze({
  WITNESS_MALFORMED: 'invalid_argument',
  WITNESS_BAD_SIGNATURE: 'permission_denied',
  WITNESS_UNKNOWN_LOG: 'not_found',
  WITNESS_CONFLICT: 'failed_precondition',
  WITNESS_INCONSISTENT: 'failed_precondition',
  WITNESS_UNAVAILABLE: 'unavailable',
});

/** The HTTP status tlog-witness gives each refusal. */
export const WITNESS_HTTP_STATUS: Readonly<Record<WitnessErrorCode, number>> = Object.freeze({
  WITNESS_MALFORMED: 400,
  WITNESS_BAD_SIGNATURE: 403,
  WITNESS_UNKNOWN_LOG: 404,
  WITNESS_CONFLICT: 409,
  WITNESS_INCONSISTENT: 422,
  WITNESS_UNAVAILABLE: 503,
});

export class WitnessError extends BrokerError {
  readonly code: WitnessErrorCode;
  /** Short machine-readable detail, e.g. `rollback`, `fork`, `bad-proof`. */
  readonly reason: string;
  /** For WITNESS_CONFLICT: the size of the checkpoint the witness last cosigned for the origin. */
  readonly witnessSize: number | undefined;

  constructor(code: WitnessErrorCode, reason: string, message: string, opts: { cause?: unknown; witnessSize?: number } = {}) {
    super(KIND[code], message, opts.cause === undefined ? {} : { cause: opts.cause });
    this.name = 'WitnessError';
    this.code = code;
    this.reason = reason;
    this.witnessSize = opts.witnessSize;
  }

  get httpStatus(): number {
    return WITNESS_HTTP_STATUS[this.code];
  }
}
