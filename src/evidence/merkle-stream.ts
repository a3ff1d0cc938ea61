import { emptyRoot, hashChildren } from './merkle-hash';

/**
 * Computes RFC 6962 roots while leaf hashes stream past, holding only one hash
 * per set bit of the size (a compact range from 0). The offline verifier uses
 * it to recompute old roots from a full export without keeping the entries.
 */
export class StreamingTreeHasher {
  // Perfect subtrees, largest first; their sizes are the set bits of #size.
  readonly #stack: { level: number; hash: Buffer }[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  append(leafHash: Uint8Array): void {
    let node: { level: number; hash: Buffer } = { level: 0, hash: Buffer.from(leafHash) };
    while (this.#stack.length > 0 && this.#stack[this.#stack.length - 1]!.level === node.level) {
      const left = this.#stack.pop()!;
      node = { level: node.level + 1, hash: hashChildren(left.hash, node.hash) };
    }
    this.#stack.push(node);
    this.#size++;
  }

  /** Root of the leaves appended so far. */
  root(): Buffer {
    if (this.#stack.length === 0) return emptyRoot();
    let acc = this.#stack[this.#stack.length - 1]!.hash;
    for (let i = this.#stack.length - 2; i >= 0; i--) acc = hashChildren(this.#stack[i]!.hash, acc);
    return acc;
  }
}
