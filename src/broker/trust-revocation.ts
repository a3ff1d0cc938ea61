import type { AgentConfig, BrokerConfig } from '../config/config-types';
import { holdsAuthority, type LeaseRecord } from '../leases/lease';
import type { Logger } from '../lib/logger';
import type { Clock } from '../lib/clock';
import type { Store } from '../store/store';
import type { TrustDrop, TrustView } from '../trust/trust-service';
import type { CredentialRevoker } from './credential-revoker';
import type { LeaseService } from './lease-service';
import type { Json } from './struct';

/** What a `lease.revoked` (or a rejected approval) names as its cause. */
const causeOf = (index: number | undefined): { type: 'trust.changed'; index: number } | undefined => (index !== undefined ? { type: 'trust.changed', index } : undefined);

/** What a pending approval was asked for (the part of its binding a re-decision needs). */
export interface ApprovalRequestInputs {
  action: string;
  resource: string;
  params: Record<string, Json>;
  purpose?: string;
  ttl_seconds?: number;
  max_uses?: number;
}

/**
 * The open approvals of an agent whose trust dropped: the approvals service's
 * `recheckForAgent`, which rejects each one `permits` says no to, recording
 * `cause` (the trust.changed entry).
 */
export interface PendingApprovals {
  recheckForAgent(agent: string, permits: (binding: ApprovalRequestInputs) => Promise<boolean>, log: Logger, cause?: Record<string, unknown>): Promise<number>;
}

export interface TrustRevocationDeps {
  config: Pick<BrokerConfig, 'actions'>;
  /** A lease past its expiry is the reaper's (recorded expired), not a trust drop's. */
  clock: Pick<Clock, 'now'>;
  store: Pick<Store, 'listLeases'>;
  /** The decision step (through LeaseService: redecide a lease, explain a request), and the batch end of leases with their entries. */
  leases: Pick<LeaseService, 'redecide' | 'explain' | 'endManyRecorded'>;
  revoker?: CredentialRevoker;
  /** Pending approvals are re-checked the same way (the approvals service). */
  approvals?: PendingApprovals;
  /** Break-glass overrides of an agent that drops to quarantined end (the break-glass service). */
  overrides?: { endForAgent(agent: string, reason: string, cause?: Record<string, unknown>): Promise<number> };
}

/** How many leases one trust drop re-decides at most (the per-agent active-lease limit is far lower in practice). */
const MAX_LEASES = 100_000;

/**
 * A trust drop reaches live authority: every live lease of the agent is
 * decided again with its stored inputs (action, resource, context, params)
 * under the current policy and the trust it has now.
 *
 * 1. Re-decide each live lease (an error while deciding is a denial).
 * 2. End every lease no longer permitted in one store transaction, committed
 *    with one `lease.revoked` entry each, all naming the `trust.changed`
 *    entry that caused them (`cause.index`). If the log refuses them, the
 *    leases end anyway (authority first) and the entries are retried.
 * 3. Revoke their dynamic credentials upstream together (one `revokeMany`
 *    round per backend for all of them: PostgreSQL drops the roles in one
 *    batch), recorded as `credential.revoked` or left `revoke_failed` and retried.
 * 4. Pending approvals of the agent are re-checked (`approvals`): one whose
 *    request policy now denies is rejected, naming the same cause.
 * Their next Invoke is refused: every use re-checks the lease's status.
 */
export class TrustRevocation {
  constructor(private readonly deps: TrustRevocationDeps) {}

