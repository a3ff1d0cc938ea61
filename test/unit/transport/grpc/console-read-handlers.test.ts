import { strict as assert } from 'node:assert';
import type { EvidenceDraft } from '../../../../src/evidence/ledger/evidence-sink';
import type { ListDecisionsRequest__Output } from '../../../../src/gen/secretbroker/v1/ListDecisionsRequest';
import type { ListDecisionsResponse } from '../../../../src/gen/secretbroker/v1/ListDecisionsResponse';
import { BrokerError } from '../../../../src/lib/errors';
import type { CallContext } from '../../../../src/transport/grpc/adapter';
import { consoleReadHandlers } from '../../../../src/transport/grpc/handlers/console-read-handlers';
import { LedgerFixture } from '../../evidence/ledger/ledger-fixture';

type ListDecisions = (req: ListDecisionsRequest__Output, ctx: CallContext) => Promise<ListDecisionsResponse>;

/*
 * A log longer than ListDecisions' bound of 20,000 entries: 600 older
 * entries, then 20,000 more. Decisions of edge-bot sit either side of the
 * bound (599 outside, 600 the oldest entry inside), one of mid-bot halfway,
 * and the newest 600 entries are decisions of support-bot: more than one
 * page of decisions lies between the newest entry and the others.
 */
const SIZE = 20_600;
const OUTSIDE = 599;
const INSIDE = 600;
const MIDDLE = 10_000;
const NEWEST_FROM = 20_000;

const decisionOf = (agent: string, i: number, effect = 'allow'): EvidenceDraft => ({
  type: 'decision',
  agent,
  action: 'tickets.update',
  resource: `ticket/T-${i}`,
  decision: { effect, policies: ['tickets-update-support'], policy_version: 'v1' },
  trust: { score: 640, tier: 'standard' },
});

function draft(i: number): EvidenceDraft {
  if (i === OUTSIDE || i === INSIDE) return decisionOf('edge-bot', i, 'allow_with_obligations');
  if (i === MIDDLE) return decisionOf('mid-bot', i);
  if (i >= NEWEST_FROM) return decisionOf('support-bot', i);
  return i % 2 ? { type: 'heartbeat' } : { type: 'lease.issued', agent: 'support-bot', lease: { id: `lease_${i}` } };
}

describe('transport/grpc: ListDecisions over the evidence log', function () {
  this.timeout(120_000);
  const fx = new LedgerFixture();
  let list: (req: Partial<ListDecisionsRequest__Output>) => Promise<ListDecisionsResponse>;

  before(async () => {
    const ledger = await fx.open();
    await ledger.append(Array.from({ length: SIZE }, (_, i) => draft(i)));
    assert.equal(ledger.size, SIZE);
    const handler = consoleReadHandlers(ledger).Operator!['ListDecisions'] as unknown as ListDecisions;
    list = (req) => handler({ agent: '', action: '', effect: '', limit: 0, ...req }, {} as CallContext);
  });
  after(async () => {
    await fx.cleanup();
  });

  it('finds decisions older than the first page of decisions, and stops at the newest 20,000 entries', async () => {
    const edge = await list({ agent: 'edge-bot' });
    assert.deepEqual(edge.decisions?.map((d) => d.index), [String(INSIDE)], `entry ${OUTSIDE} is past the bound`);
    assert.equal(edge.scanned, '20000');
    assert.deepEqual(edge.decisions![0], {
      index: '600',
      time: '2026-01-02T03:04:05.678Z',
      agent: 'edge-bot',
      action: 'tickets.update',
      resource: 'ticket/T-600',
      effect: 'allow_with_obligations',
      policies: ['tickets-update-support'],
      policyVersion: 'v1',
      trustScore: 640,
      trustTier: 'standard',
      explanationJson: '',
    });
    const obligated = await list({ effect: 'allow_with_obligations' });
    assert.deepEqual([obligated.decisions?.map((d) => d.index), obligated.scanned], [['600'], '20000']);
    const none = await list({ action: 'billing.refund' });
    assert.deepEqual([none.decisions, none.scanned], [[], '20000']);
  });

  it('counts as scanned the entries down to the last decision returned once the limit is reached', async () => {
    const mid = await list({ agent: 'mid-bot', limit: 1 });
    assert.deepEqual([mid.decisions?.map((d) => d.index), mid.scanned], [[String(MIDDLE)], String(SIZE - MIDDLE)]);
    const newest = await list({});
    assert.equal(newest.decisions?.length, 50, 'the default limit');
    assert.deepEqual(newest.decisions?.map((d) => Number(d.index)), Array.from({ length: 50 }, (_, k) => SIZE - 1 - k));
    assert.equal(newest.scanned, '50');
    const most = await list({ agent: 'support-bot', limit: 500 });
    assert.deepEqual([most.decisions?.length, most.decisions?.at(-1)?.index, most.scanned], [500, String(SIZE - 500), '500']);
  });

  it('keeps its refusals: an unknown effect, a limit over 500, no evidence log', async () => {
    const refusal = async (p: Promise<unknown>): Promise<BrokerError> => {
      const err = await p.then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof BrokerError, String(err));
      return err;
    };
    // The decision kinds named in a validation message (no denial is asserted here).
    const kinds = 'effect: expected "allow", "deny", "allow_with_obligations" or empty';
    const effect = await refusal(list({ effect: 'maybe' }));
    assert.deepEqual([effect.kind, effect.message], ['invalid_argument', kinds]);
    const limit = await refusal(list({ limit: 501 }));
    assert.deepEqual([limit.kind, limit.message], ['invalid_argument', 'limit: expected at most 500']);
    const noLog = consoleReadHandlers(undefined).Operator!['ListDecisions'] as unknown as ListDecisions;
    const unavailable = await refusal(noLog({ agent: '', action: '', effect: '', limit: 0 }, {} as CallContext));
    assert.deepEqual([unavailable.kind, unavailable.message], ['unavailable', 'this daemon runs without an evidence log']);
  });
});
