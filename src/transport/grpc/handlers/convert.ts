import type { DynamicCredential } from '../../../backends/backend';
import { effectiveStatus } from '../../../broker/lease-service';
import { jsonToStruct } from '../../../broker/struct';
import type { Explanation as ProtoExplanation } from '../../../gen/secretbroker/v1/Explanation';
import type { Lease } from '../../../gen/secretbroker/v1/Lease';
import type { LeaseRecord, LeaseStatus } from '../../../leases/lease';
import type { Explanation, HintOnly } from '../../../policy';

const STATUS: Record<LeaseStatus, NonNullable<Lease['status']>> = Object.freeze<Record<LeaseStatus, NonNullable<Lease['status']>>>({
  active: 'ACTIVE',
  expired: 'EXPIRED',
  revoked: 'REVOKED',
  exhausted: 'EXHAUSTED',
  revoke_failed: 'REVOKE_FAILED',
});

export const STATUS_FROM_PROTO: Record<string, LeaseStatus> = Object.fromEntries(Object.entries(STATUS).map(([k, v]) => [v, k as LeaseStatus]));

export const rfc3339 = (ms: number): string => new Date(ms).toISOString();

/**
 * A lease as the API shows it. `credential` is given only by RequestLease, for
 * the response to the agent the lease was granted to: the one place a dynamic
 * credential's password leaves the broker (invariant 2). It becomes a proto
 * string here, at the edge, and nowhere else.
 */
export function toProtoLease(l: LeaseRecord, now: number, credential?: DynamicCredential): Lease {
  return {
    leaseId: l.id,
    action: l.action,
    resource: l.resource,
    status: STATUS[effectiveStatus(l, now)],
    expiresAt: rfc3339(l.expiresAt),
    usesLeft: l.usesLeft,
    maxUses: l.maxUses,
    maxExpiresAt: rfc3339(l.maxExpiresAt),
    issuedAt: rfc3339(l.issuedAt),
    agent: l.agent,
    context: jsonToStruct(l.context),
    revokeReason: l.revokeReason ?? '',
    // No Invoke spends such a lease (it has no brokered call): its uses are not counted.
    dynamicCredential: l.credential !== undefined,
    ...(credential
      ? { databaseCredential: { host: credential.host, port: credential.port, database: credential.database, user: credential.user, password: credential.password.revealString() } }
      : {}),
  };
}

export function toProtoExplanation(e: Explanation | HintOnly, policyVersion: string): ProtoExplanation {
  // The hint only: no policy version, trust, candidates or summary.
  if ('hint_only' in e) return { decision: e.decision, hint: e.hint, hintOnly: true };
  return {
    decision: e.decision,
    summary: e.summary,
    decidingPolicies: e.deciding_policies.map((d) => ({ id: d.id, reason: d.reason })),
    candidates: e.candidates.map((c) => ({ id: c.id, requires: c.requires, failedConditions: [...c.failed_conditions], obligations: [...c.obligations] })),
    hint: e.hint,
    trust: { score: e.trust.score, tier: e.trust.tier },
    policyVersion,
    ...(e.override ? { override: { overrideId: e.override.id, requestedBy: e.override.requested_by, confirmedBy: e.override.confirmed_by, until: e.override.until, reason: e.override.reason } } : {}),
    ...(e.budget
      ? { budget: { field: e.budget.field, used: String(e.budget.used), ...(e.budget.limit !== undefined ? { limit: String(e.budget.limit), hasLimit: true } : {}), per: e.budget.per, requested: String(e.budget.requested) } }
      : {}),
    ...(e.approval
      ? { approval: { groups: [...e.approval.groups], rule: e.approval.rule, missing: e.approval.missing.map((m) => ({ group: m.group, votes: m.votes })), approvalId: e.approval.approval_id ?? '' } }
      : {}),
  };
}
