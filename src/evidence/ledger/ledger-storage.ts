import type { BundleEntry } from '../bundle';
import type { StoredNode, TreeNodeReader } from '../merkle';
import type { TreeHead } from './right-edge';

/*
 * What the ledger needs from a database, kept small so that PostgreSQL can
 * implement it next to SQLite. Entries, nodes and checkpoints are append-only.
 * Storage is the truth: an implementation may cache the tree head, but must
 * drop the cache whenever a write fails.
 */

/** One entry as stored: its exact leaf bytes plus columns for later queries. */
export interface StoredEntry {
  readonly index: number;
  readonly type: string;
  readonly timeMs: number;
  readonly bytes: Buffer;
  /** hashLeaf(bytes): the tree's node (0, index). */
  readonly leafHash: Buffer;
}

/** What one append transaction writes; `head` is the tree after it. */
export interface PreparedBatch {
  readonly entries: readonly StoredEntry[];
  /** The nodes above the leaves that the entries complete (level >= 1). */
  readonly nodes: readonly StoredNode[];
  readonly head: TreeHead;
}

/** What a batch's build may do inside the append transaction. */
export interface BatchTransaction {
  atomically<R>(fn: () => R): R;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly rootHash: Buffer;
  /** Log key id, 8 lowercase hex digits. */
  readonly keyId: string;
  /** The signed note, verbatim. */
  readonly note: Buffer;
  readonly signedAt: number;
}

/** How `entriesBefore` pages: which entries, down to where, how many per query. */
export interface EntriesBeforeOptions {
  /** Only entries of this type (the stored `type` column); default every type. */
  readonly type?: string;
  /** Entries per query (at least 1); default 512. */
  readonly pageSize?: number;
  /** The lowest index read; default 0. */
  readonly minIndex?: number;
}

/** Reads: enough for receipts, proofs, exports and newest-first listings (a read-only database will do). */
export interface LedgerReadStorage extends TreeNodeReader {
  /** Number of durable entries. */
  size(): Promise<number>;
  getEntry(index: number): Promise<StoredEntry | undefined>;
  /** Entries start .. end-1 in index order, read in pages. Throws if one is missing. */
  entries(start: number, end: number): AsyncIterable<BundleEntry>;
  /**
   * The stored entries with minIndex <= index < end (of one type, if given),
   * newest first: one query per page. The caller bounds `end` by what is
   * durable (the ledger's size). An implementation that reads synchronously
   * lets the event loop run between pages.
   */
  entriesBefore(end: number, opts?: EntriesBeforeOptions): AsyncIterable<StoredEntry>;
  latestCheckpoint(): Promise<StoredCheckpoint | undefined>;
  /** The last checkpoint signed at exactly `size`. */
  checkpointAt(size: number): Promise<StoredCheckpoint | undefined>;
  /** The first checkpoint signed at a size of at least `size`. */
  checkpointAtLeast(size: number): Promise<StoredCheckpoint | undefined>;
}

export interface LedgerStorage extends LedgerReadStorage {
  /**
   * One durable append transaction. Reads the current head (size and right
   * edge) inside the transaction, calls `build` (synchronous and pure apart
   * from settling the caller's own bookkeeping) and writes what it returns.
   * Resolves with build's result once committed (fsynced); rejects with
   * UNAVAILABLE when the transaction cannot be written, and then nothing of
   * it is stored. A build returning no entries writes nothing. `tx.atomically`
   * runs part of the build as a unit inside the transaction (a savepoint):
   * when it throws, what it wrote is undone and the rest of the batch stays.
   */
  appendBatch<T extends PreparedBatch>(build: (head: TreeHead, tx: BatchTransaction) => T): Promise<T>;
  /** Durably stores a signed checkpoint. */
  insertCheckpoint(cp: StoredCheckpoint): Promise<void>;
}

/** A checkpoint note with witness cosignatures added (evidence_cosigned_checkpoints). */
export interface StoredCosignedCheckpoint {
  readonly size: number;
  /** The log key id of the checkpoint (as in StoredCheckpoint). */
  readonly keyId: string;
  /** The log's signed note plus the witnesses' signature lines, verbatim. */
  readonly note: Buffer;
  /** How many witnesses cosigned. */
  readonly cosigners: number;
  readonly cosignedAt: number;
}

/** Reads cosigned notes; a database from before they existed has none. */
export interface CosignedCheckpointReader {
  /** The cosigned note of the largest size (the last stored at that size). */
  latestCosignedCheckpoint(): Promise<StoredCosignedCheckpoint | undefined>;
  /** The first cosigned note of a size of at least `size` (the last stored at that size). */
  cosignedCheckpointAtLeast(size: number): Promise<StoredCosignedCheckpoint | undefined>;
}

export interface CosignedCheckpointStorage extends CosignedCheckpointReader {
  /** Durably stores a cosigned note (append-only). */
  insertCosignedCheckpoint(c: StoredCosignedCheckpoint): Promise<void>;
}
