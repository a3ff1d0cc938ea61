import type { Ledger } from '../../src/evidence/ledger/ledger';

/**
 * The evidence entries of a running daemon's log from index `from` on, parsed
 * from the bytes the log holds (what an auditor reads), typed as far as the
 * test reads them.
 */
export async function readEntries<T = Record<string, unknown>>(ledger: Pick<Ledger, 'size' | 'getEntry'>, from = 0): Promise<T[]> {
  const out: T[] = [];
  for (let i = from; i < ledger.size; i++) out.push(JSON.parse((await ledger.getEntry(i)).bytes.toString()) as T);
  return out;
}
