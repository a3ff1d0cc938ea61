import { BrokerError, type ErrorKind } from '../lib/errors';

/**
 * Stable codes for everything the evidence library rejects. Callers branch on
 * `code` (and `reason` for detail), never on message text.
 */
export type EvidenceErrorCode =
  /** A value cannot become an evidence entry (not JSON, not canonical, too big). */
  | 'EVIDENCE_ENTRY_INVALID'
  /** Bad sizes or indexes given to a Merkle function (index >= size, size1 > size2, ...). */
  | 'EVIDENCE_MERKLE_ARGUMENT'
  /** A Merkle proof is malformed (wrong length, a hash that is not 32 bytes). */
  | 'EVIDENCE_MERKLE_PROOF'
  /** The tree node store answered wrongly (missing node, wrong count or size). */
  | 'EVIDENCE_TREE_STORE'
  /** A key string is malformed or its key id does not match. */
  | 'EVIDENCE_KEY_INVALID'
  /** A signed note is malformed. */
  | 'EVIDENCE_NOTE_MALFORMED'
  /** A signature from a known key does not verify. */
  | 'EVIDENCE_NOTE_BAD_SIGNATURE'
  /** No signature from a known key is present. */
  | 'EVIDENCE_NOTE_UNVERIFIED'
  /** A checkpoint body is malformed or not signed by a key for its origin. */
  | 'EVIDENCE_CHECKPOINT_INVALID'
  /** A tlog-proof is malformed or does not prove its entry. */
  | 'EVIDENCE_TLOG_PROOF_INVALID'
  /** An export bundle fails offline verification (see BundleVerifyError). */
  | 'EVIDENCE_BUNDLE_INVALID'
  /** The verifier state file is unreadable or malformed. */
  | 'EVIDENCE_STATE_INVALID';

// Store and state problems are ours, not the caller's; everything else is bad input.
const KIND: Readonly<Record<EvidenceErrorCode, ErrorKind>> = Object.freeze({
  EVIDENCE_ENTRY_INVALID: 'invalid_argument',
  EVIDENCE_MERKLE_ARGUMENT: 'invalid_argument',
  EVIDENCE_MERKLE_PROOF: 'invalid_argument',
  EVIDENCE_TREE_STORE: 'internal',
  EVIDENCE_KEY_INVALID: 'invalid_argument',
  EVIDENCE_NOTE_MALFORMED: 'invalid_argument',
  EVIDENCE_NOTE_BAD_SIGNATURE: 'invalid_argument',
  EVIDENCE_NOTE_UNVERIFIED: 'invalid_argument',
  EVIDENCE_CHECKPOINT_INVALID: 'invalid_argument',
  EVIDENCE_TLOG_PROOF_INVALID: 'invalid_argument',
  EVIDENCE_BUNDLE_INVALID: 'failed_precondition',
  EVIDENCE_STATE_INVALID: 'failed_precondition',
});

/**
 * An evidence failure. It is a BrokerError so the daemon may hand it to a
 * client as is: messages carry only indexes, sizes, hashes, origins and key
 * names, never entry contents or key material.
 */
export class EvidenceError extends BrokerError {
  readonly code: EvidenceErrorCode;
  /** Short machine-readable detail within the code, e.g. `bad-hash-size`. */
  readonly reason: string;

  constructor(code: EvidenceErrorCode, reason: string, message: string, opts: { cause?: unknown } = {}) {
    super(KIND[code], message, opts);
    this.name = 'EvidenceError';
    this.code = code;
    this.reason = reason;
  }
}
