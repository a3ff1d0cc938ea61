import { LeaseService } from '../../../broker/lease-service';
import { structToJson } from '../../../broker/struct';
import type { ExplainRequest__Output } from '../../../gen/secretbroker/v1/ExplainRequest';
import type { ExplainResponse } from '../../../gen/secretbroker/v1/ExplainResponse';
import type { GetLeaseRequest__Output } from '../../../gen/secretbroker/v1/GetLeaseRequest';
import type { LeaseRequest__Output } from '../../../gen/secretbroker/v1/LeaseRequest';
import type { LeaseResponse } from '../../../gen/secretbroker/v1/LeaseResponse';
import type { ListLeasesRequest__Output } from '../../../gen/secretbroker/v1/ListLeasesRequest';
import type { RenewLeaseRequest__Output } from '../../../gen/secretbroker/v1/RenewLeaseRequest';
import type { RevokeLeaseRequest__Output } from '../../../gen/secretbroker/v1/RevokeLeaseRequest';
import type { RevokeLeasesRequest__Output } from '../../../gen/secretbroker/v1/RevokeLeasesRequest';
import type { Clock } from '../../../lib/clock';
import { BrokerError, invalidArgument } from '../../../lib/errors';
import { forAgent } from '../../../policy';
import type { CallContext } from '../adapter';
import type { Principal } from '../authn';
import type { Handlers } from '../server';
import { STATUS_FROM_PROTO, toProtoExplanation, toProtoLease } from './convert';

/** ListLeases' rows: 0 asks for the default; more than the maximum is refused, not cut silently. */
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1000;

function agentOf(p: Principal) {
  if (p.kind !== 'agent') throw new BrokerError('permission_denied', 'this RPC is for agents');
  return p.agent;
}

/** Translates lease RPCs to LeaseService calls; no decisions are made here. */
export function leaseHandlers(leases: LeaseService, clock: Clock): Handlers {
  return {
    AgentBroker: {
      RequestLease: async (req: LeaseRequest__Output, ctx: CallContext): Promise<LeaseResponse> => {
        const outcome = await leases.request(
          agentOf(ctx.principal),
          {
            action: req.action,
            resource: req.resource,
            purpose: req.purpose,
            params: structToJson(req.params),
            ttlSeconds: req.ttlSeconds,
            maxUses: req.maxUses,
            approvalId: req.approvalId,
          },
          ctx.log,
        );
        // An agent in the quarantined tier is told the hint only (invariant 7).
        const explanation = toProtoExplanation(forAgent(outcome.explanation), outcome.decision.policyVersion);
        const evidence = outcome.evidence ? { origin: outcome.evidence.origin, index: String(outcome.evidence.index), leafHash: outcome.evidence.leafHash } : undefined;
        if (outcome.status === 'DENIED') return { status: 'DENIED', explanation, ...(evidence ? { evidence } : {}) };
        if (outcome.status === 'PENDING_APPROVAL') return { status: 'PENDING_APPROVAL', approvalId: outcome.approvalId, explanation, ...(evidence ? { evidence } : {}) };
        // The only response that carries a dynamic credential: to the agent the lease was just granted to.
        const lease = toProtoLease(outcome.lease, clock.now(), outcome.credential);
        outcome.credential?.password.wipe();
        return { status: 'GRANTED', lease, explanation, ...(evidence ? { evidence } : {}) };
      },
      GetLease: async (req: GetLeaseRequest__Output, ctx: CallContext) => toProtoLease(await leases.get(agentOf(ctx.principal), req.leaseId), clock.now()),
      RenewLease: async (req: RenewLeaseRequest__Output, ctx: CallContext): Promise<LeaseResponse> => {
        const r = await leases.renew(agentOf(ctx.principal), req.leaseId, req.ttlSeconds, ctx.log);
        return { status: 'GRANTED', lease: toProtoLease(r.lease, clock.now()), explanation: toProtoExplanation(forAgent(r.explanation), r.lease.policyVersion) };
      },
      RevokeLease: async (req: RevokeLeaseRequest__Output, ctx: CallContext) => ({
        lease: toProtoLease(await leases.revoke(agentOf(ctx.principal), req.leaseId, req.reason, ctx.log), clock.now()),
      }),
    },
    Operator: {
      // A dry run of RequestLease as a configured agent, through the same decision step; records nothing.
      Explain: async (req: ExplainRequest__Output): Promise<ExplainResponse> => {
        const r = await leases.explain(req.agent, { action: req.action, resource: req.resource, purpose: '', params: structToJson(req.params), ttlSeconds: 0, maxUses: 0 });
        return { status: r.status, explanation: toProtoExplanation(r.explanation, r.decision.policyVersion) };
      },
      ListLeases: async (req: ListLeasesRequest__Output) => {
        // An unknown status is refused, not dropped: dropping the only one asked for would list every status.
        const statuses = req.status.map((s, i) => {
          const status = STATUS_FROM_PROTO[s as string];
          if (!status) throw invalidArgument(`status[${i}]`, `expected one of ${Object.keys(STATUS_FROM_PROTO).join(', ')}`);
          return status;
        });
        if (req.limit > MAX_LIST_LIMIT) throw invalidArgument('limit', `expected at most ${MAX_LIST_LIMIT} (0 for ${DEFAULT_LIST_LIMIT})`);
        const list = await leases.list({
          ...(req.agent ? { agent: req.agent } : {}),
          ...(req.action ? { action: req.action } : {}),
          ...(statuses.length ? { statuses } : {}),
          limit: req.limit || DEFAULT_LIST_LIMIT,
        });
        const now = clock.now();
        return { leases: list.map((l) => toProtoLease(l, now)) };
      },
      RevokeLeases: async (req: RevokeLeasesRequest__Output, ctx: CallContext) => {
        const revoked = await leases.revokeMany(
          { ...(req.agent ? { agent: req.agent } : {}), ...(req.action ? { action: req.action } : {}), ...(req.leaseId ? { leaseId: req.leaseId } : {}) },
          req.reason,
          ctx.principal.name,
          ctx.log,
        );
        const now = clock.now();
        return { revoked: revoked.map((l) => toProtoLease(l, now)) };
      },
    },
  };
}
