import type { GetTrustRequest__Output } from '../../../gen/secretbroker/v1/GetTrustRequest';
import type { ReportSignalRequest__Output } from '../../../gen/secretbroker/v1/ReportSignalRequest';
import type { SetTrustRequest__Output } from '../../../gen/secretbroker/v1/SetTrustRequest';
import type { TrustState as ProtoTrustState } from '../../../gen/secretbroker/v1/TrustState';
import type { TrustChangeResult, TrustService, TrustState } from '../../../trust/trust-service';
import type { CallContext } from '../adapter';
import type { Handlers } from '../server';
import { rfc3339 } from './convert';

function toProtoState(s: TrustState, extra: Partial<ProtoTrustState> = {}): ProtoTrustState {
  return {
    agent: s.agent,
    score: s.score,
    tier: s.tier,
    updatedAt: s.updatedAt !== undefined ? rfc3339(s.updatedAt) : '',
    fresh: s.fresh,
    confirmedAt: s.confirmedAt !== undefined ? rfc3339(s.confirmedAt) : '',
    ...extra,
  };
}

function changed(r: TrustChangeResult): ProtoTrustState {
  return toProtoState(r.after, {
    leasesRevoked: r.leasesRevoked,
    previousScore: r.before.score,
    previousTier: r.before.tier,
    ...(r.evidence ? { evidence: { origin: r.evidence.origin, index: String(r.evidence.index), leafHash: r.evidence.leafHash } } : {}),
  });
}

/** Operator SetTrust / ReportSignal (role admin) and GetTrust (role auditor), enforced by the gate; translation only. */
export function trustHandlers(trust: TrustService): Handlers {
  return {
    Operator: {
      SetTrust: async (req: SetTrustRequest__Output, ctx: CallContext) => changed(await trust.set(req.agent, req.score, req.reason, `operator:${ctx.principal.name}`, ctx.log)),
      ReportSignal: async (req: ReportSignalRequest__Output, ctx: CallContext) =>
        changed(await trust.signal(req.agent, { kind: req.kind, weight: req.weight, detail: req.detail }, `operator:${ctx.principal.name}`, ctx.log)),
      GetTrust: async (req: GetTrustRequest__Output) => {
        const state = await trust.get(req.agent);
        const history = req.history > 0 ? await trust.history(req.agent, req.history) : [];
        return toProtoState(state, {
          history: history.map((h) => ({
            at: rfc3339(h.at),
            oldScore: h.oldScore,
            newScore: h.newScore,
            oldTier: h.oldTier,
            newTier: h.newTier,
            kind: h.kind,
            weight: h.weight ?? 0,
            note: h.note,
            by: h.by,
          })),
        });
      },
    },
  };
}
