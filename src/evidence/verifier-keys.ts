import { parseCosignatureVerifierKey } from './cosignature';
import { EvidenceError } from './evidence-error';
import { SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, decodeVerifierKey, parseVerifierKey, type NoteVerifier } from './note-key';

/**
 * A verifier for any vkey this library understands: log keys (Ed25519, type
 * 0x01) and witness keys (Ed25519 cosignature, type 0x04). Other types are
 * refused, so a configured key is never silently unused.
 */
export function parseAnyVerifierKey(vkey: string): NoteVerifier {
  const { type } = decodeVerifierKey(vkey);
  switch (type) {
    case SIG_TYPE_ED25519:
      return parseVerifierKey(vkey);
    case SIG_TYPE_COSIGNATURE_V1:
      return parseCosignatureVerifierKey(vkey);
    default:
      throw new EvidenceError('EVIDENCE_KEY_INVALID', 'unsupported-key-type', `verifier key type 0x${type.toString(16).padStart(2, '0')} is not supported`);
  }
}