  /** Resolves with how many leases it revoked, after their credentials were revoked upstream (or marked revoke_failed). */
  async reevaluate(drop: TrustDrop, log: Logger): Promise<number> {
    const { agent, trust, cause } = drop;
    // At quarantine its break-glass overrides end first: a re-decision below must not be granted under one.
    if (trust.tier === 'quarantined' && this.deps.overrides) {
      const n = await this.deps.overrides.endForAgent(agent.name, 'the agent is quarantined', causeOf(cause?.index));
      if (n > 0) log.info({ agent: agent.name, overrides: n }, 'break-glass overrides ended: the agent is quarantined');
    }
    const now = this.deps.clock.now();
    const live = (await this.deps.store.listLeases({ agent: agent.name, statuses: ['active', 'exhausted'], limit: MAX_LEASES })).filter((l) => holdsAuthority(l, now));
    // 1. Re-decide with each lease's own inputs.
    // The trust the change left (read once for all of them).
    const verdicts = await Promise.all(live.map((l) => this.stillPermitted(agent, l, trust, log)));
    const refused = live.filter((_, i) => !verdicts[i]);
    let ended: LeaseRecord[] = [];
    if (refused.length > 0) {
      const reason = `trust dropped to ${trust.score} (${trust.tier}); the policy no longer permits this lease`;
      // 2. One transaction ends them all, their entries in the same commit (or retried after, if the log refuses).
      const why = causeOf(cause?.index);
      ended = await this.deps.leases.endManyRecorded(refused.map((l) => l.id), reason, { by: 'broker', reason: 'trust', ...(why ? { cause: why } : {}) }, log);
      log.info({ agent: agent.name, revoked: ended.length, of: live.length, score: trust.score, tier: trust.tier }, 'leases revoked after a trust drop');
      // 3. Their credentials go upstream together.
      const owed = ended.filter((l) => l.credential);
      if (owed.length > 0 && this.deps.revoker) {
        await this.deps.revoker.revokeEndedMany(owed.map((lease) => ({ lease, end: { by: 'broker' } })), log, { batch: owed.length });
      }
    }
    // 4. Pending approvals, the same way: one a re-decision denies is rejected.
    if (this.deps.approvals) {
      const rejected = await this.deps.approvals.recheckForAgent(agent.name, (b) => this.stillAllowed(agent, b, log), log, causeOf(cause?.index));
      if (rejected > 0) log.info({ agent: agent.name, rejected }, 'pending approvals rejected after a trust drop');
    }
    return ended.length;
  }

  /**
   * The lease re-decided through the decision step with its stored inputs,
   * under the current policy and the trust the agent has now. As at
   * RequestLease: a deny, or a permit that now needs an approval the lease
   * was not granted under, no longer covers it; an error is a denial.
   */
  private async stillPermitted(agent: AgentConfig, l: LeaseRecord, trust: TrustView, log: Logger): Promise<boolean> {
    // A lease whose action is gone from the config cannot be re-decided: that is a denial (a dynamic
    // credential it holds is live upstream, whatever Invoke and renewal refuse).
    if (!this.deps.config.actions[l.action]) {
      log.warn({ lease_id: l.id, action: l.action }, 'a lease\'s action is no longer configured; it is revoked after a trust drop');
      return false;
    }
    try {
      const step = await this.deps.leases.redecide('reevaluate', agent, l, trust);
      const ok = step.verdict === 'allow';
      if (!ok) log.debug({ lease_id: l.id, policies: step.policy.determining.map((p) => p.id), summary: step.explanation.summary }, 'a lease is no longer permitted');
      return ok;
    } catch (err) {
      log.warn({ err, lease_id: l.id }, 'could not re-decide a lease after a trust drop; it is revoked');
      return false;
    }
  }

  /** An approval stays open while policy still permits its request (with the approval it asks for). */
  private async stillAllowed(agent: AgentConfig, b: ApprovalRequestInputs, log: Logger): Promise<boolean> {
    if (!this.deps.config.actions[b.action]) return false;
    try {
      const r = await this.deps.leases.explain(agent.name, { action: b.action, resource: b.resource, params: b.params, purpose: b.purpose ?? '', ttlSeconds: b.ttl_seconds ?? 0, maxUses: b.max_uses ?? 0 });
      return r.status !== 'DENIED';
    } catch (err) {
      log.warn({ err, action: b.action }, 'could not re-decide a pending approval after a trust drop; it is rejected');
      return false;
    }
  }


}
