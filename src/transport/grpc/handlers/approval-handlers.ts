import type { ApprovalService, ApprovalView } from '../../../approvals/approval-service';
import { contextFromParams } from '../../../broker/request-validation';
import { jsonToStruct } from '../../../broker/struct';
import type { BrokerConfig } from '../../../config/config-types';
import type { Approval } from '../../../gen/secretbroker/v1/Approval';
import type { DecideApprovalRequest__Output } from '../../../gen/secretbroker/v1/DecideApprovalRequest';
import type { GetApprovalRequest__Output } from '../../../gen/secretbroker/v1/GetApprovalRequest';
import type { ListApprovalsRequest__Output } from '../../../gen/secretbroker/v1/ListApprovalsRequest';
import type { WatchApprovalRequest__Output } from '../../../gen/secretbroker/v1/WatchApprovalRequest';
import { BrokerError, invalidArgument } from '../../../lib/errors';
import type { ApprovalState } from '../../../store/store';
import type { CallContext } from '../adapter';
import type { Principal } from '../authn';
import type { Handlers } from '../server';
import { rfc3339 } from './convert';

type ProtoState = NonNullable<Approval['state']>;

const STATE: Readonly<Record<ApprovalState, ProtoState>> = Object.freeze<Record<ApprovalState, ProtoState>>({
  pending: 'PENDING',
  approved: 'APPROVED',
  rejected: 'REJECTED',
  expired: 'APPROVAL_EXPIRED',
  consumed: 'APPROVAL_CONSUMED',
});
const FROM_PROTO: Readonly<Record<string, ApprovalState>> = Object.freeze(Object.fromEntries(Object.entries(STATE).map(([k, v]) => [v, k as ApprovalState])));

function operatorOf(p: Principal) {
  if (p.kind !== 'operator') throw new BrokerError('permission_denied', 'this RPC requires the operator role "approver"');
  return p.operator;
}

function agentOf(p: Principal) {
  if (p.kind !== 'agent') throw new BrokerError('permission_denied', 'this RPC is for agents');
  return p.agent;
}

/** Why an approval ended, in one line. */
function reasonOf(v: ApprovalView): string {
  if (v.state === 'expired') return 'expired';
  if (v.record.decidedBy === 'broker') return 'rejected by the broker: the current policy and trust no longer permit this request';
  const last = v.record.votes.at(-1);
  return v.state === 'pending' || !last ? '' : last.reason;
}

/**
 * An approval as the API shows it. The agent (WatchApproval) gets its own
 * request, the state, progress and times; approvers also get who owns the
 * agent, its trust, the rule that asked, the votes and why it ended.
 */
export function toProtoApproval(v: ApprovalView, config: Pick<BrokerConfig, 'actions'>, forApprover: boolean): Approval {
  const a = v.record;
  const b = v.binding;
  let context: Record<string, unknown> = {};
  const action = config.actions[b.action];
  try {
    if (action) context = contextFromParams(action, b.params);
  } catch {
    // The action's declared fields changed since: the params below still say everything.
  }
  const base: Approval = {
    approvalId: a.id,
    agent: a.agent,
    action: b.action,
    resource: b.resource,
    context: jsonToStruct(context),
    params: jsonToStruct(b.params),
    purpose: b.purpose,
    state: STATE[v.state],
    group: a.groups[0] ?? '',
    groups: a.groups,
    required: v.progress[0]?.required ?? 0,
    progress: v.progress.map((p) => ({ group: p.group, required: p.required, approvals: p.approvals })),
    createdAt: rfc3339(a.createdAt),
    expiresAt: rfc3339(a.expiresAt),
    secondsLeft: Math.ceil(v.msLeft / 1000),
    ttlSeconds: b.ttl_seconds,
    maxUses: b.max_uses,
    bindingHash: a.bindingHash,
    decidedAt: a.decidedAt !== undefined ? rfc3339(a.decidedAt) : '',
    leaseId: a.leaseId ?? '',
  };
  if (!forApprover) return base;
  return {
    ...base,
    owner: v.owner ?? '',
    trust: { score: a.trust.score, tier: a.trust.tier },
    trustFresh: a.trust.fresh,
    rule: b.rule,
    policyVersion: b.policy_version,
    approvedBy: a.votes.filter((x) => x.approve).map((x) => x.approver),
    votes: a.votes.map((x) => ({ approver: x.approver, approve: x.approve, reason: x.reason, at: rfc3339(x.at) })),
    reason: reasonOf(v),
  };
}

/** Translates approval RPCs to ApprovalService calls; no decisions are made here. */
export function approvalHandlers(approvals: ApprovalService, config: Pick<BrokerConfig, 'actions' | 'agents'>): Handlers {
  return {
    AgentBroker: {
      WatchApproval: {
        stream: async (req: WatchApprovalRequest__Output, ctx: CallContext, send: (msg: Approval) => void): Promise<void> => {
          const agent = agentOf(ctx.principal);
          await approvals.watch(agent.name, req.approvalId, (v) => send(toProtoApproval(v, config, false)), ctx.signal);
        },
      },
    },
    Operator: {
      ListApprovals: async (req: ListApprovalsRequest__Output, ctx: CallContext) => {
        const op = operatorOf(ctx.principal);
        const requested = req.state && req.state !== 'APPROVAL_STATE_UNSPECIFIED' ? FROM_PROTO[req.state] : undefined;
        if (req.state && req.state !== 'APPROVAL_STATE_UNSPECIFIED' && !requested) throw invalidArgument('state', 'an ApprovalState');
        if (req.agent && !config.agents[req.agent]) throw invalidArgument('agent', 'a configured agent name');
        const states: ApprovalState[] | undefined = requested ? [requested] : req.includeDecided ? ['pending', 'approved', 'rejected', 'expired', 'consumed'] : undefined;
        const list = await approvals.list(op, {
          ...(states ? { states } : {}),
          ...(req.group ? { group: req.group } : {}),
          ...(req.agent ? { agent: req.agent } : {}),
          limit: req.limit || 100,
        });
        return { approvals: list.map((v) => toProtoApproval(v, config, true)) };
      },
      GetApproval: async (req: GetApprovalRequest__Output, ctx: CallContext) => toProtoApproval(await approvals.get(operatorOf(ctx.principal), req.approvalId), config, true),
      DecideApproval: async (req: DecideApprovalRequest__Output, ctx: CallContext) => {
        if (!req.approvalId) throw invalidArgument('approval_id', 'required');
        const v = await approvals.decide(operatorOf(ctx.principal), req.approvalId, req.approve, req.reason, ctx.log);
        return toProtoApproval(v, config, true);
      },
    },
  };
}
