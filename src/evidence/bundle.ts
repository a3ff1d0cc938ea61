import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import {
  CHECKPOINT_FILE,
  CONSISTENCY_DIR,
  ENTRIES_DIR,
  MANIFEST_FILE,
  PROOFS_DIR,
  consistencyFile,
  entryFile,
  formatConsistencyProof,
  formatManifest,
  proofFile,
} from './bundle-layout';
import { parseCheckpoint } from './checkpoint';
import { EvidenceError } from './evidence-error';
import { parseNote } from './signed-note';
import { formatTlogProof } from './tlog-proof';

export { BUNDLE_FORMAT, CHECKPOINT_FILE, CONSISTENCY_DIR, ENTRIES_DIR, MANIFEST_FILE, PROOFS_DIR } from './bundle-layout';

/** One stored entry: its index and exact leaf bytes. */
export interface BundleEntry {
  readonly index: number;
  readonly bytes: Buffer;
}

/**
 * What an export reads from the log. Implemented by the ledger over its store;
 * every method is async so a database can back it.
 */
export interface BundleSource {
  /** The signed checkpoint note the export is pinned to. Its size ends the export. */
  checkpointNote(): Promise<Buffer>;
  /** Entries start .. end-1, in index order. Read lazily: exports can be large. */
  entries(start: number, end: number): AsyncIterable<BundleEntry>;
  /** The inclusion proof for `index` in the tree of `size` (merkle.inclusionProof). */
  inclusionProof(index: number, size: number): Promise<Buffer[]>;
  /** The consistency proof from size1 to size2 (merkle.consistencyProof). */
  consistencyProof(size1: number, size2: number): Promise<Buffer[]>;
}

export interface WriteBundleOptions {
  /** First entry to export; default 0 (the whole log). */
  start?: number;
  /**
   * Older checkpoint sizes an auditor has accepted; a consistency proof from
   * each to the export's size is included, so their verifier can check the
   * log did not fork. Sizes 0 and equal to the export's size need no proof.
   */
  consistencyFrom?: readonly number[];
}

export interface WriteBundleResult {
  readonly origin: string;
  readonly size: number;
  readonly start: number;
  readonly entries: number;
  readonly consistencyFrom: readonly number[];
}

/**
 * Writes an export bundle (layout in bundle-layout.ts) into `dir`, which must
 * not exist or be empty. Entries stream from the source one at a time. A
 * failed export leaves a partial directory that verifyBundle rejects.
 */
export async function writeBundle(dir: string, source: BundleSource, opts: WriteBundleOptions = {}): Promise<WriteBundleResult> {
  const note = await source.checkpointNote();
  const { origin, size } = parseCheckpoint(parseNote(note).text);
  const start = opts.start ?? 0;
  if (!Number.isSafeInteger(start) || start < 0 || start > size) {
    throw new EvidenceError('EVIDENCE_MERKLE_ARGUMENT', 'bad-start', `export start ${start} is not within the checkpoint size ${size}`);
  }
  const olderSizes = [...new Set(opts.consistencyFrom ?? [])].filter((m) => m !== 0 && m !== size).sort((a, b) => a - b);
  for (const m of olderSizes) {
    if (!Number.isSafeInteger(m) || m < 0 || m > size) {
      throw new EvidenceError('EVIDENCE_MERKLE_ARGUMENT', 'bad-size', `no consistency proof from size ${m} to the export's size ${size}`);
    }
  }

  await prepareEmptyDir(dir);
  await fs.mkdir(path.join(dir, ENTRIES_DIR));
  await fs.mkdir(path.join(dir, PROOFS_DIR));
  await fs.writeFile(path.join(dir, CHECKPOINT_FILE), note);
  await fs.writeFile(path.join(dir, MANIFEST_FILE), formatManifest({ origin, size, start }));

  let next = start;
  const files = new FileWriter();
  try {
    for await (const entry of source.entries(start, size)) {
      if (entry.index !== next) {
        throw new EvidenceError('EVIDENCE_TREE_STORE', 'entry-order', `export source gave entry ${entry.index} where ${next} was due`);
      }
      const proof = await source.inclusionProof(entry.index, size);
      await files.write(entryFile(dir, entry.index), entry.bytes);
      await files.write(proofFile(dir, entry.index), formatTlogProof({ index: entry.index, proof, checkpointNote: note }));
      next++;
    }
  } finally {
    await files.drain();
  }
  files.throwIfFailed();
  if (next !== size) {
    throw new EvidenceError('EVIDENCE_TREE_STORE', 'entries-missing', `export source ended at entry ${next}, before the checkpoint size ${size}`);
  }

  if (olderSizes.length > 0) await fs.mkdir(path.join(dir, CONSISTENCY_DIR));
  for (const m of olderSizes) {
    await fs.writeFile(consistencyFile(dir, m, size), formatConsistencyProof(m, size, await source.consistencyProof(m, size)));
  }
  return { origin, size, start, entries: size - start, consistencyFrom: olderSizes };
}

/** Files written at once: one at a time, an export spent most of its time waiting on open/write/close round trips. */
const WRITES_IN_FLIGHT = 32;

/** Writes files with a bounded number in flight; the first failure is kept and stops further writes. */
class FileWriter {
  readonly #inFlight = new Set<Promise<void>>();
  #failure: { err: unknown } | undefined;

  async write(file: string, data: string | Uint8Array): Promise<void> {
    this.throwIfFailed();
    if (this.#inFlight.size >= WRITES_IN_FLIGHT) await Promise.race(this.#inFlight);
    this.throwIfFailed();
    const p: Promise<void> = fs.writeFile(file, data).then(
      () => void this.#inFlight.delete(p),
      (err: unknown) => {
        this.#failure ??= { err };
        this.#inFlight.delete(p);
      },
    );
    this.#inFlight.add(p);
  }

  /** Waits for every write in flight (they never reject: failures are kept for throwIfFailed). */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
  }

  throwIfFailed(): void {
    if (this.#failure) throw this.#failure.err;
  }
}

async function prepareEmptyDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  if ((await fs.readdir(dir)).length > 0) {
    // Mixing a new export into an old one could pass off stale files as verified.
    throw new EvidenceError('EVIDENCE_BUNDLE_INVALID', 'dir-not-empty', `export directory ${dir} is not empty`);
  }
}
