import { strict as assert } from 'node:assert';
import { decisionDraft } from '../../../src/broker/decision-step';
import { recordInputs } from '../../../src/broker/recorded-inputs';
import { canonicalize } from '../../../src/evidence/canonical-json';
import { parseDecisionEntry } from '../../../src/evidence/decision-entry';
import type { PolicyDecision } from '../../../src/policy';

/** An entry's bytes as the ledger writes them: the draft plus the ledger's own fields, canonical JSON. */
const entryBytes = (index: number, draft: Record<string, unknown>): Buffer =>
  canonicalize({ v: 1, origin: 'test.example/secret-broker', index, id: '0'.repeat(32), time: '2026-01-02T03:04:05.678Z', ...draft });

describe('evidence/decision-entry: parseDecisionEntry', () => {
  it('reads back what the broker writes: decisionDraft with its trust and recorded inputs', () => {
    const d = {
      decision: 'allow_with_obligations',
      determining: [{ id: 'refund-approved', reason: 'r' }],
      obligations: { approvals: ['finance'] },
      policyVersion: 'sha256:abc',
    } as unknown as PolicyDecision;
    const inputs = recordInputs({ context: { amount: 5000 }, params: { amount: 5000 }, fresh: true, budgetUsed: 100 });
    const bytes = entryBytes(41, decisionDraft('support-bot', 'billing.refund', 'stripe', d, { score: 640, tier: 'standard' }, inputs));
    assert.deepEqual(parseDecisionEntry({ index: 41, bytes }), {
      index: 41,
      type: 'decision',
      time: '2026-01-02T03:04:05.678Z',
      agent: 'support-bot',
      action: 'billing.refund',
      resource: 'stripe',
      decision: { effect: 'allow_with_obligations', policies: ['refund-approved'], policy_version: 'sha256:abc', approvals: ['finance'], approval_id: undefined, breakglass: undefined },
      trust: { score: 640, tier: 'standard' },
      explanation: undefined,
      inputs,
      folded_count: undefined,
      folded_since: undefined,
      folded_until: undefined,
      first_index: undefined,
      flood: undefined,
    });
  });

  it('reads a folded window\'s closing entry, an explanation as recorded, a redeemed approval and a break-glass grant', () => {
    const explanation = { decision: 'deny', summary: 's', deciding_policies: [], candidates: [{ id: 'c', failed_conditions: ['x'] }], hint: 'h' };
    const e = parseDecisionEntry({
      index: 9,
      bytes: entryBytes(9, {
        type: 'decision',
        agent: 'a',
        action: 'b',
        resource: 'c',
        decision: { effect: 'deny', policies: [], policy_version: 'v', approval_id: 'apr_1', breakglass: { id: 'bg_1' } },
        explanation,
        flood: true,
        folded_count: 2,
        folded_since: '2026-01-02T03:04:00.000Z',
        folded_until: '2026-01-02T03:05:00.000Z',
        first_index: 3,
      }),
    })!;
    assert.deepEqual(e.explanation, explanation);
    assert.deepEqual([e.folded_count, e.folded_since, e.folded_until, e.first_index, e.flood], [2, '2026-01-02T03:04:00.000Z', '2026-01-02T03:05:00.000Z', 3, true]);
    assert.deepEqual([e.decision.approval_id, e.decision.breakglass], ['apr_1', { id: 'bg_1' }]);
  });

  it('gives undefined for entries of other types, without parsing those that do not name the type', () => {
    assert.equal(parseDecisionEntry({ index: 0, bytes: entryBytes(0, { type: 'lease.issued', lease: { id: 'l' } }) }), undefined);
    assert.equal(parseDecisionEntry({ index: 0, bytes: entryBytes(0, { type: 'heartbeat' }) }), undefined);
    // Not JSON at all: recognised as no decision on the bytes, never parsed.
    assert.equal(parseDecisionEntry({ index: 0, bytes: Buffer.from('{"type":"lease.issued",') }), undefined);
    // Another type that holds the marker deeper down is parsed, and is still not a decision.
    assert.equal(parseDecisionEntry({ index: 0, bytes: entryBytes(0, { type: 'lease.revoked', cause: { type: 'decision' } }) }), undefined);
  });

  it('takes the index from the log position, and reads a field of the wrong type as absent', () => {
    const e = parseDecisionEntry({
      index: 7,
      bytes: entryBytes(3, { type: 'decision', agent: 5, resource: null, decision: { effect: ['allow'], policies: ['p1', 2, 'p2'], approvals: 'finance' }, trust: { score: '600', tier: 'standard' }, folded_count: '2', flood: 'yes' }),
    })!;
    assert.equal(e.index, 7);
    assert.deepEqual([e.agent, e.action, e.resource], ['', '', '']);
    assert.deepEqual(e.decision, { effect: '', policies: ['p1', 'p2'], policy_version: '', approvals: undefined, approval_id: undefined, breakglass: undefined });
    assert.deepEqual(e.trust, { score: undefined, tier: 'standard' });
    assert.deepEqual([e.folded_count, e.flood], [undefined, undefined]);
    const bare = parseDecisionEntry({ index: 0, bytes: Buffer.from('{"type":"decision"}') })!;
    assert.deepEqual([bare.time, bare.decision.effect, bare.decision.policies, bare.trust], ['', '', [], undefined]);
  });

  it('throws on bytes that name the type but are not JSON', () => {
    assert.throws(() => parseDecisionEntry({ index: 0, bytes: Buffer.from('{"type":"decision",') }), SyntaxError);
  });
});
