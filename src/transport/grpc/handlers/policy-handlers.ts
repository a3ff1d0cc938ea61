import type { PolicyReloader } from '../../../broker/policy-reload';
import type { ReloadPoliciesResponse } from '../../../gen/secretbroker/v1/ReloadPoliciesResponse';
import type { Clock } from '../../../lib/clock';
import type { CallContext } from '../adapter';
import type { Handlers } from '../server';
import { toProtoLease } from './convert';

/** Operator.ReloadPolicies (role admin, enforced by the gate); translation only. */
export function policyHandlers(reloader: Pick<PolicyReloader, 'reload'>, clock: Clock): Handlers {
  return {
    Operator: {
      ReloadPolicies: async (_req: unknown, ctx: CallContext): Promise<ReloadPoliciesResponse> => {
        const r = await reloader.reload(`operator:${ctx.principal.name}`);
        const now = clock.now();
        return {
          policyVersion: r.version,
          policies: r.policies,
          previousVersion: r.previousVersion,
          changed: r.changed,
          ...(r.evidence ? { evidence: { origin: r.evidence.origin, index: String(r.evidence.index), leafHash: r.evidence.leafHash } } : {}),
          reevaluated: r.reevaluated,
          revoked: r.revoked.map((l) => toProtoLease(l, now)),
        };
      },
    },
  };
}
