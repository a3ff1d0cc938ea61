import { EvidenceError } from '../evidence-error';
import { hashChildren, isHash, type NodeKey, type StoredNode } from '../merkle';
import { completeSubtrees } from '../tree-math';

/*
 * The right edge of a tree of n leaves: its complete subtrees, one per set bit
 * of n, largest (leftmost) first. It is all an append needs, so the ledger can
 * build a batch's nodes synchronously inside the write transaction: the same
 * nodes merkle.nodesToStoreOnAppend would give (a unit test holds them equal).
 */

export interface TreeHead {
  readonly size: number;
  /** The complete subtrees of [0, size), largest first. */
  readonly edge: readonly StoredNode[];
}

export const EMPTY_HEAD: TreeHead = Object.freeze({ size: 0, edge: Object.freeze([]) as readonly StoredNode[] });

/** The node keys that make up the right edge of a tree of `size`. */
export function rightEdgeKeys(size: number): NodeKey[] {
  return completeSubtrees(0, size).map(({ level, index }) => ({ level, index }));
}

/** A head from the right-edge hashes read for `size` (in rightEdgeKeys order). */
export function headFromEdge(size: number, hashes: readonly Buffer[]): TreeHead {
  const keys = rightEdgeKeys(size);
  if (hashes.length !== keys.length || !hashes.every((h) => isHash(h))) {
    throw new EvidenceError('EVIDENCE_TREE_STORE', 'bad-right-edge', `the stored right edge of the tree of size ${size} is incomplete`);
  }
  return { size, edge: keys.map((k, i) => ({ ...k, hash: Buffer.from(hashes[i]!) })) };
}

/**
 * Extends a tree by one leaf. `edge` is the right edge before the append and is
 * updated in place; returns the nodes the leaf creates (the leaf itself and
 * every subtree it completes), bottom-up.
 */
export function appendToEdge(edge: StoredNode[], leafIndex: number, leafHash: Buffer): StoredNode[] {
  let node: StoredNode = { level: 0, index: leafIndex, hash: leafHash };
  const created: StoredNode[] = [node];
  while (edge.length > 0 && edge[edge.length - 1]!.level === node.level) {
    const left = edge.pop()!;
    node = { level: node.level + 1, index: left.index / 2, hash: hashChildren(left.hash, node.hash) };
    created.push(node);
  }
  edge.push(node);
  return created;
}
