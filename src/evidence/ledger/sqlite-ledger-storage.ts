import Database from 'better-sqlite3';
import { BrokerError, unavailable } from '../../lib/errors';
import type { GroupCommit } from '../../store/sqlite/group-commit';
import type { BundleEntry } from '../bundle';
import { EvidenceError } from '../evidence-error';
import { HASH_SIZE, type NodeKey } from '../merkle';
import type {
  BatchTransaction,
  CosignedCheckpointReader,
  CosignedCheckpointStorage,
  EntriesBeforeOptions,
  LedgerReadStorage,
  LedgerStorage,
  PreparedBatch,
  StoredCheckpoint,
  StoredCosignedCheckpoint,
  StoredEntry,
} from './ledger-storage';
import { EMPTY_HEAD, headFromEdge, rightEdgeKeys, type TreeHead } from './right-edge';

/** The schema version (store/sqlite/migrations.ts) that created the evidence tables. */
export const EVIDENCE_SCHEMA_VERSION = 3;

/**
 * Where an interior node (level >= 1) is stored. From schema version 5 it is
 * in the `subtrees` column of the entry that completes it: node (L, k) is
 * completed by entry (k+1)*2^L - 1, at offset 32*(L-1). Before that it was a
 * row of evidence_nodes; a read-only export may still meet such a database.
 */
export function completingEntry(level: number, index: number): number {
  return (index + 1) * 2 ** level - 1;
}

const PAGE = 512;
const ENTRY_COLUMNS = 'idx, type, time_ms, bytes, leaf_hash';

/** A row of evidence_entries as the reads select it (not `subtrees`). */
export interface EntryRow {
  idx: number;
  type: string;
  time_ms: number;
  bytes: Buffer;
  leaf_hash: Buffer;
}

interface CheckpointRow {
  size: number;
  root_hash: Buffer;
  key_id: string;
  note: Buffer;
  signed_at: number;
}

interface CosignedRow {
  size: number;
  key_id: string;
  note: Buffer;
  cosigners: number;
  cosigned_at: number;
}

const toCosigned = (r: CosignedRow): StoredCosignedCheckpoint => ({
  size: r.size,
  keyId: r.key_id,
  note: Buffer.from(r.note),
  cosigners: r.cosigners,
  cosignedAt: r.cosigned_at,
});

const toCheckpoint = (r: CheckpointRow): StoredCheckpoint => ({
  size: r.size,
  rootHash: Buffer.from(r.root_hash),
  keyId: r.key_id,
  note: Buffer.from(r.note),
  signedAt: r.signed_at,
});

const toStoredEntry = (r: EntryRow): StoredEntry => ({ index: r.idx, type: r.type, timeMs: r.time_ms, bytes: r.bytes, leafHash: r.leaf_hash });

/** entriesBefore's arguments: whole numbers, and a page of at least one entry. */
function checkPaging(end: number, pageSize: number, minIndex: number): void {
  const bad = ([['end', end, 0], ['pageSize', pageSize, 1], ['minIndex', minIndex, 0]] as const).find(([, v, min]) => !Number.isSafeInteger(v) || v < min);
  if (bad) throw new BrokerError('invalid_argument', `evidence entries before: ${bad[0]} must be a whole number from ${bad[2]}, not ${bad[1]}`);
}

function storeFailure(err: unknown): BrokerError {
  return err instanceof BrokerError ? err : unavailable('evidence log', err);
}

/**
 * Reads the evidence tables of a better-sqlite3 database: the daemon's own
 * connection, or a read-only one for `evidence export`. Every tree read is a
 * handful of primary-key lookups, which in-process SQLite answers faster
 * one by one than through one dynamically built query.
 */
export class SqliteLedgerReadStorage implements LedgerReadStorage, CosignedCheckpointReader {
  protected readonly st;
  // Absent on a database from before schema version 4 (read-only: it cannot be migrated here).
  private readonly cst;

  /** A database from before schema version 5 (only ever opened read-only here: the daemon migrates). */
  private readonly hasNodeTable: boolean;

