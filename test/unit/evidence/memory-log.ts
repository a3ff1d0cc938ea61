import type { BundleEntry, BundleSource } from '../../../src/evidence/bundle';
import { canonicalize } from '../../../src/evidence/canonical-json';
import { signCheckpoint } from '../../../src/evidence/checkpoint';
import { InMemoryTreeNodes } from '../../../src/evidence/in-memory-tree-nodes';
import { consistencyProof, hashLeaf, inclusionProof, rootAt } from '../../../src/evidence/merkle';
import type { NoteSigner } from '../../../src/evidence/note-key';

/** A whole evidence log in memory, as the ledger will hold it in a store. For tests only. */
export class MemoryLog {
  readonly entries: Buffer[] = [];
  readonly nodes = new InMemoryTreeNodes();

  constructor(
    readonly origin: string,
    private readonly signers: readonly NoteSigner[],
  ) {}

  /** Appends an entry with the log's fields filled in; `override` may replace any of them. */
  async append(fields: Record<string, unknown> = {}, override: Record<string, unknown> = {}): Promise<number> {
    const index = this.entries.length;
    const bytes = canonicalize({ v: 1, type: 'heartbeat', origin: this.origin, index, id: `e-${index}`, time: '2026-01-01T00:00:00Z', ...fields, ...override });
    this.entries.push(bytes);
    await this.nodes.append(hashLeaf(bytes));
    return index;
  }

  async appendMany(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.append({ type: 'decision', decision: { effect: i % 3 === 0 ? 'deny' : 'allow' } });
  }

  async checkpoint(size = this.entries.length, signers = this.signers): Promise<Buffer> {
    return signCheckpoint({ origin: this.origin, size, rootHash: await rootAt(size, this.nodes) }, signers);
  }

  /** An export source pinned to the checkpoint of `size` (default: the whole log). */
  async source(size = this.entries.length, note?: Buffer): Promise<BundleSource> {
    const pinned = note ?? (await this.checkpoint(size));
    const entries = this.entries;
    const nodes = this.nodes;
    return {
      checkpointNote: async () => pinned,
      entries: async function* (start: number, end: number): AsyncGenerator<BundleEntry> {
        for (let i = start; i < end; i++) yield { index: i, bytes: entries[i]! };
      },
      inclusionProof: (index, s) => inclusionProof(index, s, nodes),
      consistencyProof: (s1, s2) => consistencyProof(s1, s2, nodes),
    };
  }
}
