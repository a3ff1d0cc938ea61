/**
 * The narrow interface the broker uses to record evidence. The ledger
 * implements it; append resolves only when the entries are durable (group
 * committed), which is what "evidence before effect" (invariant 3) needs.
 */
export type EvidenceType =
  | 'decision'
  | 'lease.issued'
  | 'lease.renewed'
  | 'lease.revoked'
  | 'lease.expired'
  | 'invoke.intent'
  | 'invoke.result'
  | 'invoke.unknown'
  | 'approval.requested'
  | 'approval.decided'
  | 'trust.changed'
  | 'policy.loaded'
  | 'rotation'
  | 'breakglass'
  | 'credential.revoked'
  | 'heartbeat'
  | 'key.rotated';

/**
 * What the broker hands the ledger: the type plus type-specific fields
 * (JSON values only). The ledger adds `v`, `origin`, `index`, `id` and `time`.
 * Never put a secret, a request or response body, or a digest of anything
 * that carried the injected secret in a draft.
 */
export interface EvidenceDraft {
  type: EvidenceType;
  agent?: string;
  action?: string;
  resource?: string;
  /** { effect, policies: string[], policy_version, obligations? } */
  decision?: Record<string, unknown>;
  /** { id, expires_at (RFC 3339), max_uses?, uses_left?, use? } */
  lease?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface EvidenceRef {
  origin: string;
  index: number;
  leafHash: Buffer;
}

export interface EvidenceSink {
  /** Appends in order; resolves when durable; rejects with UNAVAILABLE when the log cannot be written. */
  append(drafts: readonly EvidenceDraft[]): Promise<EvidenceRef[]>;
  /**
   * A conditional state change committed with its evidence, or neither:
   * `change` runs synchronously inside the append's write transaction (a
   * store statement on the same database, Store.statements); when it returns
   * undefined nothing changed and nothing is appended (resolves undefined);
   * otherwise `drafts(value)` are appended in the same commit, so an entry
   * records exactly what the change stored. Resolves once durable.
   */
  appendWith?<T>(change: () => T | undefined, drafts: (value: T) => readonly EvidenceDraft[]): Promise<{ value: T; refs: EvidenceRef[] } | undefined>;
}

/** Every entry type, for checking drafts at run time. */
export const EVIDENCE_TYPES: readonly EvidenceType[] = Object.freeze([
  'decision',
  'lease.issued',
  'lease.renewed',
  'lease.revoked',
  'lease.expired',
  'invoke.intent',
  'invoke.result',
  'invoke.unknown',
  'approval.requested',
  'approval.decided',
  'trust.changed',
  'policy.loaded',
  'rotation',
  'breakglass',
  'credential.revoked',
  'heartbeat',
  'key.rotated',
] satisfies EvidenceType[]);

/** Fields the ledger sets on every entry; a draft may not carry them. */
export const LEDGER_FIELDS: readonly string[] = Object.freeze(['v', 'origin', 'index', 'id', 'time']);
