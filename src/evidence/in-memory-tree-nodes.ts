import { EvidenceError } from './evidence-error';
import { isHash } from './merkle-hash';
import { nodesToStoreOnAppend, type NodeKey, type StoredNode, type TreeNodeReader } from './merkle';

/**
 * A TreeNodeReader over a Map, for tests and for offline tools. Nodes are
 * write-once, as in a real store: writing a different hash to a stored node is
 * an error rather than a silent rewrite of history.
 */
export class InMemoryTreeNodes implements TreeNodeReader {
  readonly #nodes = new Map<string, Buffer>();
  #leaves = 0;

  /** Number of leaves added with append(). */
  get size(): number {
    return this.#leaves;
  }

  /** Number of stored nodes of any level. */
  get nodeCount(): number {
    return this.#nodes.size;
  }

  put(nodes: readonly StoredNode[]): void {
    for (const n of nodes) {
      if (!isHash(n.hash)) throw new EvidenceError('EVIDENCE_TREE_STORE', 'bad-hash-size', `node ${n.level}/${n.index} is not 32 bytes`);
      const k = key(n);
      const had = this.#nodes.get(k);
      if (had && !had.equals(n.hash)) {
        throw new EvidenceError('EVIDENCE_TREE_STORE', 'node-rewrite', `node ${k} is already stored with another hash`);
      }
      this.#nodes.set(k, Buffer.from(n.hash));
    }
  }

  /** Appends one leaf hash and stores the nodes it completes. Returns its index. */
  async append(leafHash: Uint8Array): Promise<number> {
    const index = this.#leaves;
    this.put(await nodesToStoreOnAppend(index, leafHash, this));
    this.#leaves = index + 1;
    return index;
  }

  async getNodes(keys: readonly NodeKey[]): Promise<Buffer[]> {
    return keys.map((k) => {
      const h = this.#nodes.get(key(k));
      if (!h) throw new EvidenceError('EVIDENCE_TREE_STORE', 'missing-node', `node ${key(k)} is not stored`);
      return Buffer.from(h);
    });
  }
}

function key(k: NodeKey): string {
  return `${k.level}/${k.index}`;
}
