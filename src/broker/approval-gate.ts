import type { AgentConfig } from '../config/config-types';
import type { Logger } from '../lib/logger';
import type { Json } from './struct';
import type { TrustView } from './trust-reader';

/**
 * What the decision step needs of approvals (the approvals service implements
 * it; see src/approvals/). Structural: anything with these methods will do.
 */

/** What one approval covers, exactly: hashed as SHA-256 of its RFC 8785 (canonical JSON) form. */
export interface ApprovalBinding {
  agent: string;
  action: string;
  resource: string;
  params: Record<string, Json>;
  purpose: string;
  /** The effective TTL the lease would get. */
  ttl_seconds: number;
  /** The effective uses the lease would get. */
  max_uses: number;
  /** The id of the permit that carries the approval obligation. */
  rule: string;
  policy_version: string;
}

export interface ApprovalGate {
  /**
   * A new pending approval for this exact binding (groups from the permit's
   * obligation); records approval.requested; returns its id and expiry.
   */
  open(input: { agent: AgentConfig; groups: string[]; binding: ApprovalBinding; trust: TrustView }, log: Logger): Promise<{ id: string; expiresAt: number }>;
  /**
   * Refuses (BrokerError naming the differing part) unless approval `id`
   * belongs to `agent` (else NOT_FOUND), is approved, unexpired, unconsumed,
   * and its binding equals `binding`. Does not consume.
   */
  check(agent: string, id: string, binding: ApprovalBinding): Promise<void>;
}

/**
 * The consume: a synchronous store statement run inside the transaction that
 * stores the lease and its evidence (Store.statements), so of 20 concurrent
 * redeems of one approval exactly one stores a lease. False when it was
 * already consumed or has expired.
 */
export interface ApprovalConsume {
  consumeApproval(id: string, leaseId: string, now: number): boolean;
}

/** Approvals as LeaseService takes them: the gate, and the statement that consumes. */
export interface Approvals {
  gate: ApprovalGate;
  statements: ApprovalConsume;
}
