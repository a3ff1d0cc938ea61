import { openCheckpoint, parseCheckpoint, type Checkpoint, type OpenedCheckpoint } from './checkpoint';
import { EvidenceError } from './evidence-error';
import { HASH_SIZE, hashLeaf } from './merkle-hash';
import { verifyInclusion } from './merkle-verify';
import type { NoteVerifier } from './note-key';
import { parseNote } from './signed-note';
import { decodeBase64Strict, encodeBase64, parseDecimalStrict } from './strict-encoding';

/*
 * c2sp.org/tlog-proof: an offline receipt for one entry.
 *   c2sp.org/tlog-proof@v1
 *   [extra <base64>]          optional, unauthenticated
 *   index <N>
 *   <base64 hash>             zero or more: the inclusion proof, leaf side first
 *   <blank line>
 *   <checkpoint note, verbatim>
 */

export const TLOG_PROOF_HEADER = 'c2sp.org/tlog-proof@v1';
/** File extension the spec recommends. */
export const TLOG_PROOF_EXTENSION = '.tlog-proof';
// A tree of 2^53 leaves has proofs of at most 53 hashes; anything longer is garbage.
const MAX_PROOF_HASHES = 64;

export interface TlogProof {
  readonly index: number;
  /** Inclusion proof hashes, leaf side first. */
  readonly proof: readonly Buffer[];
  /** The checkpoint note bytes, verbatim. */
  readonly checkpointNote: Buffer;
  /** Opaque, unauthenticated extra data (the `extra` line), when present. */
  readonly extra?: Buffer;
}

export function formatTlogProof(p: TlogProof): Buffer {
  if (!Number.isSafeInteger(p.index) || p.index < 0) throw invalid('bad-index', 'index must be a non-negative safe integer');
  p.proof.forEach((h, i) => {
    if (h.length !== HASH_SIZE) throw invalid('bad-hash-size', `proof hash ${i} is not ${HASH_SIZE} bytes`);
  });
  if (p.extra !== undefined && p.extra.length === 0) throw invalid('bad-extra', 'extra data, when present, is not empty');
  const head = [TLOG_PROOF_HEADER, ...(p.extra ? [`extra ${encodeBase64(p.extra)}`] : []), `index ${p.index}`, ...p.proof.map(encodeBase64)];
  return Buffer.concat([Buffer.from(`${head.join('\n')}\n\n`, 'utf8'), p.checkpointNote]);
}

/**
 * Parses a tlog-proof strictly. The checkpoint note is checked for shape only
 * (a signed note with a checkpoint body); signatures are checked by
 * verifyTlogProof.
 */
export function parseTlogProof(bytes: Uint8Array): TlogProof {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const nextLine = (what: string): string => {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw invalid('truncated', `proof ends before ${what}`);
    const line = buf.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    return line;
  };

  if (nextLine('the header') !== TLOG_PROOF_HEADER) throw invalid('bad-header', `first line is not ${TLOG_PROOF_HEADER}`);
  let line = nextLine('the index line');
  let extra: Buffer | undefined;
  if (line.startsWith('extra ')) {
    extra = decodeBase64Strict(line.slice('extra '.length));
    if (!extra || extra.length === 0) throw invalid('bad-extra', 'extra line is not canonical base64 of some bytes');
    line = nextLine('the index line');
  }
  if (!line.startsWith('index ')) throw invalid('bad-index', 'missing "index N" line');
  const index = parseDecimalStrict(line.slice('index '.length));
  if (index === undefined) throw invalid('bad-index', 'index is not a decimal with no leading zeroes');

  const proof: Buffer[] = [];
  for (line = nextLine('the blank line'); line !== ''; line = nextLine('the blank line')) {
    const h = decodeBase64Strict(line);
    if (!h || h.length !== HASH_SIZE) throw invalid('bad-hash', `proof line ${proof.length + 1} is not canonical base64 of ${HASH_SIZE} bytes`);
    if (proof.length === MAX_PROOF_HASHES) throw invalid('too-long', `proof has over ${MAX_PROOF_HASHES} hashes`);
    proof.push(h);
  }

  const checkpointNote = Buffer.from(buf.subarray(pos));
  try {
    parseCheckpoint(parseNote(checkpointNote).text);
  } catch (err) {
    throw invalid('bad-checkpoint', `embedded checkpoint: ${(err as Error).message}`, err);
  }
  return extra ? { index, proof, checkpointNote, extra } : { index, proof, checkpointNote };
}

export interface VerifiedTlogProof {
  readonly index: number;
  readonly leafHash: Buffer;
  readonly checkpoint: Checkpoint;
  readonly opened: OpenedCheckpoint;
  /** Unauthenticated: do not trust without checking it against the entry. */
  readonly extra?: Buffer;
}

/**
 * Verifies a receipt for `entry` (the exact leaf bytes), per the spec's steps:
 * the checkpoint is signed by a log key for its origin (and by every known
 * witness that signed it), and the inclusion proof binds the entry's leaf hash
 * to the checkpoint root. Throws EvidenceError on any failure.
 */
export function verifyTlogProof(
  proof: Uint8Array | TlogProof,
  entry: Uint8Array,
  verifiers: readonly NoteVerifier[],
  opts: { origin?: string } = {},
): VerifiedTlogProof {
  const p = proof instanceof Uint8Array ? parseTlogProof(proof) : proof;
  const opened = openCheckpoint(p.checkpointNote, verifiers, opts);
  const leafHash = checkTlogProofInclusion(p, entry, opened.checkpoint);
  return p.extra ? { index: p.index, leafHash, checkpoint: opened.checkpoint, opened, extra: p.extra } : { index: p.index, leafHash, checkpoint: opened.checkpoint, opened };
}

/**
 * The inclusion half of verification, against a checkpoint the caller has
 * already opened (a bundle checks its one checkpoint once, not per entry).
 * Returns the entry's leaf hash.
 */
export function checkTlogProofInclusion(p: TlogProof, entry: Uint8Array, checkpoint: Checkpoint): Buffer {
  if (p.index >= checkpoint.size) {
    throw new EvidenceError('EVIDENCE_TLOG_PROOF_INVALID', 'index-out-of-range', `index ${p.index} is not below checkpoint size ${checkpoint.size}`);
  }
  const leafHash = hashLeaf(entry);
  let ok: boolean;
  try {
    ok = verifyInclusion(leafHash, p.index, checkpoint.size, p.proof, checkpoint.rootHash);
  } catch (err) {
    const reason = err instanceof EvidenceError ? err.reason : 'malformed';
    throw new EvidenceError('EVIDENCE_TLOG_PROOF_INVALID', reason, `inclusion proof: ${(err as Error).message}`, { cause: err });
  }
  if (!ok) {
    throw new EvidenceError(
      'EVIDENCE_TLOG_PROOF_INVALID',
      'inclusion-mismatch',
      `entry ${p.index} is not proven in the checkpoint of size ${checkpoint.size}: the proof leads to another root`,
    );
  }
  return leafHash;
}

function invalid(reason: string, message: string, cause?: unknown): EvidenceError {
  return new EvidenceError('EVIDENCE_TLOG_PROOF_INVALID', reason, message, cause === undefined ? {} : { cause });
}
