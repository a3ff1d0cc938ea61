import { createHash } from 'node:crypto';

/** RFC 6962 hashes are SHA-256: 32 bytes. */
export const HASH_SIZE = 32;

// Domain separation bytes of RFC 6962 §2.1.
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** RFC 6962 leaf hash: SHA-256(0x00 || entry bytes). */
export function hashLeaf(entry: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(LEAF_PREFIX)).update(entry).digest();
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(NODE_PREFIX)).update(left).update(right).digest();
}

/** Root of the empty tree: SHA-256 of the empty string. */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest();
}

export function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}
