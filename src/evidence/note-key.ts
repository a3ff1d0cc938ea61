import { createHash, type KeyObject } from 'node:crypto';
import { SecretValue } from '../lib/secret-value';
import { ED25519_KEY_SIZE, ed25519Sign, ed25519Verify, generateEd25519, privateKeyFromSeed, publicKeyFromRaw, rawPublicKey } from './ed25519';
import { EvidenceError } from './evidence-error';
import { decodeBase64Strict, encodeBase64 } from './strict-encoding';

/** Signature type bytes of c2sp.org/signed-note. */
export const SIG_TYPE_ED25519 = 0x01;
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;

/** Checks signatures by one key, identified in a note by (name, key id). */
export interface NoteVerifier {
  readonly name: string;
  /** uint32 key id. */
  readonly keyId: number;
  /** Signature type byte (0x01 Ed25519, 0x04 Ed25519 cosignature). */
  readonly type: number;
  /** The Go-style vkey `<name>+<hex id>+<base64(type ‖ public key)>`. */
  readonly verifierKey: string;
  /** Checks `signature` (the bytes after the 4-byte key id) over the note text. */
  verify(text: Buffer, signature: Buffer): boolean;
}

/** Makes signatures for notes. Holds key material: never log or serialise one. */
export interface NoteSigner {
  readonly name: string;
  readonly keyId: number;
  readonly type: number;
  readonly verifierKey: string;
  /** The signature bytes over the note text, without the key id. */
  sign(text: Buffer): Buffer;
}

/** A key name per signed-note: non-empty, no Unicode space, no '+'. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\p{White_Space}+]/u.test(name) && !/[\uD800-\uDFFF]/.test(name) && !/[\p{Cc}]/u.test(name);
}

/** SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4] as a big-endian uint32. */
export function computeKeyId(name: string, type: number, publicKey: Uint8Array): number {
  const h = createHash('sha256').update(name, 'utf8').update(Buffer.from([0x0a, type])).update(publicKey).digest();
  return h.readUInt32BE(0);
}

/** A key id as 8 lowercase hex digits. */
export function formatKeyId(keyId: number): string {
  return keyId.toString(16).padStart(8, '0');
}

export function encodeVerifierKey(name: string, type: number, publicKey: Uint8Array): string {
  const id = computeKeyId(name, type, publicKey);
  return `${name}+${formatKeyId(id)}+${encodeBase64(Buffer.concat([Buffer.from([type]), publicKey]))}`;
}

export interface DecodedVerifierKey {
  name: string;
  keyId: number;
  type: number;
  publicKey: Buffer;
}

/**
 * Splits a vkey `<name>+<hex id>+<base64(type ‖ key)>` and checks that the id
 * is the one derived from the name and key. The base64 part may itself contain
 * '+', so only the first two '+' separate fields.
 */
export function decodeVerifierKey(vkey: string): DecodedVerifierKey {
  const m = /^([^+]*)\+([^+]*)\+(.*)$/s.exec(vkey);
  const bad = (why: string): EvidenceError => new EvidenceError('EVIDENCE_KEY_INVALID', 'bad-verifier-key', `verifier key: ${why}`);
  if (!m) throw bad('want <name>+<hex id>+<base64 key>');
  const [, name, idHex, b64] = m as unknown as [string, string, string, string];
  if (!isValidKeyName(name)) throw bad('the key name is empty or has a space, "+" or control character');
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw bad('the key id is not 8 lowercase hex digits');
  const key = decodeBase64Strict(b64);
  if (!key || key.length < 2) throw bad('the key is not canonical base64 of a type byte and a public key');
  const keyId = parseInt(idHex, 16);
  const type = key[0]!;
  const publicKey = key.subarray(1);
  if (computeKeyId(name, type, publicKey) !== keyId) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'key-id-mismatch', `verifier key ${name}+${idHex}: the key id does not match the key`);
  }
  return { name, keyId, type, publicKey };
}

export interface DecodedSignerKey {
  name: string;
  keyId: number;
  type: number;
  /** The private key material (an Ed25519 seed for the types supported here). */
  secret: SecretValue;
}

/**
 * Splits a signer key `PRIVATE+KEY+<name>+<hex id>+<base64(type ‖ private key)>`
 * without checking the id (that needs the public key; see the parse functions).
 * Errors never echo the input, which is secret.
 */
export function decodeSignerKey(skey: string | SecretValue): DecodedSignerKey {
  const text = typeof skey === 'string' ? skey : skey.revealString();
  const bad = (why: string): EvidenceError => new EvidenceError('EVIDENCE_KEY_INVALID', 'bad-signer-key', `signer key: ${why}`);
  if (text.trim() !== text) throw bad('has leading or trailing whitespace (trim what was read from the key file)');
  const m = /^PRIVATE\+KEY\+([^+]*)\+([^+]*)\+(.*)$/s.exec(text);
  if (!m) throw bad('want PRIVATE+KEY+<name>+<hex id>+<base64 key>');
  const [, name, idHex, b64] = m as unknown as [string, string, string, string];
  if (!isValidKeyName(name)) throw bad('the key name is empty or has a space, "+" or control character');
  if (!/^[0-9a-f]{8}$/.test(idHex)) throw bad('the key id is not 8 lowercase hex digits');
  const key = decodeBase64Strict(b64);
  if (!key || key.length < 2) throw bad('the key is not canonical base64 of a type byte and a private key');
  const secret = SecretValue.fromBytes(key.subarray(1));
  const type = key[0]!;
  key.fill(0);
  return { name, keyId: parseInt(idHex, 16), type, secret };
}

