import type { Ledger } from '../../../evidence/ledger/ledger';
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
/** Entries read between two yields to the event loop (about 5 ms of work). */
const SCAN_SLICE = 500;
const DECISION_MARK = Buffer.from('"type":"decision"');

interface DecisionEntry {
  time?: string;
  type?: string;
  agent?: string;
  action?: string;
  resource?: string;
  decision?: { effect?: string; policies?: string[]; policy_version?: string };
  trust?: { score?: number; tier?: string };
  explanation?: unknown;
  /** A folded denial window's closing entry (DenialFolder). */
  folded_count?: number;
  folded_since?: string;
  folded_until?: string;
  first_index?: number;
  flood?: boolean;
}

/** The read RPCs the operator console needs: WhoAmI (any one of the roles) and ListDecisions (role auditor, from the log). */
export function consoleReadHandlers(ledger: Pick<Ledger, 'size' | 'getEntry'> | undefined): Handlers {
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
        const limit = req.limit || DEFAULT_LIMIT;
        const decisions: DecisionRecord[] = [];
        const size = ledger.size;
        let scanned = 0;
        for (let i = size - 1; i >= 0 && scanned < MAX_SCAN && decisions.length < limit; i--, scanned++) {
          // Each read is synchronous SQLite: let other requests run between slices of a long scan.
          if (scanned > 0 && scanned % SCAN_SLICE === 0) await new Promise<void>((r) => setImmediate(r));
          const { bytes } = await ledger.getEntry(i);
          if (!bytes.includes(DECISION_MARK)) continue;
          const e = JSON.parse(bytes.toString('utf8')) as DecisionEntry;
          if (e.type !== 'decision') continue;
          const effect = e.decision?.effect ?? '';
          if ((req.agent && e.agent !== req.agent) || (req.action && e.action !== req.action) || (req.effect && effect !== req.effect)) continue;
          decisions.push({
            index: String(i),
            time: e.time ?? '',
            agent: e.agent ?? '',
            action: e.action ?? '',
            resource: e.resource ?? '',
            effect,
            policies: e.decision?.policies ?? [],
            policyVersion: e.decision?.policy_version ?? '',
            trustScore: e.trust?.score ?? 0,
            trustTier: e.trust?.tier ?? '',
            explanationJson: e.explanation === undefined ? '' : JSON.stringify(e.explanation),
            ...(e.folded_count !== undefined
              ? { foldedCount: e.folded_count, flood: e.flood === true, firstIndex: String(e.first_index ?? 0), foldedSince: e.folded_since ?? '', foldedUntil: e.folded_until ?? '' }
              : {}),
          });
        }
        return { decisions, scanned: String(scanned) };
      },
    },
  };
}
