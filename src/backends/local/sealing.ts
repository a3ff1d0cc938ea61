import sodium from 'libsodium-wrappers';

/** The libsodium module once `ready`; obtained from `loadSodium()` and passed along, never kept globally. */
export type Sodium = typeof sodium;

export const MASTER_KEY_BYTES = 32;
export const NONCE_BYTES = 24;
/** Poly1305 tag appended to every ciphertext. */
export const TAG_BYTES = 16;

/** Domain label of this store's AEAD data and key check; bump with the format. */
export const SEAL_LABEL = 'secret-broker/local/v1';

export async function loadSodium(): Promise<Sodium> {
  await sodium.ready;
  return sodium;
}

/**
 * Associated data for one stored version: `secret-broker/local/v1 \0 <store id>
 * \0 <name> \0 <version>`. Names and store ids cannot contain NUL, so the
 * encoding is unambiguous, and a ciphertext copied to another store, name or
 * version slot fails to open.
 */
export function associatedData(storeId: string, name: string, version: number): Uint8Array {
  return Buffer.from(`${SEAL_LABEL}\0${storeId}\0${name}\0${version}`, 'utf8');
}

export interface Sealed {
  nonce: Uint8Array;
  ciphertext: Uint8Array;
}

/** XChaCha20-Poly1305-IETF with a fresh random 24-byte nonce; random nonces are safe at this size. */
export function seal(s: Sodium, key: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Sealed {
  const nonce = s.randombytes_buf(NONCE_BYTES);
  const ciphertext = s.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key);
  return { nonce, ciphertext };
}

/** The plaintext, or null when authentication fails. The caller wipes the result. */
export function open(s: Sodium, key: Uint8Array, sealed: Sealed, ad: Uint8Array): Uint8Array | null {
  try {
    return s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, sealed.ciphertext, ad, sealed.nonce, key);
  } catch {
    // libsodium's message carries nothing useful; the caller names what failed.
    return null;
  }
}

/**
 * A keyed BLAKE2b of a fixed label. Stored in the sealed file so a wrong master
 * key is reported once, clearly, and a put never mixes two keys in one file. As
 * a PRF output it reveals nothing about the key.
 */
export function keyCheck(s: Sodium, key: Uint8Array): Uint8Array {
  return s.crypto_generichash(32, `${SEAL_LABEL}\0key-check`, key);
}
