import { BrokerError } from '../../lib/errors';
import type { BundleSource } from '../bundle';
import { EvidenceError } from '../evidence-error';
import { consistencyProof, hashLeaf, inclusionProof } from '../merkle';
import { formatTlogProof } from '../tlog-proof';
import type { LedgerReadStorage, StoredCheckpoint } from './ledger-storage';

/*
 * The read side of the log, shared by the daemon's Ledger and by the local
 * `evidence export` (which opens the database read-only and never signs).
 * Each answer costs one batch of O(log n) node reads.
 */

export interface LedgerEntry {
  readonly index: number;
  /** The exact leaf bytes (RFC 8785 canonical JSON). */
  readonly bytes: Buffer;
  readonly leafHash: Buffer;
}

export interface LedgerConsistencyProof {
  readonly firstSize: number;
  readonly secondSize: number;
  readonly hashes: Buffer[];
  /** The signed checkpoint of size secondSize the proof leads to. */
  readonly checkpoint: StoredCheckpoint;
}

/** A non-negative safe integer, or INVALID_ARGUMENT naming `field`. */
export function checkCount(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new BrokerError('invalid_argument', `${field}: must be a whole number from 0`);
  return value;
}

export async function readEntry(storage: LedgerReadStorage, index: number): Promise<LedgerEntry> {
  checkCount('index', index);
  const e = await storage.getEntry(index);
  if (!e) throw new BrokerError('not_found', `evidence entry ${index} not found: the log has ${await storage.size()} entries`);
  const leafHash = hashLeaf(e.bytes);
  if (!leafHash.equals(e.leafHash)) throw new EvidenceError('EVIDENCE_TREE_STORE', 'leaf-mismatch', `stored evidence entry ${index} does not match its leaf hash`);
  return { index, bytes: e.bytes, leafHash };
}

/** The signed checkpoint of exactly `size`, or NOT_FOUND. */
export async function checkpointOfSize(storage: LedgerReadStorage, size: number, field = 'tree_size'): Promise<StoredCheckpoint> {
  checkCount(field, size);
  const cp = await storage.checkpointAt(size);
  if (!cp) throw new BrokerError('not_found', `${field}: no checkpoint was signed at tree size ${size}; use 0 for the latest`);
  return cp;
}

/** The c2sp.org/tlog-proof receipt of entry `index` against checkpoint `cp`. */
export async function receiptAgainst(storage: LedgerReadStorage, index: number, cp: StoredCheckpoint): Promise<Buffer> {
  checkCount('index', index);
  if (index >= cp.size) throw new BrokerError('invalid_argument', `index: entry ${index} is not below the checkpoint's tree size ${cp.size}`);
  return formatTlogProof({ index, proof: await inclusionProof(index, cp.size, storage), checkpointNote: cp.note });
}

/** The RFC 9162 proof that the tree of firstSize is a prefix of the signed checkpoint `cp`. */
export async function consistencyAgainst(storage: LedgerReadStorage, firstSize: number, cp: StoredCheckpoint): Promise<LedgerConsistencyProof> {
  checkCount('first_size', firstSize);
  if (firstSize === 0) throw new BrokerError('invalid_argument', 'first_size: must be at least 1 (every tree extends the empty one; there is nothing to prove)');
  if (firstSize > cp.size) {
    throw new BrokerError('invalid_argument', `first_size: ${firstSize} is larger than the second tree size ${cp.size}`);
  }
  return { firstSize, secondSize: cp.size, hashes: await consistencyProof(firstSize, cp.size, storage), checkpoint: cp };
}

/** An export source pinned to the signed checkpoint `cp`. */
export function bundleSourceFor(storage: LedgerReadStorage, cp: StoredCheckpoint): BundleSource {
  return {
    checkpointNote: async () => cp.note,
    entries: (start, end) => storage.entries(start, end),
    inclusionProof: (index, size) => inclusionProof(index, size, storage),
    consistencyProof: (size1, size2) => consistencyProof(size1, size2, storage),
  };
}
