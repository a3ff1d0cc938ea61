import { createHash, hash } from 'node:crypto';

/** RFC 6962 hashes are SHA-256: 32 bytes. */
export const HASH_SIZE = 32;

// Domain separation bytes of RFC 6962 §2.1.
const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** RFC 6962 leaf hash: SHA-256(0x00 || entry bytes). */
export function hashLeaf(entry: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(entry.length + 1);
  input[0] = LEAF_PREFIX;
  input.set(entry, 1);
  return sha256(input);
}

/** RFC 6962 interior node hash: SHA-256(0x01 || left || right). */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(1 + left.length + right.length);
  input[0] = NODE_PREFIX;
  input.set(left, 1);
  input.set(right, 1 + left.length);
  return sha256(input);
}

// One-shot crypto.hash (Node >= 20.12) costs about half of createHash().update().digest() for inputs this small.
function sha256(input: Buffer): Buffer {
  return hash('sha256', input, 'buffer') as unknown as Buffer;
}

/** Root of the empty tree: SHA-256 of the empty string. */
export function emptyRoot(): Buffer {
  return createHash('sha256').digest();
}

export function isHash(value: unknown): value is Uint8Array {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}
