import { EvidenceError } from './evidence-error';
import { formatKeyId, isValidKeyName, type NoteSigner, type NoteVerifier } from './note-key';
import { decodeBase64Strict, decodeUtf8Strict, encodeBase64, hasControlOtherThanNewline, hasLoneSurrogate } from './strict-encoding';

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

/*
 * c2sp.org/signed-note: text ending in a newline, a blank line, then one or
 * more lines `— <key name> <base64(key id ‖ signature)>`. The text is
 * everything up to the last blank line.
 */

/** Notes above this size are refused before any parsing (our checkpoints are ~200 bytes). */
export const MAX_NOTE_BYTES = 1024 * 1024;
/** The spec asks verifiers to accept at least 16; Go's x/mod/sumdb/note stops at 100. */
export const MAX_NOTE_SIGNATURES = 100;

const SIG_PREFIX = '\u2014 ';

/** One signature line as written. */
export interface NoteSignature {
  readonly name: string;
  readonly keyId: number;
  /** The signature bytes after the key id. */
  readonly signature: Buffer;
  /** The base64 field exactly as it appeared (key id ‖ signature). */
  readonly base64: string;
}

/** A note split into text and signature lines; nothing is verified yet. */
export interface ParsedNote {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly textBytes: Buffer;
  readonly signatures: readonly NoteSignature[];
}

export interface VerifiedSignature extends NoteSignature {
  readonly verifier: NoteVerifier;
}

export interface OpenedNote {
  readonly text: string;
  readonly textBytes: Buffer;
  /** Signatures by known keys, each verified; in note order, one per key. */
  readonly verified: readonly VerifiedSignature[];
  /** Signatures by keys not in the verifier list: ignored, as the spec requires. */
  readonly unverified: readonly NoteSignature[];
}

/**
 * Splits a note into text and signatures, enforcing the format: valid UTF-8,
 * no control characters but newline, a blank line before one or more
 * well-formed signature lines, each ending in a newline.
 */
export function parseNote(note: Uint8Array | string): ParsedNote {
  const bytes = typeof note === 'string' ? stringBytes(note) : Buffer.from(note.buffer, note.byteOffset, note.byteLength);
  if (bytes.length > MAX_NOTE_BYTES) throw malformed('too-large', `note is over ${MAX_NOTE_BYTES} bytes`);
  const msg = decodeUtf8Strict(bytes);
  if (msg === undefined) throw malformed('not-utf8', 'note is not valid UTF-8');
  if (hasControlOtherThanNewline(msg)) throw malformed('control-character', 'note has a control character other than newline');

  const split = msg.lastIndexOf('\n\n');
  if (split < 0) throw malformed('no-signatures', 'note has no blank line before its signatures');
  const text = msg.slice(0, split + 1);
  const block = msg.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw malformed('no-signatures', 'note does not end with a signature line');

  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_NOTE_SIGNATURES) throw malformed('too-many-signatures', `note has over ${MAX_NOTE_SIGNATURES} signatures`);
  const signatures = lines.map((line, i) => parseSignatureLine(line, i));
  return { text, textBytes: Buffer.from(text, 'utf8'), signatures };
}

/**
 * Signs `text` (which must end in a newline) with every signer, in order.
 * Returns the note bytes.
 */
export function signNote(text: string | Uint8Array, signers: readonly NoteSigner[]): Buffer {
  const textBytes = checkText(text);
  if (signers.length === 0) throw malformed('no-signatures', 'a note needs at least one signer');
  const seen = new Set<string>();
  const lines = signers.map((s) => {
    const id = `${s.name}+${formatKeyId(s.keyId)}`;
    if (seen.has(id)) throw malformed('duplicate-signer', `key ${id} is given twice`);
    seen.add(id);
    return signatureLine(s, textBytes);
  });
  return Buffer.from(`${textBytes.toString('utf8')}\n${lines.join('')}`, 'utf8');
}

/**
 * Adds signatures to an existing note: a cosignature, or a second log key
 * during rotation. An existing signature by the same (name, key id) is
 * replaced; all others are kept as they were. Existing signatures are not
 * verified here.
 */
export function addSignatures(note: Uint8Array | string, signers: readonly NoteSigner[]): Buffer {
  const parsed = parseNote(note);
  const replaced = new Set(signers.map((s) => `${s.name}+${formatKeyId(s.keyId)}`));
  if (replaced.size !== signers.length) throw malformed('duplicate-signer', 'a key is given twice');
  const kept = parsed.signatures
    .filter((s) => !replaced.has(`${s.name}+${formatKeyId(s.keyId)}`))
    .map((s) => `${SIG_PREFIX}${s.name} ${s.base64}\n`);
  const added = signers.map((s) => signatureLine(s, parsed.textBytes));
  if (kept.length + added.length > MAX_NOTE_SIGNATURES) throw malformed('too-many-signatures', `note would have over ${MAX_NOTE_SIGNATURES} signatures`);
  return Buffer.from(`${parsed.text}\n${kept.join('')}${added.join('')}`, 'utf8');
}

