import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/*
 * Raw Ed25519 (RFC 8032) keys on top of node:crypto KeyObjects. Key strings
 * carry the 32-byte seed and public key; node wants DER, so the fixed
 * PKCS#8 / SPKI headers for Ed25519 are prepended here.
 */

const PKCS8_PREFIX_HEX = '302e020100300506032b657004220420';
const SPKI_PREFIX_HEX = '302a300506032b6570032100';
const PREFIX_LENGTH = { pkcs8: PKCS8_PREFIX_HEX.length / 2, spki: SPKI_PREFIX_HEX.length / 2 } as const;

export const ED25519_KEY_SIZE = 32;
export const ED25519_SIGNATURE_SIZE = 64;

/** A private KeyObject from a 32-byte seed. The DER copy of the seed is wiped. */
export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  const der = Buffer.concat([Buffer.from(PKCS8_PREFIX_HEX, 'hex'), seed]);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

export function publicKeyFromRaw(pub: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([Buffer.from(SPKI_PREFIX_HEX, 'hex'), pub]), format: 'der', type: 'spki' });
}

/** The 32-byte public key of a private or public Ed25519 KeyObject. */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' }).subarray(PREFIX_LENGTH.spki);
}

/** A fresh key pair; the caller owns (and should wipe) the returned seed. */
export function generateEd25519(): { seed: Buffer; privateKey: KeyObject; publicKey: Buffer } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const der = privateKey.export({ format: 'der', type: 'pkcs8' });
  const seed = Buffer.from(der.subarray(PREFIX_LENGTH.pkcs8));
  der.fill(0);
  return { seed, privateKey, publicKey: rawPublicKey(privateKey) };
}

export function ed25519Sign(key: KeyObject, message: Uint8Array): Buffer {
  return sign(null, message, key);
}

export function ed25519Verify(key: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== ED25519_SIGNATURE_SIZE) return false;
  try {
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}
