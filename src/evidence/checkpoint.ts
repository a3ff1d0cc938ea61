import { EvidenceError } from './evidence-error';
import { HASH_SIZE } from './merkle-hash';
import { SIG_TYPE_ED25519, isValidKeyName, type NoteSigner, type NoteVerifier } from './note-key';
import { openNote, signNote, type OpenedNote, type VerifiedSignature } from './signed-note';
import { decodeBase64Strict, encodeBase64, hasControlOtherThanNewline, parseDecimalStrict } from './strict-encoding';

/*
 * c2sp.org/tlog-checkpoint: a signed note whose text is
 *   <origin>\n<tree size>\n<base64 root hash>\n
 * This log writes no extension lines (DESIGN: Evidence), and this parser
 * refuses them, so a checkpoint has exactly one spelling.
 */

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
}

/** The checkpoint note text (body), ending in a newline. */
export function formatCheckpoint(cp: Checkpoint): string {
  // The origin doubles as the log's key name, so it must be a valid key name.
  if (!isValidKeyName(cp.origin)) throw invalid('bad-origin', 'origin must be non-empty with no space, "+" or control character');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw invalid('bad-size', 'size must be a non-negative safe integer');
  if (cp.rootHash.length !== HASH_SIZE) throw invalid('bad-root', `root hash must be ${HASH_SIZE} bytes`);
  return `${cp.origin}\n${cp.size}\n${encodeBase64(cp.rootHash)}\n`;
}

/** Parses a checkpoint note text strictly: three lines, no extension lines. */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw invalid('malformed', 'checkpoint text must end with a newline');
  if (hasControlOtherThanNewline(text)) throw invalid('malformed', 'checkpoint text has a control character');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw invalid('malformed', 'checkpoint text needs origin, size and root hash lines');
  if (lines.length > 3) throw invalid('extension-lines', 'checkpoint has extension lines, which this log never writes');
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0) throw invalid('bad-origin', 'checkpoint origin is empty');
  const size = parseDecimalStrict(sizeText);
  if (size === undefined) throw invalid('bad-size', 'checkpoint size is not a decimal with no leading zeroes');
  const rootHash = decodeBase64Strict(rootText);
  if (!rootHash || rootHash.length !== HASH_SIZE) throw invalid('bad-root', `checkpoint root is not canonical base64 of ${HASH_SIZE} bytes`);
  return { origin, size, rootHash };
}

/** Formats and signs a checkpoint; returns the note bytes. */
export function signCheckpoint(cp: Checkpoint, signers: readonly NoteSigner[]): Buffer {
  return signNote(formatCheckpoint(cp), signers);
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: OpenedNote;
  /** Verified signatures by the log: Ed25519 keys named after the origin. */
  readonly logSignatures: readonly VerifiedSignature[];
  /** Every other verified signature (witness cosignatures). */
  readonly cosignatures: readonly VerifiedSignature[];
}

/**
 * Opens a checkpoint note: every signature by a known key must verify, and at
 * least one must be a log signature, i.e. an Ed25519 (0x01) key whose name is
 * the checkpoint's origin (tlog-proof step 2: "signed by a log public key
 * configured for that origin line"). A witness signature alone is not enough.
 */
export function openCheckpoint(note: Uint8Array | string, verifiers: readonly NoteVerifier[], opts: { origin?: string } = {}): OpenedCheckpoint {
  const opened = openNote(note, verifiers);
  const checkpoint = parseCheckpoint(opened.text);
  if (opts.origin !== undefined && checkpoint.origin !== opts.origin) {
    throw invalid('wrong-origin', `checkpoint origin is ${JSON.stringify(checkpoint.origin)}, want ${JSON.stringify(opts.origin)}`);
  }
  const isLog = (s: VerifiedSignature): boolean => s.verifier.type === SIG_TYPE_ED25519 && s.name === checkpoint.origin;
  const logSignatures = opened.verified.filter(isLog);
  if (logSignatures.length === 0) {
    throw invalid('no-log-signature', `checkpoint is not signed by a known log key named ${JSON.stringify(checkpoint.origin)}`);
  }
  return { checkpoint, note: opened, logSignatures, cosignatures: opened.verified.filter((s) => !isLog(s)) };
}

function invalid(reason: string, message: string): EvidenceError {
  return new EvidenceError('EVIDENCE_CHECKPOINT_INVALID', reason, message);
}
