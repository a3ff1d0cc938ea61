import { EvidenceError } from './evidence-error';

/*
 * Index arithmetic for RFC 6962 trees. Sizes go up to 2^53-1, past the 32 bits
 * that JavaScript's bitwise operators handle, so shifts are divisions here.
 */

/** A complete subtree as a half-open leaf range, with its stored node key. */
export interface NodeRange {
  readonly level: number;
  readonly index: number;
  readonly start: number;
  readonly end: number;
}

export function pow2(level: number): number {
  return 2 ** level;
}

/** x >> bits for non-negative safe integers. */
export function shr(x: number, bits: number): number {
  return Math.floor(x / pow2(bits));
}

export function isOdd(x: number): boolean {
  return x % 2 === 1;
}

/** Number of low zero bits of x > 0. */
export function trailingZeros(x: number): number {
  let n = 0;
  while (!isOdd(x)) {
    x /= 2;
    n++;
  }
  return n;
}

export function assertSize(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new EvidenceError('EVIDENCE_MERKLE_ARGUMENT', 'bad-number', `${what} must be a non-negative safe integer`);
  }
}

/**
 * The siblings along the path from node (level, index) up to the root of a
 * tree of `size` leaves, bottom-up: exactly the nodes of an RFC 6962 audit path.
 * A sibling wholly past the end of the tree is skipped (RFC 6962 promotes the
 * node instead); one reaching past the end is returned truncated at `size`, and
 * its hash is the root of that ragged range.
 */
export function auditPathRanges(level: number, index: number, size: number): NodeRange[] {
  const out: NodeRange[] = [];
  for (let l = level, i = index; shr(size - 1, l) > 0; l++, i = Math.floor(i / 2)) {
    const sibling = isOdd(i) ? i - 1 : i + 1;
    const start = sibling * pow2(l);
    if (start >= size) continue;
    out.push({ level: l, index: sibling, start, end: Math.min(start + pow2(l), size) });
  }
  return out;
}

/**
 * The complete subtrees that make up [start, end), largest first, when start
 * is a multiple of a power of two at least end - start (so a tree's prefix, or
 * the ragged right part of an aligned subtree). Folding their hashes from the
 * right gives the RFC 6962 hash of the range.
 */
export function completeSubtrees(start: number, end: number): NodeRange[] {
  const out: NodeRange[] = [];
  let pos = start;
  let remaining = end - start;
  for (let level = 53; level >= 0 && remaining > 0; level--) {
    const width = pow2(level);
    if (remaining >= width) {
      out.push({ level, index: pos / width, start: pos, end: pos + width });
      pos += width;
      remaining -= width;
    }
  }
  return out;
}

/** Length of a valid inclusion proof for `index` in a tree of `size` (index < size). */
export function inclusionProofLength(index: number, size: number): number {
  return auditPathRanges(0, index, size).length;
}

/**
 * The consistency proof layout (RFC 9162 §2.1.4.1 in the form transparency-dev
 * uses): the largest complete subtree ending at size1, then its audit path in
 * the tree of size2. The subtree itself is left out when size1 is a power of
 * two, because then it is the old root, which the verifier already has.
 */
export function consistencyLayout(size1: number, size2: number): { seed: NodeRange | undefined; path: NodeRange[] } {
  const level = trailingZeros(size1);
  const index = shr(size1, level) - 1;
  const seed = index === 0 ? undefined : { level, index, start: size1 - pow2(level), end: size1 };
  return { seed, path: auditPathRanges(level, index, size2) };
}
