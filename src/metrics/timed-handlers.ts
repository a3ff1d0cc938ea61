import type { Handlers } from '../transport/grpc/server';
import { BrokerError } from '../lib/errors';
import type { Metrics } from './metrics';

const TIMED = Object.freeze(['RequestLease', 'Invoke'] as const);

/**
 * The same handlers, with AgentBroker.RequestLease and Invoke timed end to
 * end (`secretbroker_rpc_duration_seconds`, by method and outcome: `ok` or
 * the error's kind).
 */
export function timedHandlers(handlers: Handlers, metrics: Pick<Metrics, 'rpc'>): Handlers {
  const agent = handlers.AgentBroker;
  if (!agent) return handlers;
  const out = { ...agent };
  for (const method of TIMED) {
    const h = agent[method];
    if (typeof h !== 'function') continue;
    out[method] = (async (req: never, ctx: never) => {
      const started = performance.now();
      let code = 'ok';
      try {
        return await h(req, ctx);
      } catch (err) {
        code = err instanceof BrokerError ? err.kind : 'internal';
        throw err;
      } finally {
        metrics.rpc(method, code, (performance.now() - started) / 1000);
      }
    }) as typeof h;
  }
  return { ...handlers, AgentBroker: out };
}
