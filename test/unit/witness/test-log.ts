import { canonicalize } from '../../../src/evidence/canonical-json';
import { signCheckpoint } from '../../../src/evidence/checkpoint';
import { InMemoryTreeNodes } from '../../../src/evidence/in-memory-tree-nodes';
import { consistencyProof, hashLeaf, rootAt } from '../../../src/evidence/merkle';
import type { NoteSigner } from '../../../src/evidence/note-key';

/** A log in memory for witness tests: entries, signed checkpoints and consistency proofs at any size. */
export class TestLog {
  readonly nodes = new InMemoryTreeNodes();

  constructor(
    readonly origin: string,
    readonly signer: NoteSigner,
    /** Distinguishes forks: two logs with different salts have different trees. */
    private readonly salt = 'main',
  ) {}

  get size(): number {
    return this.nodes.size;
  }

  /** Appends n entries; `salt` (default: the log's) makes them differ from another log's. */
  async grow(n: number, salt = this.salt): Promise<this> {
    for (let i = 0; i < n; i++) {
      const index = this.nodes.size;
      await this.nodes.append(hashLeaf(canonicalize({ v: 1, type: 'heartbeat', origin: this.origin, index, id: `${salt}-${index}` })));
    }
    return this;
  }

  async root(size = this.size): Promise<Buffer> {
    return rootAt(size, this.nodes);
  }

  async checkpoint(size = this.size, signers: readonly NoteSigner[] = [this.signer]): Promise<Buffer> {
    return signCheckpoint({ origin: this.origin, size, rootHash: await this.root(size) }, signers);
  }

  async proof(from: number, to = this.size): Promise<Buffer[]> {
    return from === 0 || from === to ? [] : consistencyProof(from, to, this.nodes);
  }
}
