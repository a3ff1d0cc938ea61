/**
 * Brokered calls whose `invoke.intent` is durable but whose outcome
 * (`invoke.result` or `invoke.unknown`) is not: at start-up these are the
 * calls a crash interrupted. A store keeps the index in the same transaction
 * as the entries, so reading it costs the number of open intents, not the
 * size of the log (sqlite-open-intents.ts).
 */
export interface OpenIntent {
  /** The intent entry's index in the log. */
  readonly index: number;
  readonly leaseId: string;
  /** The use number of the lease (1-based). */
  readonly use: number;
  /** The intent entry's exact bytes. */
  readonly entry: Buffer;
}

export interface OpenIntentIndex {
  /** Open intents with an entry index above `after`, in index order, at most `limit`. */
  open(after: number, limit: number): Promise<OpenIntent[]>;
}
