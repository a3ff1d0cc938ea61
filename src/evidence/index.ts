/**
 * The evidence library: pure functions and small interfaces, no storage and
 * no transport. See README.md in this folder for how the pieces fit.
 */
export { EvidenceError, type EvidenceErrorCode } from './evidence-error';
export { MAX_ENTRY_BYTES, canonicalize, parseCanonical, type CanonicalOptions } from './canonical-json';
export {
  HASH_SIZE,
  consistencyProof,
  emptyRoot,
  hashChildren,
  hashLeaf,
  inclusionProof,
  isHash,
  nodesToStoreOnAppend,
  rootAt,
  rootFromInclusionProof,
  verifyConsistency,
  verifyInclusion,
  type NodeKey,
  type StoredNode,
  type TreeNodeReader,
} from './merkle';
export { InMemoryTreeNodes } from './in-memory-tree-nodes';
export { StreamingTreeHasher } from './merkle-stream';
export {
  SIG_TYPE_COSIGNATURE_V1,
  SIG_TYPE_ED25519,
  computeKeyId,
  encodeVerifierKey,
  formatKeyId,
  generateNoteKey,
  isValidKeyName,
  parseSignerKey,
  parseVerifierKey,
  type NoteSigner,
  type NoteVerifier,
} from './note-key';
export {
  MAX_NOTE_BYTES,
  MAX_NOTE_SIGNATURES,
  addSignatures,
  openNote,
  parseNote,
  signNote,
  type NoteSignature,
  type OpenedNote,
  type ParsedNote,
  type VerifiedSignature,
} from './signed-note';
export {
  cosignatureTimestamp,
  cosignedMessage,
  generateCosignerKey,
  parseCosignatureVerifierKey,
  parseCosignerKey,
} from './cosignature';
export { parseAnyVerifierKey } from './verifier-keys';
export { formatCheckpoint, openCheckpoint, parseCheckpoint, signCheckpoint, type Checkpoint, type OpenedCheckpoint } from './checkpoint';
export {
  TLOG_PROOF_EXTENSION,
  TLOG_PROOF_HEADER,
  checkTlogProofInclusion,
  formatTlogProof,
  parseTlogProof,
  verifyTlogProof,
  type TlogProof,
  type VerifiedTlogProof,
} from './tlog-proof';
export { writeBundle, type BundleEntry, type BundleSource, type WriteBundleOptions, type WriteBundleResult } from './bundle';
export {
  BundleVerifyError,
  verifyBundle,
  type ConsistencyCheck,
  type VerifyBundleOptions,
  type VerifyBundleResult,
} from './bundle-verify';
export {
  BUNDLE_FORMAT,
  CONSISTENCY_PROOF_HEADER,
  formatConsistencyProof,
  parseConsistencyProof,
  type BundleManifest,
} from './bundle-layout';
export {
  STATE_FORMAT,
  readVerifierState,
  writeVerifierState,
  type AcceptedCheckpoint,
  type VerifierState,
} from './verifier-state';
