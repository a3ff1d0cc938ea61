import { EvidenceError } from './evidence-error';
import { HASH_SIZE, hashChildren, isHash } from './merkle-hash';
import { assertSize, consistencyLayout, inclusionProofLength, isOdd } from './tree-math';

/*
 * Proof verification, RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency),
 * with the conventions of transparency-dev/merkle (whose test vectors we run):
 * - a leaf hash or proof hash that is not 32 bytes is an error;
 * - a proof of the wrong length for its sizes is an error;
 * - a consistency proof from size 0 is an error (it proves nothing);
 * - roots are only ever compared: a root of the wrong length simply does not
 *   match, and for size1 == size2 two equal roots are consistent.
 *
 * So: malformed input throws EvidenceError; a well-formed proof that does not
 * lead to the given root returns false.
 */

/** The root that `proof` implies for leaf `index` in a tree of `size`. Throws if malformed. */
export function rootFromInclusionProof(index: number, size: number, leafHash: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  assertSize('index', index);
  assertSize('size', size);
  if (index >= size) {
    throw new EvidenceError('EVIDENCE_MERKLE_ARGUMENT', 'index-out-of-range', `index ${index} is not below tree size ${size}`);
  }
  if (!isHash(leafHash)) throw badHash('leaf hash');
  const want = inclusionProofLength(index, size);
  if (proof.length !== want) {
    throw new EvidenceError(
      'EVIDENCE_MERKLE_PROOF',
      'wrong-proof-length',
      `inclusion proof for index ${index} in tree size ${size} has ${proof.length} hashes, want ${want}`,
    );
  }
  proof.forEach((h, i) => {
    if (!isHash(h)) throw badHash(`inclusion proof hash ${i}`);
  });

  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leafHash);
  for (const p of proof) {
    if (sn === 0) throw new EvidenceError('EVIDENCE_MERKLE_PROOF', 'wrong-proof-length', 'inclusion proof is too long');
    if (isOdd(fn) || fn === sn) {
      r = hashChildren(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new EvidenceError('EVIDENCE_MERKLE_PROOF', 'wrong-proof-length', 'inclusion proof is too short');
  return r;
}

/**
 * True when `proof` shows the leaf with hash `leafHash` at `index` in the tree
 * of `size` whose root is `root`; false when it leads to another root.
 * Throws EvidenceError (EVIDENCE_MERKLE_ARGUMENT / EVIDENCE_MERKLE_PROOF) when
 * the input is malformed.
 */
export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  return sameHash(rootFromInclusionProof(index, size, leafHash, proof), root);
}

/**
 * True when `proof` shows that the tree of size2 with root `root2` extends the
 * tree of size1 with root `root1`; false when the hashes do not agree.
 * Throws EvidenceError for malformed input: size1 == 0, size1 > size2, a
 * non-empty proof for equal sizes, a proof of the wrong length or with a hash
 * that is not 32 bytes.
 */
export function verifyConsistency(
  size1: number,
  size2: number,
  proof: readonly Uint8Array[],
  root1: Uint8Array,
  root2: Uint8Array,
): boolean {
  assertSize('size1', size1);
  assertSize('size2', size2);
  if (size2 < size1) {
    throw new EvidenceError('EVIDENCE_MERKLE_ARGUMENT', 'size2-below-size1', `size2 (${size2}) is below size1 (${size1})`);
  }
  if (size1 === 0) {
    throw new EvidenceError('EVIDENCE_MERKLE_ARGUMENT', 'size1-zero', 'a consistency proof from the empty tree proves nothing');
  }
  if (size1 === size2) {
    if (proof.length > 0) {
      throw new EvidenceError('EVIDENCE_MERKLE_PROOF', 'wrong-proof-length', 'sizes are equal but the consistency proof is not empty');
    }
    return sameHash(root1, root2);
  }
  const layout = consistencyLayout(size1, size2);
  const want = (layout.seed ? 1 : 0) + layout.path.length;
  if (proof.length !== want) {
    throw new EvidenceError(
      'EVIDENCE_MERKLE_PROOF',
      'wrong-proof-length',
      `consistency proof from size ${size1} to ${size2} has ${proof.length} hashes, want ${want}`,
    );
  }
  proof.forEach((h, i) => {
    if (!isHash(h)) throw badHash(`consistency proof hash ${i}`);
  });
  if (!isHash(root1) || !isHash(root2)) return false;

  // RFC 9162 §2.1.4.2, step by step.
  const path = layout.seed ? proof : [root1, ...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && fr.equals(root1) && sr.equals(root2);
}

function sameHash(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function badHash(what: string): EvidenceError {
  return new EvidenceError('EVIDENCE_MERKLE_PROOF', 'bad-hash-size', `${what} is not ${HASH_SIZE} bytes`);
}