/** Encodes a signer key string; the result is secret. */
export function encodeSignerKey(name: string, type: number, privateKey: Uint8Array, publicKey: Uint8Array): SecretValue {
  const id = computeKeyId(name, type, publicKey);
  const raw = Buffer.concat([Buffer.from([type]), privateKey]);
  const value = SecretValue.fromString(`PRIVATE+KEY+${name}+${formatKeyId(id)}+${raw.toString('base64')}`);
  raw.fill(0);
  return value;
}

/**
 * The Ed25519 key behind a decoded signer key of `type`, after checking its
 * length and that the id matches the derived public key.
 */
export function ed25519FromSignerKey(decoded: DecodedSignerKey, type: number): { privateKey: KeyObject; publicKey: Buffer } {
  const where = `signer key ${decoded.name}+${formatKeyId(decoded.keyId)}`;
  if (decoded.type !== type) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'wrong-key-type', `${where}: key type 0x${hex2(decoded.type)}, want 0x${hex2(type)}`);
  }
  if (decoded.secret.length !== ED25519_KEY_SIZE) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'bad-signer-key', `${where}: an Ed25519 seed is ${ED25519_KEY_SIZE} bytes`);
  }
  const seed = decoded.secret.reveal();
  let privateKey: KeyObject;
  try {
    privateKey = privateKeyFromSeed(seed);
  } finally {
    seed.fill(0);
  }
  const publicKey = rawPublicKey(privateKey);
  if (computeKeyId(decoded.name, type, publicKey) !== decoded.keyId) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'key-id-mismatch', `${where}: the key id does not match the key`);
  }
  return { privateKey, publicKey };
}

/** The Ed25519 public key behind a decoded vkey of `type`. */
export function ed25519FromVerifierKey(decoded: DecodedVerifierKey, type: number): KeyObject {
  const where = `verifier key ${decoded.name}+${formatKeyId(decoded.keyId)}`;
  if (decoded.type !== type) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'wrong-key-type', `${where}: key type 0x${hex2(decoded.type)}, want 0x${hex2(type)}`);
  }
  if (decoded.publicKey.length !== ED25519_KEY_SIZE) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'bad-verifier-key', `${where}: an Ed25519 public key is ${ED25519_KEY_SIZE} bytes`);
  }
  try {
    return publicKeyFromRaw(decoded.publicKey);
  } catch (err) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'bad-verifier-key', `${where}: not an Ed25519 public key`, { cause: err });
  }
}

/** A verifier for plain Ed25519 note signatures (type 0x01) from its vkey. */
export function parseVerifierKey(vkey: string): NoteVerifier {
  const decoded = decodeVerifierKey(vkey);
  const key = ed25519FromVerifierKey(decoded, SIG_TYPE_ED25519);
  return Object.freeze({
    name: decoded.name,
    keyId: decoded.keyId,
    type: SIG_TYPE_ED25519,
    verifierKey: vkey,
    verify: (text: Buffer, signature: Buffer) => ed25519Verify(key, text, signature),
  });
}

/** A signer for plain Ed25519 note signatures (type 0x01) from its signer key string. */
export function parseSignerKey(skey: string | SecretValue): NoteSigner {
  const decoded = decodeSignerKey(skey);
  const { privateKey, publicKey } = ed25519FromSignerKey(decoded, SIG_TYPE_ED25519);
  decoded.secret.wipe();
  return Object.freeze({
    name: decoded.name,
    keyId: decoded.keyId,
    type: SIG_TYPE_ED25519,
    verifierKey: encodeVerifierKey(decoded.name, SIG_TYPE_ED25519, publicKey),
    sign: (text: Buffer) => ed25519Sign(privateKey, text),
  });
}

/** A new Ed25519 note key named `name` (for a log: its origin). */
export function generateNoteKey(name: string): { signerKey: SecretValue; verifierKey: string } {
  return generateEd25519Key(name, SIG_TYPE_ED25519);
}

/** A new Ed25519 key of signature `type` (0x01 note key, 0x04 cosigner key). */
export function generateEd25519Key(name: string, type: number): { signerKey: SecretValue; verifierKey: string } {
  if (!isValidKeyName(name)) {
    throw new EvidenceError('EVIDENCE_KEY_INVALID', 'bad-key-name', 'a key name must be non-empty with no space, "+" or control character');
  }
  const { seed, publicKey } = generateEd25519();
  try {
    return { signerKey: encodeSignerKey(name, type, seed, publicKey), verifierKey: encodeVerifierKey(name, type, publicKey) };
  } finally {
    seed.fill(0);
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
