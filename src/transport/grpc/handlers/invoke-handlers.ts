import type { InvokeService } from '../../../broker/invoke-service';
import type { InvokesInFlight } from '../../../broker/invokes-in-flight';
import { structToJson } from '../../../broker/struct';
import type { InvokeRequest__Output } from '../../../gen/secretbroker/v1/InvokeRequest';
import type { InvokeResponse } from '../../../gen/secretbroker/v1/InvokeResponse';
import { BrokerError } from '../../../lib/errors';
import type { CallContext } from '../adapter';
import type { Handlers } from '../server';

const pairs = (list: Array<{ name: string; value: string }>): Array<[string, string]> => list.map((h) => [h.name, h.value]);

/** Translates Invoke to InvokeService; the denial format (trailer + hint) is built by the service's BrokerError. */
export function invokeHandlers(invoke: InvokeService, inFlight?: InvokesInFlight): Handlers {
  return {
    AgentBroker: {
      Invoke: async (req: InvokeRequest__Output, ctx: CallContext): Promise<InvokeResponse> => {
        if (ctx.principal.kind !== 'agent') throw new BrokerError('permission_denied', 'this RPC is for agents');
        const input = {
          leaseId: req.leaseId,
          action: req.action,
          resource: req.resource,
          params: structToJson(req.params),
          method: req.method,
          path: req.path,
          query: pairs(req.query),
          headers: pairs(req.headers),
          body: req.body,
          purpose: req.purpose,
        };
        // Bounded work: past the agent's or the daemon's limit, refused before anything is decided or sent.
        // The slot is given back exactly once however the call ends (nothing between taking it and the try can throw).
        const release = inFlight?.acquire(ctx.principal.name, ctx.principal.agent.limits.invokesInFlight);
        let out;
        try {
          out = await invoke.invoke(ctx.principal.agent, input, ctx.log, ctx.signal);
        } finally {
          release?.();
        }
        return {
          statusCode: out.response.statusCode,
          headers: Object.entries(out.response.headers).map(([name, value]) => ({ name, value })),
          body: out.response.body,
          leaseId: out.lease.id,
          usesLeft: out.lease.usesLeft,
          ...(out.evidence ? { evidence: { origin: out.evidence.origin, index: String(out.evidence.index), leafHash: out.evidence.leafHash } } : {}),
        };
      },
    },
  };
}
