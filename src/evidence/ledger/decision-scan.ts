import { DECISION_TYPE, parseDecisionEntry, type DecisionEntry } from '../decision-entry';
import type { EntriesBeforeOptions, StoredEntry } from './ledger-storage';

/** Decision entries this many at a time: one query each, with the event loop free between them. */
const PAGE = 500;

/** What the scan reads: the Ledger (durable entries only). */
export interface DecisionScanSource {
  /** Entries known durable. */
  readonly size: number;
  entriesBefore(end: number, opts?: EntriesBeforeOptions): AsyncIterable<Pick<StoredEntry, 'index' | 'bytes'>>;
}

export interface DecisionQuery {
  /** Stop at this many matching decisions. */
  readonly limit: number;
  /** Look at the newest `maxScan` entries of the log at most: the work per call is bounded. */
  readonly maxScan: number;
  /** Which decisions count; default all. */
  readonly matches?: (e: DecisionEntry) => boolean;
  /** Decision entries per storage query; default 500. */
  readonly pageSize?: number;
}

export interface DecisionScan {
  /** Newest first. */
  readonly decisions: DecisionEntry[];
  /**
   * How many entries of the log, newest first, the scan covered: down to the
   * last decision returned when `limit` was reached, else the newest `maxScan`
   * (or the whole log, when shorter).
   */
  readonly scanned: number;
}

/**
 * The newest decision entries that match, read page by page from the
 * storage's type-filtered reader (entries of other types are never read).
 */
export async function newestDecisions(source: DecisionScanSource, q: DecisionQuery): Promise<DecisionScan> {
  const size = source.size;
  const floor = Math.max(0, size - q.maxScan);
  const decisions: DecisionEntry[] = [];
  if (q.limit < 1) return { decisions, scanned: 0 };
  for await (const stored of source.entriesBefore(size, { type: DECISION_TYPE, minIndex: floor, pageSize: q.pageSize ?? PAGE })) {
    const e = parseDecisionEntry(stored);
    if (!e || (q.matches && !q.matches(e))) continue;
    decisions.push(e);
    if (decisions.length === q.limit) return { decisions, scanned: size - stored.index };
  }
  return { decisions, scanned: size - floor };
}
