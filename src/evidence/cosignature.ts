import type { Clock } from '../lib/clock';
import type { SecretValue } from '../lib/secret-value';
import { ED25519_SIGNATURE_SIZE, ed25519Sign, ed25519Verify } from './ed25519';
import { EvidenceError } from './evidence-error';
import {
  SIG_TYPE_COSIGNATURE_V1,
  decodeSignerKey,
  decodeVerifierKey,
  ed25519FromSignerKey,
  ed25519FromVerifierKey,
  encodeVerifierKey,
  generateEd25519Key,
  type NoteSigner,
  type NoteVerifier,
} from './note-key';

/*
 * c2sp.org/tlog-cosignature, Ed25519 flavour (signature type 0x04): a
 * witness's timestamped signature over a checkpoint. The signature field is
 * u64 big-endian POSIX seconds ‖ Ed25519 signature of
 *   "cosignature/v1\n" "time <seconds>\n" <checkpoint note text>.
 */

const TIMESTAMP_SIZE = 8;
const MAX_TIMESTAMP = 2n ** 63n - 1n;

/** The message a cosigner signs for `checkpointText` at `timestamp` (seconds). */
export function cosignedMessage(timestamp: number, checkpointText: Uint8Array): Buffer {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new EvidenceError('EVIDENCE_NOTE_MALFORMED', 'bad-timestamp', 'a cosignature timestamp is a non-negative integer');
  }
  return Buffer.concat([Buffer.from(`cosignature/v1\ntime ${timestamp}\n`, 'utf8'), checkpointText]);
}

/** The timestamp (POSIX seconds) inside a cosignature's signature bytes. */
export function cosignatureTimestamp(signature: Uint8Array): number {
  const ts = signature.length === TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE ? Buffer.from(signature).readBigUInt64BE(0) : -1n;
  if (ts < 0n || ts > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new EvidenceError('EVIDENCE_NOTE_MALFORMED', 'bad-cosignature', 'not a timestamped Ed25519 cosignature');
  }
  return Number(ts);
}

/** A verifier for a witness's Ed25519 cosignatures (type 0x04) from its vkey. */
export function parseCosignatureVerifierKey(vkey: string): NoteVerifier {
  const decoded = decodeVerifierKey(vkey);
  const key = ed25519FromVerifierKey(decoded, SIG_TYPE_COSIGNATURE_V1);
  return Object.freeze({
    name: decoded.name,
    keyId: decoded.keyId,
    type: SIG_TYPE_COSIGNATURE_V1,
    verifierKey: vkey,
    verify: (text: Buffer, signature: Buffer): boolean => {
      if (signature.length !== TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE) return false;
      const ts = signature.readBigUInt64BE(0);
      // Beyond 2^53 seconds no real clock; beyond 2^63-1 the spec forbids.
      if (ts > MAX_TIMESTAMP || ts > BigInt(Number.MAX_SAFE_INTEGER)) return false;
      return ed25519Verify(key, cosignedMessage(Number(ts), text), signature.subarray(TIMESTAMP_SIZE));
    },
  });
}

/**
 * A cosigner (type 0x04) from a signer key `PRIVATE+KEY+<name>+<id>+<base64(0x04 ‖ seed)>`.
 * Timestamps come from `clock`, in whole seconds.
 */
export function parseCosignerKey(skey: string | SecretValue, clock: Clock): NoteSigner {
  const decoded = decodeSignerKey(skey);
  const { privateKey, publicKey } = ed25519FromSignerKey(decoded, SIG_TYPE_COSIGNATURE_V1);
  decoded.secret.wipe();
  return Object.freeze({
    name: decoded.name,
    keyId: decoded.keyId,
    type: SIG_TYPE_COSIGNATURE_V1,
    verifierKey: encodeVerifierKey(decoded.name, SIG_TYPE_COSIGNATURE_V1, publicKey),
    sign: (text: Buffer): Buffer => {
      const seconds = Math.floor(clock.now() / 1000);
      const ts = Buffer.alloc(TIMESTAMP_SIZE);
      ts.writeBigUInt64BE(BigInt(seconds));
      return Buffer.concat([ts, ed25519Sign(privateKey, cosignedMessage(seconds, text))]);
    },
  });
}

/** A new witness key for Ed25519 cosignatures. */
export function generateCosignerKey(name: string): { signerKey: SecretValue; verifierKey: string } {
  return generateEd25519Key(name, SIG_TYPE_COSIGNATURE_V1);
}
