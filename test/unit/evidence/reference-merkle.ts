import { createHash } from 'node:crypto';

/*
 * RFC 6962 §2.1 written out literally and recursively, as an independent
 * oracle for the stored-node implementation. Slow, and only for small trees.
 */

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export const refLeaf = (d: Uint8Array): Buffer => sha(Buffer.from([0]), d);
const refNode = (l: Uint8Array, r: Uint8Array): Buffer => sha(Buffer.from([1]), l, r);

/** Largest power of two strictly less than n (n > 1). */
const split = (n: number): number => {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
};

/** MTH(D[n]) over leaf hashes. */
export function refRoot(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0]!;
  const k = split(leaves.length);
  return refNode(refRoot(leaves.slice(0, k)), refRoot(leaves.slice(k)));
}

/** PATH(m, D[n]). */
export function refPath(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k
    ? [...refPath(m, leaves.slice(0, k)), refRoot(leaves.slice(k))]
    : [...refPath(m - k, leaves.slice(k)), refRoot(leaves.slice(0, k))];
}

/** PROOF(m, D[n]) = SUBPROOF(m, D[n], true). */
export function refConsistency(m: number, leaves: readonly Buffer[]): Buffer[] {
  const sub = (mm: number, d: readonly Buffer[], b: boolean): Buffer[] => {
    const n = d.length;
    if (mm === n) return b ? [] : [refRoot(d)];
    const k = split(n);
    return mm <= k
      ? [...sub(mm, d.slice(0, k), b), refRoot(d.slice(k))]
      : [...sub(mm - k, d.slice(k), false), refRoot(d.slice(0, k))];
  };
  return sub(m, leaves, true);
}
