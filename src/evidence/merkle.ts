import { EvidenceError } from './evidence-error';
import { HASH_SIZE, emptyRoot, hashChildren, isHash } from './merkle-hash';
import { assertSize, auditPathRanges, completeSubtrees, consistencyLayout, isOdd, shr, type NodeRange } from './tree-math';

export { HASH_SIZE, emptyRoot, hashChildren, hashLeaf, isHash } from './merkle-hash';
export { rootFromInclusionProof, verifyConsistency, verifyInclusion } from './merkle-verify';

/*
 * The RFC 6962 tree as a store sees it. Only complete subtrees are stored:
 * node (level, index) is the hash over leaves [index·2^level, (index+1)·2^level),
 * so level 0 holds the leaf hashes. A node never changes once written, which
 * suits an append-only table keyed by (level, index).
 *
 * Every tree operation below costs one batched read of O(log n) nodes. The
 * ragged right edge of a tree whose size is not a power of two is hashed on
 * the fly from the complete subtrees that make it up.
 */

export interface NodeKey {
  readonly level: number;
  readonly index: number;
}

export interface StoredNode extends NodeKey {
  readonly hash: Buffer;
}

/** Read access to stored complete-subtree hashes. */
export interface TreeNodeReader {
  /**
   * The hashes of `keys`, in the same order. Batched so a SQL store can answer
   * with one query. Must throw (not return fewer) when a node is missing.
   */
  getNodes(keys: readonly NodeKey[]): Promise<Buffer[]>;
}

/**
 * The complete nodes that appending leaf `leafIndex` (making the tree
 * leafIndex+1 leaves) creates: the leaf itself and every subtree it completes.
 * Reads the left siblings it needs, at most log2(n) nodes, in one batch.
 * The caller stores all of them, atomically with the leaf.
 */
export async function nodesToStoreOnAppend(leafIndex: number, leafHash: Uint8Array, reader: TreeNodeReader): Promise<StoredNode[]> {
  assertSize('leafIndex', leafIndex);
  if (!isHash(leafHash)) {
    throw new EvidenceError('EVIDENCE_MERKLE_ARGUMENT', 'bad-hash-size', `leaf hash is not ${HASH_SIZE} bytes`);
  }
  // Each trailing 1 bit of the index is a left sibling this leaf now completes.
  const lefts: NodeKey[] = [];
  for (let level = 0, i = leafIndex; isOdd(i); level++, i = Math.floor(i / 2)) {
    lefts.push({ level, index: i - 1 });
  }
  const hashes = await readNodes(reader, lefts);
  const out: StoredNode[] = [{ level: 0, index: leafIndex, hash: Buffer.from(leafHash) }];
  let acc = out[0]!.hash;
  hashes.forEach((left, level) => {
    acc = hashChildren(left, acc);
    out.push({ level: level + 1, index: shr(leafIndex, level + 1), hash: acc });
  });
  return out;
}

/** The RFC 6962 root of the first `size` leaves. */
export async function rootAt(size: number, reader: TreeNodeReader): Promise<Buffer> {
  assertSize('size', size);
  if (size === 0) return emptyRoot();
  const parts = completeSubtrees(0, size);
  return foldRange(await readNodes(reader, parts));
}

/** The RFC 6962 audit path for leaf `index` in the tree of `size`, leaf side first. */
export async function inclusionProof(index: number, size: number, reader: TreeNodeReader): Promise<Buffer[]> {
  assertSize('index', index);
  assertSize('size', size);
  if (index >= size) {
    throw new EvidenceError('EVIDENCE_MERKLE_ARGUMENT', 'index-out-of-range', `index ${index} is not below tree size ${size}`);
  }
  return hashRanges(auditPathRanges(0, index, size), reader);
}

/**
 * The RFC 9162 consistency proof from the tree of size1 to the tree of size2.
 * Empty when the sizes are equal; an error when size1 is 0 (nothing to prove)
 * or larger than size2.
 */
export async function consistencyProof(size1: number, size2: number, reader: TreeNodeReader): Promise<Buffer[]> {
  assertSize('size1', size1);
  assertSize('size2', size2);
  if (size1 === 0 || size1 > size2) {
    throw new EvidenceError(
      'EVIDENCE_MERKLE_ARGUMENT',
      size1 === 0 ? 'size1-zero' : 'size2-below-size1',
      `no consistency proof from size ${size1} to size ${size2}: need 0 < size1 <= size2`,
    );
  }
  if (size1 === size2) return [];
  const layout = consistencyLayout(size1, size2);
  return hashRanges(layout.seed ? [layout.seed, ...layout.path] : layout.path, reader);
}

/** Hashes of aligned leaf ranges (complete or ragged), from one batched read. */
async function hashRanges(ranges: readonly NodeRange[], reader: TreeNodeReader): Promise<Buffer[]> {
  const parts = ranges.map((r) => completeSubtrees(r.start, r.end));
  const hashes = await readNodes(reader, parts.flat());
  let at = 0;
  return parts.map((p) => {
    const slice = hashes.slice(at, at + p.length);
    at += p.length;
    return foldRange(slice);
  });
}

/** RFC 6962 hash of a range from its complete subtrees, largest (leftmost) first. */
function foldRange(hashes: readonly Buffer[]): Buffer {
  let acc = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) acc = hashChildren(hashes[i]!, acc);
  return acc;
}

async function readNodes(reader: TreeNodeReader, keys: readonly NodeKey[]): Promise<Buffer[]> {
  if (keys.length === 0) return [];
  const plain = keys.map(({ level, index }) => ({ level, index }));
  const hashes = await reader.getNodes(plain);
  if (!Array.isArray(hashes) || hashes.length !== keys.length) {
    throw new EvidenceError('EVIDENCE_TREE_STORE', 'wrong-count', `tree store returned ${String(hashes?.length)} nodes for ${keys.length} keys`);
  }
  hashes.forEach((h, i) => {
    if (!isHash(h)) {
      throw new EvidenceError('EVIDENCE_TREE_STORE', 'bad-hash-size', `tree store node ${keys[i]!.level}/${keys[i]!.index} is not ${HASH_SIZE} bytes`);
    }
  });
  return hashes.map((h) => Buffer.from(h));
}