/**
 * Opens a note as the spec requires: a signature whose (name, key id) matches
 * a verifier must verify, or the whole note is rejected; signatures by other
 * keys are ignored (even if they share a name or an id with a known key); at
 * least one known signature must be present. Repeats of a key's signature are
 * dropped after the first, as Go's x/mod/sumdb/note does.
 */
export function openNote(note: Uint8Array | string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const known = indexVerifiers(verifiers);
  const parsed = parseNote(note);
  const verified: VerifiedSignature[] = [];
  const unverified: NoteSignature[] = [];
  const seen = new Set<string>();
  for (const sig of parsed.signatures) {
    const id = `${sig.name}+${formatKeyId(sig.keyId)}`;
    const v = known.get(id);
    if (!v) {
      if (!unverified.some((u) => u.name === sig.name && u.base64 === sig.base64)) unverified.push(sig);
      continue;
    }
    if (seen.has(id)) continue;
    seen.add(id);
    if (!v.verify(parsed.textBytes, sig.signature)) {
      throw new EvidenceError('EVIDENCE_NOTE_BAD_SIGNATURE', 'bad-signature', `invalid signature for key ${id}`);
    }
    verified.push({ ...sig, verifier: v });
  }
  if (verified.length === 0) {
    const by = unverified.map((u) => `${u.name}+${formatKeyId(u.keyId)}`).join(', ');
    throw new EvidenceError('EVIDENCE_NOTE_UNVERIFIED', 'no-known-signature', `note has no signature by a known key (signed by: ${by})`);
  }
  return { text: parsed.text, textBytes: parsed.textBytes, verified, unverified };
}

function indexVerifiers(verifiers: readonly NoteVerifier[]): Map<string, NoteVerifier> {
  const known = new Map<string, NoteVerifier>();
  for (const v of verifiers) {
    const id = `${v.name}+${formatKeyId(v.keyId)}`;
    const had = known.get(id);
    if (had && had.verifierKey !== v.verifierKey) {
      // Two different keys under one (name, id) would make "which key signed" ambiguous.
      throw new EvidenceError('EVIDENCE_KEY_INVALID', 'ambiguous-key', `two different verifier keys share the name and id ${id}`);
    }
    known.set(id, v);
  }
  return known;
}

function parseSignatureLine(line: string, i: number): NoteSignature {
  const bad = (why: string): EvidenceError => malformed('bad-signature-line', `signature line ${i + 1}: ${why}`);
  if (!line.startsWith(SIG_PREFIX)) throw bad('does not start with an em dash and a space');
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw bad('has no signature');
  const name = rest.slice(0, space);
  const base64 = rest.slice(space + 1);
  if (!isValidKeyName(name)) throw bad('the key name is empty or has a space or "+"');
  const raw = decodeBase64Strict(base64);
  if (!raw || raw.length < 5) throw bad('the signature is not canonical base64 of a key id and a signature');
  return { name, keyId: raw.readUInt32BE(0), signature: raw.subarray(4), base64 };
}

function signatureLine(s: NoteSigner, text: Buffer): string {
  if (!isValidKeyName(s.name)) throw malformed('bad-signer', 'a signer key name is empty or has a space or "+"');
  const id = Buffer.alloc(4);
  id.writeUInt32BE(s.keyId >>> 0);
  return `${SIG_PREFIX}${s.name} ${encodeBase64(Buffer.concat([id, s.sign(text)]))}\n`;
}

function checkText(text: string | Uint8Array): Buffer {
  const bytes = typeof text === 'string' ? stringBytes(text) : Buffer.from(text);
  const str = decodeUtf8Strict(bytes);
  if (str === undefined) throw malformed('not-utf8', 'note text is not valid UTF-8');
  if (!str.endsWith('\n')) throw malformed('no-final-newline', 'note text must end with a newline');
  if (hasControlOtherThanNewline(str)) throw malformed('control-character', 'note text has a control character other than newline');
  return bytes;
}

function stringBytes(s: string): Buffer {
  if (hasLoneSurrogate(s)) throw malformed('not-utf8', 'note has an unpaired surrogate');
  return Buffer.from(s, 'utf8');
}

function malformed(reason: string, message: string): EvidenceError {
  return new EvidenceError('EVIDENCE_NOTE_MALFORMED', reason, message);
}
