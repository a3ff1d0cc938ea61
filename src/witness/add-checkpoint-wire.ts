import { HASH_SIZE } from '../evidence/merkle-hash';
import { parseNote, type NoteSignature } from '../evidence/signed-note';
import { decodeBase64Strict, encodeBase64, parseDecimalStrict } from '../evidence/strict-encoding';
import { WitnessError } from './witness-error';

/*
 * The wire formats of c2sp.org/tlog-witness `add-checkpoint`:
 *
 * request body   "old <size>\n" (<base64 hash>\n){0,63} "\n" <checkpoint note>
 * 200 body       one or more signature lines "— <name> <base64>\n"
 * 409 body       "<size>\n", Content-Type text/x.tlog.size
 */

export const ADD_CHECKPOINT_PATH = '/add-checkpoint';
export const TLOG_SIZE_CONTENT_TYPE = 'text/x.tlog.size';
/** The spec forbids clients to send more (a proof in a 2^63 tree). */
export const MAX_PROOF_LINES = 63;
/** Default request body limit: a checkpoint with 100 signatures and 63 proof lines is ~15 KiB. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** What a log sends to a witness. */
export interface AddCheckpointRequest {
  /** The size of the checkpoint the witness last cosigned for this origin (0 if none). */
  readonly oldSize: number;
  /** RFC 6962 consistency proof from oldSize to the checkpoint's size (empty when oldSize is 0 or equal). */
  readonly consistencyProof: readonly Uint8Array[];
  /** The signed checkpoint note. */
  readonly checkpointNote: Uint8Array | string;
}

const SIG_PREFIX = '\u2014 ';

export function formatAddCheckpointBody(req: AddCheckpointRequest): Buffer {
  if (!Number.isSafeInteger(req.oldSize) || req.oldSize < 0) throw malformed('bad-old-size', 'old size must be a non-negative integer');
  if (req.consistencyProof.length > MAX_PROOF_LINES) throw malformed('proof-too-long', `a consistency proof has at most ${MAX_PROOF_LINES} hashes`);
  const proof = req.consistencyProof.map((h) => {
    if (h.length !== HASH_SIZE) throw malformed('bad-proof-hash', `a consistency proof hash is ${HASH_SIZE} bytes`);
    return `${encodeBase64(h)}\n`;
  });
  const note = typeof req.checkpointNote === 'string' ? Buffer.from(req.checkpointNote, 'utf8') : Buffer.from(req.checkpointNote);
  return Buffer.concat([Buffer.from(`old ${req.oldSize}\n${proof.join('')}\n`, 'ascii'), note]);
}

/**
 * Parses a request body strictly. The checkpoint note is returned as bytes;
 * the witness parses and verifies it. Throws WitnessError WITNESS_MALFORMED (400).
 */
export function parseAddCheckpointBody(body: Uint8Array): { oldSize: number; consistencyProof: Buffer[]; checkpointNote: Buffer } {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  let pos = 0;
  const line = (): string | undefined => {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) return undefined;
    const text = buf.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    return text;
  };
  const first = line();
  const m = first === undefined ? null : /^old ([0-9]+)$/.exec(first);
  const oldSize = m ? parseDecimalStrict(m[1]!) : undefined;
  if (oldSize === undefined) throw malformed('bad-old-size', 'the body must start with "old <size>" (a decimal with no leading zeroes) and a newline');
  const consistencyProof: Buffer[] = [];
  for (;;) {
    const l = line();
    if (l === undefined) throw malformed('no-checkpoint', 'the body has no empty line before the checkpoint');
    if (l === '') break;
    if (consistencyProof.length === MAX_PROOF_LINES) throw malformed('proof-too-long', `over ${MAX_PROOF_LINES} consistency proof lines`);
    const hash = decodeBase64Strict(l);
    if (!hash || hash.length !== HASH_SIZE) {
      throw malformed('bad-proof-line', `consistency proof line ${consistencyProof.length + 1} is not canonical base64 of a ${HASH_SIZE}-byte hash`);
    }
    consistencyProof.push(hash);
  }
  const checkpointNote = Buffer.from(buf.subarray(pos));
  if (checkpointNote.length === 0) throw malformed('no-checkpoint', 'the body has no checkpoint after the empty line');
  return { oldSize, consistencyProof, checkpointNote };
}

/** The 409 body: the witness's size and a newline. */
export function formatSizeBody(size: number): string {
  return `${size}\n`;
}

/** Parses a 409 body; undefined when it is not "<decimal>\n". */
export function parseSizeBody(text: string): number | undefined {
  const m = /^([0-9]+)\n$/.exec(text);
  return m ? parseDecimalStrict(m[1]!) : undefined;
}

/** One signature line as a witness returns it, with the trailing newline. */
export function formatSignatureLine(sig: Pick<NoteSignature, 'name' | 'base64'>): string {
  return `${SIG_PREFIX}${sig.name} ${sig.base64}\n`;
}

/**
 * Parses a 200 body: one or more well-formed signature lines, each ending in
 * a newline. Checks syntax only (the signed-note parser over a stand-in text).
 */
export function parseSignatureLines(text: string): NoteSignature[] {
  if (text.length === 0 || !text.endsWith('\n') || !text.startsWith(SIG_PREFIX)) {
    throw malformed('bad-signature-lines', 'the response is not one or more note signature lines');
  }
  try {
    return [...parseNote(`x\n\n${text}`).signatures];
  } catch (err) {
    throw malformed('bad-signature-lines', `the response is not note signature lines: ${(err as Error).message}`, err);
  }
}

function malformed(reason: string, message: string, cause?: unknown): WitnessError {
  return new WitnessError('WITNESS_MALFORMED', reason, message, cause === undefined ? {} : { cause });
}
