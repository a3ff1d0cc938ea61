import { OVERRIDE_STATES, type OverrideState } from '../../../breakglass/breakglass-store';
import type { BreakGlassService, OverrideView } from '../../../breakglass/breakglass-service';
import type { BreakGlassOverride } from '../../../gen/secretbroker/v1/BreakGlassOverride';
import type { BreakGlassRequest__Output } from '../../../gen/secretbroker/v1/BreakGlassRequest';
import type { BreakGlassResponse } from '../../../gen/secretbroker/v1/BreakGlassResponse';
import type { ConfirmBreakGlassRequest__Output } from '../../../gen/secretbroker/v1/ConfirmBreakGlassRequest';
import type { GetBreakGlassRequest__Output } from '../../../gen/secretbroker/v1/GetBreakGlassRequest';
import type { ListBreakGlassRequest__Output } from '../../../gen/secretbroker/v1/ListBreakGlassRequest';
import type { ReviewBreakGlassRequest__Output } from '../../../gen/secretbroker/v1/ReviewBreakGlassRequest';
import type { RevokeBreakGlassRequest__Output } from '../../../gen/secretbroker/v1/RevokeBreakGlassRequest';
import type { EvidenceRef } from '../../../evidence/ledger/evidence-sink';
import type { BrokerConfig } from '../../../config/config-types';
import { BrokerError, invalidArgument } from '../../../lib/errors';
import type { CallContext } from '../adapter';
import type { Principal } from '../authn';
import type { Handlers } from '../server';
import { rfc3339 } from './convert';

function operatorOf(p: Principal) {
  if (p.kind !== 'operator') throw new BrokerError('permission_denied', 'this RPC is for operators');
  return p.operator;
}

const when = (ms: number | undefined): string => (ms !== undefined ? rfc3339(ms) : '');

export function toProtoOverride(v: OverrideView): BreakGlassOverride {
  const o = v.record;
  return {
    overrideId: o.id,
    agent: o.agent,
    action: o.action,
    resource: o.resource,
    reason: o.reason,
    state: v.state,
    requestedBy: o.requestedBy,
    requestedAt: rfc3339(o.requestedAt),
    confirmedBy: o.confirmedBy ?? '',
    confirmedAt: when(o.confirmedAt),
    expiresAt: rfc3339(o.expiresAt),
    ttlSeconds: Math.floor(o.ttlMs / 1000),
    endedBy: o.endedBy ?? '',
    endedAt: when(o.endedAt),
    endReason: o.endReason ?? '',
    reviewedBy: o.reviewedBy ?? '',
    reviewedAt: when(o.reviewedAt),
    reviewNote: o.reviewNote ?? '',
    owner: v.owner ?? '',
    secondsLeft: Math.ceil(v.msLeft / 1000),
  };
}

function response(r: { view: OverrideView; evidence?: EvidenceRef }): BreakGlassResponse {
  return {
    override: toProtoOverride(r.view),
    ...(r.evidence ? { evidence: { origin: r.evidence.origin, index: String(r.evidence.index), leafHash: r.evidence.leafHash } } : {}),
  };
}

/** Translates the break-glass RPCs to BreakGlassService calls; no decisions are made here. */
export function breakglassHandlers(service: BreakGlassService, config: Pick<BrokerConfig, 'agents'>): Handlers {
  return {
    Operator: {
      BreakGlass: async (req: BreakGlassRequest__Output, ctx: CallContext) => {
        const hasParams = Object.keys(req.params?.fields ?? {}).length > 0;
        return response(await service.request(operatorOf(ctx.principal), { agent: req.agent, action: req.action, resource: req.resource, reason: req.reason, ttlSeconds: req.ttlSeconds, hasParams }, ctx.log));
      },
      ConfirmBreakGlass: async (req: ConfirmBreakGlassRequest__Output, ctx: CallContext) => response(await service.confirm(operatorOf(ctx.principal), req.overrideId, req.note, ctx.log)),
      RevokeBreakGlass: async (req: RevokeBreakGlassRequest__Output, ctx: CallContext) => response(await service.revoke(operatorOf(ctx.principal), req.overrideId, req.reason, ctx.log)),
      GetBreakGlass: async (req: GetBreakGlassRequest__Output, ctx: CallContext) => {
        operatorOf(ctx.principal);
        return response({ view: await service.get(req.overrideId) });
      },
      ReviewBreakGlass: async (req: ReviewBreakGlassRequest__Output, ctx: CallContext) => response(await service.review(operatorOf(ctx.principal), req.overrideId, req.note, ctx.log)),
      ListBreakGlass: async (req: ListBreakGlassRequest__Output, ctx: CallContext) => {
        operatorOf(ctx.principal);
        if (req.state && !OVERRIDE_STATES.includes(req.state as OverrideState)) throw invalidArgument('state', `one of ${OVERRIDE_STATES.join(', ')}, or empty for every state`);
        if (req.agent && !Object.hasOwn(config.agents, req.agent)) throw invalidArgument('agent', 'a configured agent name');
        const list = await service.list({
          ...(req.unreviewed ? { unreviewed: true } : {}),
          ...(req.state ? { states: [req.state as OverrideState] } : {}),
          ...(req.agent ? { agent: req.agent } : {}),
          limit: req.limit || 100,
        });
        return { overrides: list.map(toProtoOverride) };
      },
    },
  };
}