  constructor(protected readonly db: Database.Database) {
    const hasTable = (name: string): boolean => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").pluck().get(name) !== undefined;
    const hasCosigned = hasTable('evidence_cosigned_checkpoints');
    this.hasNodeTable = hasTable('evidence_nodes');
    const cosignedColumns = 'size, key_id, note, cosigners, cosigned_at';
    this.cst = hasCosigned
      ? {
          latest: db.prepare(`SELECT ${cosignedColumns} FROM evidence_cosigned_checkpoints ORDER BY size DESC, seq DESC LIMIT 1`),
          atLeast: db.prepare(`SELECT ${cosignedColumns} FROM evidence_cosigned_checkpoints WHERE size >= ? ORDER BY size, seq DESC LIMIT 1`),
        }
      : undefined;
    this.st = {
      maxIndex: db.prepare('SELECT MAX(idx) AS m FROM evidence_entries').pluck(),
      subtrees: this.hasNodeTable ? undefined : db.prepare('SELECT subtrees FROM evidence_entries WHERE idx = ?').pluck(),
      node: this.hasNodeTable ? db.prepare('SELECT hash FROM evidence_nodes WHERE level = ? AND idx = ?').pluck() : undefined,
      leaf: db.prepare('SELECT leaf_hash FROM evidence_entries WHERE idx = ?').pluck(),
      entry: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM evidence_entries WHERE idx = ?`),
      page: db.prepare('SELECT idx, bytes FROM evidence_entries WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?'),
      // A range of the primary key read backwards; the type is tested on each row (no index on it: see entriesBefore).
      before: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM evidence_entries WHERE idx < ? AND idx >= ? ORDER BY idx DESC LIMIT ?`),
      typedBefore: db.prepare(`SELECT ${ENTRY_COLUMNS} FROM evidence_entries WHERE idx < ? AND idx >= ? AND type = ? ORDER BY idx DESC LIMIT ?`),
      latest: db.prepare('SELECT size, root_hash, key_id, note, signed_at FROM evidence_checkpoints ORDER BY seq DESC LIMIT 1'),
      at: db.prepare('SELECT size, root_hash, key_id, note, signed_at FROM evidence_checkpoints WHERE size = ? ORDER BY seq DESC LIMIT 1'),
      atLeast: db.prepare('SELECT size, root_hash, key_id, note, signed_at FROM evidence_checkpoints WHERE size >= ? ORDER BY size, seq DESC LIMIT 1'),
    };
  }

  protected sizeSync(): number {
    const m = this.st.maxIndex.get() as number | null;
    return m === null || m === undefined ? 0 : m + 1;
  }

  protected nodesSync(keys: readonly NodeKey[]): Buffer[] {
    return keys.map((k) => {
      const h = k.level === 0 ? (this.st.leaf.get(k.index) as Buffer | undefined) : this.interiorSync(k.level, k.index);
      if (!h) throw new EvidenceError('EVIDENCE_TREE_STORE', 'missing-node', `evidence node ${k.level}/${k.index} is not stored`);
      return h;
    });
  }

  private interiorSync(level: number, index: number): Buffer | undefined {
    if (this.st.node) return this.st.node.get(level, index) as Buffer | undefined;
    const subtrees = this.st.subtrees!.get(completingEntry(level, index)) as Buffer | undefined;
    return subtrees && subtrees.length >= 32 * level ? subtrees.subarray(32 * (level - 1), 32 * level) : undefined;
  }

  protected headSync(): TreeHead {
    const size = this.sizeSync();
    return size === 0 ? EMPTY_HEAD : headFromEdge(size, this.nodesSync(rightEdgeKeys(size)));
  }

  protected read<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(storeFailure(err));
    }
  }

  size(): Promise<number> {
    return this.read(() => this.sizeSync());
  }

  getNodes(keys: readonly NodeKey[]): Promise<Buffer[]> {
    return this.read(() => this.nodesSync(keys));
  }

  getEntry(index: number): Promise<StoredEntry | undefined> {
    return this.read(() => {
      const r = this.st.entry.get(index) as EntryRow | undefined;
      return r && toStoredEntry(r);
    });
  }

  /**
   * Newest first, one query per page; between pages the event loop runs (each
   * query is synchronous on the daemon's connection). The type is tested row
   * by row along the primary-key range, about 1 ms for 20,000 rows: an index
   * on it would save little and cost every append another insert.
   */
  async *entriesBefore(end: number, opts: EntriesBeforeOptions = {}): AsyncGenerator<StoredEntry> {
    const { type, pageSize = PAGE, minIndex = 0 } = opts;
    checkPaging(end, pageSize, minIndex);
    let below = end;
    while (below > minIndex) {
      const rows = await this.read(
        () => (type === undefined ? this.st.before.all(below, minIndex, pageSize) : this.st.typedBefore.all(below, minIndex, type, pageSize)) as EntryRow[],
      );
      for (const r of rows) yield toStoredEntry(r);
      if (rows.length < pageSize) return;
      below = rows[rows.length - 1]!.idx;
      if (below > minIndex) await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async *entries(start: number, end: number): AsyncGenerator<BundleEntry> {
    let next = start;
    while (next < end) {
      const rows = await this.read(() => this.st.page.all(next, end, PAGE) as Pick<EntryRow, 'idx' | 'bytes'>[]);
      for (const r of rows) {
        if (r.idx !== next) throw new EvidenceError('EVIDENCE_TREE_STORE', 'missing-entry', `evidence entry ${next} is not stored`);
        yield { index: r.idx, bytes: r.bytes };
        next++;
      }
      if (rows.length === 0) throw new EvidenceError('EVIDENCE_TREE_STORE', 'missing-entry', `evidence entry ${next} is not stored`);
    }
  }

  latestCheckpoint(): Promise<StoredCheckpoint | undefined> {
    return this.read(() => {
      const r = this.st.latest.get() as CheckpointRow | undefined;
      return r && toCheckpoint(r);
    });
  }

  checkpointAt(size: number): Promise<StoredCheckpoint | undefined> {
    return this.read(() => {
      const r = this.st.at.get(size) as CheckpointRow | undefined;
      return r && toCheckpoint(r);
    });
  }

  checkpointAtLeast(size: number): Promise<StoredCheckpoint | undefined> {
    return this.read(() => {
      const r = this.st.atLeast.get(size) as CheckpointRow | undefined;
      return r && toCheckpoint(r);
    });
  }

  latestCosignedCheckpoint(): Promise<StoredCosignedCheckpoint | undefined> {
    return this.read(() => {
      const r = this.cst?.latest.get() as CosignedRow | undefined;
      return r && toCosigned(r);
    });
  }

  cosignedCheckpointAtLeast(size: number): Promise<StoredCosignedCheckpoint | undefined> {
    return this.read(() => {
      const r = this.cst?.atLeast.get(size) as CosignedRow | undefined;
      return r && toCosigned(r);
    });
  }
}

/**
 * The daemon's evidence storage: the same better-sqlite3 connection and
 * GroupCommit as SqliteStore, so an append shares its transaction and fsync
 * with the lease writes queued in the same turn of the event loop.
 */
export class SqliteLedgerStorage extends SqliteLedgerReadStorage implements LedgerStorage, CosignedCheckpointStorage {
  private readonly wst;
  // The head after the last batch this object wrote. Used only when the stored
  // size still equals its size: this object is the log's only writer, so then
  // nothing was rolled back since, and the edge is the stored one.
  #head: TreeHead | undefined;

  constructor(
    db: Database.Database,
    private readonly writes: GroupCommit,
  ) {
    super(db);
    this.wst = {
      entry: db.prepare('INSERT INTO evidence_entries (idx, type, time_ms, bytes, leaf_hash, subtrees) VALUES (?, ?, ?, ?, ?, ?)'),
      checkpoint: db.prepare('INSERT INTO evidence_checkpoints (size, root_hash, key_id, note, signed_at) VALUES (?, ?, ?, ?, ?)'),
      cosigned: db.prepare('INSERT INTO evidence_cosigned_checkpoints (size, key_id, note, cosigners, cosigned_at) VALUES (?, ?, ?, ?, ?)'),
    };
  }

  appendBatch<T extends PreparedBatch>(build: (head: TreeHead, tx: BatchTransaction) => T): Promise<T> {
    return this.writes
      .run(() => {
        const cached = this.#head;
        this.#head = undefined;
        const head = cached && cached.size === this.sizeSync() ? cached : this.headSync();
        // Nested in GroupCommit's transaction, better-sqlite3 makes this a savepoint. Some errors
        // (an I/O error) roll back the whole transaction: then no later change may run (it would
        // commit on its own), and the batch fails as a whole.
        const tx: BatchTransaction = {
          atomically: (fn) => {
            if (!this.db.inTransaction) throw unavailable('evidence log', new Error('the append transaction was rolled back'));
            return this.db.transaction(fn)();
          },
        };
        const batch = build(head, tx);
        if (!this.db.inTransaction) throw unavailable('evidence log', new Error('the append transaction was rolled back'));
        checkBatch(head, batch);
        const subtrees = subtreesByEntry(head.size, batch);
        batch.entries.forEach((e, i) => this.wst.entry.run(e.index, e.type, e.timeMs, e.bytes, e.leafHash, subtrees[i]));
        this.#head = batch.head;
        return batch;
      })
      .catch((err: unknown) => {
        this.#head = undefined;
        throw err instanceof EvidenceError ? err : unavailable('evidence log', err);
      });
  }

  insertCheckpoint(cp: StoredCheckpoint): Promise<void> {
    return this.writes
      .run(() => {
        this.wst.checkpoint.run(cp.size, cp.rootHash, cp.keyId, cp.note, cp.signedAt);
      })
      .catch((err: unknown) => {
        throw unavailable('evidence log', err);
      });
  }

  insertCosignedCheckpoint(c: StoredCosignedCheckpoint): Promise<void> {
    return this.writes
      .run(() => {
        this.wst.cosigned.run(c.size, c.keyId, c.note, c.cosigners, c.cosignedAt);
      })
      .catch((err: unknown) => {
        throw unavailable('evidence log', err);
      });
  }
}

/** Defence in depth: a batch must continue the stored tree exactly. */
function checkBatch(head: TreeHead, batch: PreparedBatch): void {
  batch.entries.forEach((e, i) => {
    if (e.index !== head.size + i) {
      throw new EvidenceError('EVIDENCE_TREE_STORE', 'index-gap', `evidence batch gives index ${e.index} where ${head.size + i} is due`);
    }
  });
  if (batch.head.size !== head.size + batch.entries.length) {
    throw new EvidenceError('EVIDENCE_TREE_STORE', 'bad-head', `evidence batch ends at size ${batch.head.size}, not ${head.size + batch.entries.length}`);
  }
}

/**
 * The `subtrees` column of each entry in the batch: the batch's nodes grouped
 * by the entry that completes them, in level order. Refuses a leaf node, a
 * node no entry of the batch completes, and a gap in an entry's levels (the
 * table's CHECK also holds each row to exactly its trailing-ones count).
 */
function subtreesByEntry(start: number, batch: PreparedBatch): Buffer[] {
  const hashes: Buffer[][] = batch.entries.map(() => []);
  for (const n of batch.nodes) {
    if (n.level < 1) throw new EvidenceError('EVIDENCE_TREE_STORE', 'leaf-node', `evidence batch gives leaf node ${n.index} apart from its entry`);
    if (n.hash.length !== HASH_SIZE) throw new EvidenceError('EVIDENCE_TREE_STORE', 'bad-hash', `evidence batch gives node ${n.level}/${n.index} a ${n.hash.length}-byte hash`);
    const own = hashes[completingEntry(n.level, n.index) - start];
    if (!own) throw new EvidenceError('EVIDENCE_TREE_STORE', 'foreign-node', `evidence batch gives node ${n.level}/${n.index}, which none of its entries completes`);
    if (own.length !== n.level - 1) throw new EvidenceError('EVIDENCE_TREE_STORE', 'node-order', `evidence batch gives node ${n.level}/${n.index} out of level order`);
    own.push(n.hash);
  }
  return hashes.map((h) => (h.length === 1 ? h[0]! : Buffer.concat(h)));
}

/**
 * Opens the state database read-only for `evidence export`: it works while
 * the daemon runs (WAL readers do not block the writer) and when it does not.
 */
export function openSqliteLedgerReadOnly(path: string): { storage: SqliteLedgerReadStorage; close(): void } {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
  } catch (err) {
    throw new BrokerError('failed_precondition', `cannot open the state database ${path} read-only: ${(err as { code?: string }).code ?? 'error'}`, { cause: err });
  }
  try {
    const version = (() => {
      try {
        return (db.prepare('SELECT COALESCE(MAX(version), 0) FROM schema_migrations').pluck().get() as number) ?? 0;
      } catch {
        return 0;
      }
    })();
    if (version < EVIDENCE_SCHEMA_VERSION) {
      throw new BrokerError('failed_precondition', `the state database ${path} has no evidence log yet (schema version ${version}); start the daemon once to create it`);
    }
    return { storage: new SqliteLedgerReadStorage(db), close: () => db.close() };
  } catch (err) {
    db.close();
    throw err;
  }
}
