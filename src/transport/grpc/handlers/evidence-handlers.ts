import type { Ledger } from '../../../evidence/ledger/ledger';
import type { Checkpoint } from '../../../gen/secretbroker/v1/Checkpoint';
import type { ConsistencyProof } from '../../../gen/secretbroker/v1/ConsistencyProof';
import type { EvidenceEntry } from '../../../gen/secretbroker/v1/EvidenceEntry';
import type { GetConsistencyProofRequest__Output } from '../../../gen/secretbroker/v1/GetConsistencyProofRequest';
import type { GetEntryRequest__Output } from '../../../gen/secretbroker/v1/GetEntryRequest';
import type { GetReceiptRequest__Output } from '../../../gen/secretbroker/v1/GetReceiptRequest';
import type { Receipt } from '../../../gen/secretbroker/v1/Receipt';
import { BrokerError } from '../../../lib/errors';
import type { Handlers } from '../server';

/** What the Evidence service reads from the ledger. */
export type EvidenceReader = Pick<Ledger, 'latestCheckpoint' | 'getEntry' | 'receipt' | 'consistencyProof'> & Partial<Pick<Ledger, 'latestCosignedCheckpoint'>>;

/**
 * A uint64 field (a decimal string with longs: String) as a number. Tree sizes
 * stay below 2^53, so anything larger cannot name an entry.
 */
function count(field: string, value: string | number | undefined): number {
  const text = String(value ?? '0');
  const n = /^(0|[1-9][0-9]{0,15})$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new BrokerError('invalid_argument', `${field}: must be a whole number below 2^53`);
  return n;
}

/** The Evidence service (any authenticated caller); translation only. */
export function evidenceHandlers(ledger: EvidenceReader): Handlers {
  return {
    Evidence: {
      GetCheckpoint: async (): Promise<Checkpoint> => {
        // With witnesses configured, the newest checkpoint they cosigned (one witness round behind the log at most).
        const cp = ledger.latestCosignedCheckpoint?.() ?? ledger.latestCheckpoint();
        return { note: cp.note, origin: cp.origin, size: String(cp.size), rootHash: cp.rootHash };
      },
      GetEntry: async (req: GetEntryRequest__Output): Promise<EvidenceEntry> => {
        const e = await ledger.getEntry(count('index', req.index));
        return { index: String(e.index), entry: e.bytes, leafHash: e.leafHash };
      },
      GetReceipt: async (req: GetReceiptRequest__Output): Promise<Receipt> => {
        const treeSize = count('tree_size', req.treeSize);
        return { tlogProof: await ledger.receipt(count('index', req.index), treeSize === 0 ? undefined : treeSize) };
      },
      GetConsistencyProof: async (req: GetConsistencyProofRequest__Output): Promise<ConsistencyProof> => {
        const second = count('second_size', req.secondSize);
        const p = await ledger.consistencyProof(count('first_size', req.firstSize), second === 0 ? undefined : second);
        return { firstSize: String(p.firstSize), secondSize: String(p.secondSize), hashes: p.hashes, checkpoint: p.checkpoint.note };
      },
    },
  };
}
