import type { DecisionEntry } from '../../../evidence/decision-entry';
import { newestDecisions, type DecisionScanSource } from '../../../evidence/ledger/decision-scan';
import type { DecisionRecord } from '../../../gen/secretbroker/v1/DecisionRecord';
import type { ListDecisionsRequest__Output } from '../../../gen/secretbroker/v1/ListDecisionsRequest';
import type { ListDecisionsResponse } from '../../../gen/secretbroker/v1/ListDecisionsResponse';
import type { WhoAmIResponse } from '../../../gen/secretbroker/v1/WhoAmIResponse';
import { BrokerError, invalidArgument } from '../../../lib/errors';
import { DECISION_KINDS } from '../../../policy';
import type { CallContext } from '../adapter';
import type { Handlers } from '../server';

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;
/** ListDecisions reads at most this many entries back from the newest: the work per call is bounded. */
const MAX_SCAN = 20_000;

const toRecord = (e: DecisionEntry): DecisionRecord => ({
  index: String(e.index),
  time: e.time,
  agent: e.agent,
  action: e.action,
  resource: e.resource,
  effect: e.decision.effect,
  policies: [...e.decision.policies],
  policyVersion: e.decision.policy_version,
  trustScore: e.trust?.score ?? 0,
  trustTier: e.trust?.tier ?? '',
  explanationJson: e.explanation === undefined ? '' : JSON.stringify(e.explanation),
  ...(e.folded_count !== undefined
    ? { foldedCount: e.folded_count, flood: e.flood === true, firstIndex: String(e.first_index ?? 0), foldedSince: e.folded_since ?? '', foldedUntil: e.folded_until ?? '' }
    : {}),
});

/** The read RPCs the operator console needs: WhoAmI (any one of the roles) and ListDecisions (role auditor, from the log). */
export function consoleReadHandlers(ledger: DecisionScanSource | undefined): Handlers {
  return {
    Operator: {
      WhoAmI: async (_req: unknown, ctx: CallContext): Promise<WhoAmIResponse> => {
        const p = ctx.principal;
        // The access table admits operators only (narrows the type; an agent here would be a wiring fault).
        if (p.kind !== 'operator') throw new BrokerError('permission_denied', 'this RPC is for operators');
        return { name: p.name, id: p.operator.id, roles: [...p.operator.roles] };
      },
      ListDecisions: async (req: ListDecisionsRequest__Output): Promise<ListDecisionsResponse> => {
        if (req.effect && !(DECISION_KINDS as readonly string[]).includes(req.effect)) throw invalidArgument('effect', `expected ${DECISION_KINDS.map((k) => `"${k}"`).join(', ')} or empty`);
        if (req.limit > MAX_LIMIT) throw invalidArgument('limit', `expected at most ${MAX_LIMIT}`);
        if (!ledger) throw new BrokerError('unavailable', 'this daemon runs without an evidence log');
        const { decisions, scanned } = await newestDecisions(ledger, {
          limit: req.limit || DEFAULT_LIMIT,
          maxScan: MAX_SCAN,
          matches: (e) => (!req.agent || e.agent === req.agent) && (!req.action || e.action === req.action) && (!req.effect || e.decision.effect === req.effect),
        });
        return { decisions: decisions.map(toRecord), scanned: String(scanned) };
      },
    },
  };
}
