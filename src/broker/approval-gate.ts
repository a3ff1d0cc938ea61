import type { ApprovalGate } from '../approvals/approval-service';

/**
 * What the decision step needs of approvals. The binding and the gate (open,
 * check) are defined once, with the approvals service (src/approvals/).
 */
export type { ApprovalBinding } from '../approvals/approval-binding';
export type { ApprovalGate } from '../approvals/approval-service';

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
