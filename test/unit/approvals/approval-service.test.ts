import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { ApprovalService, MAX_OPEN_APPROVALS_PER_AGENT, type ApprovalBinding } from '../../../src/approvals/approval-service';
import { bindingDifferences, bindingHash } from '../../../src/approvals/approval-binding';
import type { AgentConfig, ApprovalGroupConfig, OperatorConfig } from '../../../src/config/config-types';
import { DEFAULT_LIMITS } from '../../../src/config/compile';
import type { Ledger } from '../../../src/evidence/ledger/ledger';
import { openEvidence } from '../../../src/evidence/ledger/wire';
import { ManualClock } from '../../../src/lib/clock';
import { BrokerError } from '../../../src/lib/errors';
import { IdSource } from '../../../src/lib/ids';
import { createLogger } from '../../../src/lib/logger';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { readEntries } from '../../helpers/evidence-entries';
import { expectRefusalError } from '../../helpers/expect-denial';
import { LogCapture, tempDir } from '../../helpers/broker-harness';

const agent = (name: string, owner?: string): AgentConfig => ({ name, id: `spiffe://example.org/agent/${name}`, groups: ['support'], ...(owner ? { owner } : {}), limits: DEFAULT_LIMITS });
const operator = (name: string): OperatorConfig => ({ name, id: `spiffe://example.org/human/${name}`, roles: ['approver'] });
const group = (name: string, approvers: string[], required = 1, expiresMs = 900_000): ApprovalGroupConfig => ({ name, approvers, required, expiresMs });

const SUPPORT = agent('support-bot', 'alice');
const OTHER = agent('analyst-bot', 'alice');
const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map(operator) as [OperatorConfig, OperatorConfig, OperatorConfig, OperatorConfig];
const TRUST = { score: 650, tier: 'standard', fresh: true };

function binding(over: Partial<ApprovalBinding> = {}): ApprovalBinding {
  return {
    agent: 'support-bot',
    action: 'billing.refund',
    resource: 'stripe',
    params: { amount: 50000, order: 'A-1' },
    purpose: 'refund order A-1',
    ttl_seconds: 300,
    max_uses: 1,
    rule: 'billing-refund-approved',
    policy_version: 'sha256:v1',
    ...over,
  };
}

/** An approval entry as the test reads it. */
interface Entry {
  type: string;
  agent: string;
  approval: Record<string, unknown> & { id: string; state: string; approvals: Record<string, number> };
  vote: { approver: string; approve: boolean; reason?: string; decision_time_ms: number };
  trust: unknown;
  by?: string;
  reason?: string;
  cause?: unknown;
}

/** The BrokerError a promise rejects with (fails the test if it resolves). */
async function refusal(p: Promise<unknown>): Promise<BrokerError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BrokerError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
}

describe('approvals: the service against a real SQLite store and evidence log', function () {
  this.timeout(20_000);
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let ledger: Ledger;
  let clock: ManualClock;
  let approvals: ApprovalService;
  let from: number;
  const log = createLogger({ level: 'silent', destination: new LogCapture() });

  const build = (groups: Record<string, ApprovalGroupConfig>): ApprovalService =>
    new ApprovalService({ config: { approvals: groups, agents: { 'support-bot': SUPPORT, 'analyst-bot': OTHER } }, store, clock, ids: new IdSource(), evidence: ledger, log, intervalMs: 20 });

  beforeEach(async () => {
    tmp = tempDir('sb-approvals-');
    store = new SqliteStore({ path: path.join(tmp.dir, 'b.db') });
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    ledger = await openEvidence({
      config: { devMode: true, evidence: { origin: 'test.example/approvals', signingKey: path.join(tmp.dir, 'evidence.key'), keyOverlapMs: 0, witnesses: [] } },
      store,
      clock,
      log,
    });
    approvals = build({ finance: group('finance', ['alice', 'bob', 'carol']), legal: group('legal', ['dave']) });
    from = ledger.size;
  });
  afterEach(async () => {
    await approvals.stop();
    await ledger.close();
    await store.close();
    tmp.cleanup();
  });

  const entries = async (type: string): Promise<Entry[]> => (await readEntries<Entry>(ledger, from)).filter((e) => e.type === type);

  it('opens a pending approval with 144 random bits, records approval.requested, and gives a repeated request the same one', async () => {
    const { id, expiresAt } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    assert.match(id, /^apr_[A-Za-z0-9_-]{24}$/);
    assert.equal(expiresAt, clock.now() + 900_000);
    const again = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    assert.equal(again.id, id);
    const other = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ params: { amount: 40000, order: 'A-1' } }), trust: TRUST }, log);
    assert.notEqual(other.id, id);
    const requested = await entries('approval.requested');
    assert.equal(requested.length, 2);
    assert.deepEqual(requested[0]!.approval, {
      id,
      groups: ['finance'],
      required: { finance: 1 },
      expires_at: new Date(expiresAt).toISOString(),
      binding_hash: bindingHash(binding()),
      rule: 'billing-refund-approved',
      policy_version: 'sha256:v1',
      ttl_seconds: 300,
      max_uses: 1,
    });
    assert.deepEqual(requested[0]!.trust, TRUST);
    assert.equal(requested[0]!.agent, 'support-bot');
    // Params and purpose are the agent's text: the entry carries their hash, not them.
    assert.ok(!JSON.stringify(requested[0]).includes('refund order A-1'));
  });

  it('four eyes: the agent\'s owner is refused even though an approver; another approver approves', async () => {
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    await expectRefusalError(approvals.decide(alice, id, true, 'looks fine', log), /alice owns the agent support-bot and may not decide its requests \(four eyes\)/);
    // A denial by the owner is refused too: the owner takes no part.
    await expectRefusalError(approvals.decide(alice, id, false, 'no', log), /alice owns the agent support-bot and may not decide its requests \(four eyes\)/);
    assert.equal((await approvals.get(bob, id)).state, 'pending');
    const v = await approvals.decide(bob, id, true, 'customer is owed it', log);
    assert.equal(v.state, 'approved');
    assert.deepEqual(v.progress, [{ group: 'finance', required: 1, approvals: 1 }]);
    await approvals.check('support-bot', id, binding());
  });

  it('required: 2 needs two distinct approvers: the same approver twice counts once', async () => {
    approvals = build({ finance: group('finance', ['alice', 'bob', 'carol'], 2) });
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    clock.advance(30_000);
    assert.equal((await approvals.decide(bob, id, true, 'ok', log)).state, 'pending');
    const twice = await refusal(approvals.decide(bob, id, true, 'ok again', log));
    assert.equal(twice.kind, 'failed_precondition');
    assert.match(twice.message, /bob has already voted.*needs 1 in finance from other approvers/);
    assert.equal((await approvals.get(bob, id)).state, 'pending');
    assert.equal((await refusal(approvals.check('support-bot', id, binding()))).kind, 'failed_precondition', 'not redeemable while pending');
    clock.advance(15_000);
    const v = await approvals.decide(carol, id, true, 'second pair of eyes', log);
    assert.equal(v.state, 'approved');
    assert.deepEqual(v.record.votes.map((x) => x.approver), ['bob', 'carol']);
    const decided = await entries('approval.decided');
    assert.deepEqual(
      decided.map((d) => [d.vote.approver, d.vote.decision_time_ms, d.approval.state, d.approval.approvals]),
      [
        ['bob', 30_000, 'pending', { finance: 1 }],
        ['carol', 45_000, 'approved', { finance: 2 }],
      ],
    );
  });

  it('an approver who approved may withdraw it with a deny, pending or approved, until it is spent; a second approve is refused with what is still needed', async () => {
    approvals = build({ finance: group('finance', ['alice', 'bob', 'carol'], 2) });
    // Pending: bob approved, then withdraws.
    const first = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    await approvals.decide(bob, first.id, true, 'ok', log);
    assert.match((await refusal(approvals.decide(bob, first.id, true, 'ok again', log))).message, /bob has already voted.*needs 1 in finance from other approvers/);
    assert.equal((await approvals.decide(bob, first.id, false, 'approved the wrong one', log)).state, 'rejected');
    // Approved: bob and carol approved; bob withdraws before the agent redeems it.
    const second = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ params: { amount: 7, order: 'A-2' } }), trust: TRUST }, log);
    await approvals.decide(bob, second.id, true, 'ok', log);
    assert.equal((await approvals.decide(carol, second.id, true, 'ok', log)).state, 'approved');
    assert.match((await refusal(approvals.decide(bob, second.id, true, 'ok again', log))).message, /already approved/);
    const withdrawn = await approvals.decide(bob, second.id, false, 'customer withdrew the claim', log);
    assert.equal(withdrawn.state, 'rejected');
    assert.deepEqual(withdrawn.record.votes.map((v) => [v.approver, v.approve]), [['bob', true], ['carol', true], ['bob', false]]);
    assert.match((await refusal(approvals.check('support-bot', second.id, binding({ params: { amount: 7, order: 'A-2' } })))).message, /was rejected/);
    const last = (await entries('approval.decided')).at(-1)!;
    assert.deepEqual([last.vote.approver, last.vote.approve, last.approval.state], ['bob', false, 'rejected']);
  });

  it('any one deny rejects, and a decided approval cannot be decided again', async () => {
    approvals = build({ finance: group('finance', ['alice', 'bob', 'carol'], 2) });
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    await approvals.decide(bob, id, true, 'ok', log);
    const v = await approvals.decide(carol, id, false, 'amount is wrong', log);
    assert.equal(v.state, 'rejected');
    const again = await refusal(approvals.decide(carol, id, true, 'changed my mind', log));
    assert.match(again.message, /already rejected/);
    assert.match((await refusal(approvals.check('support-bot', id, binding()))).message, /was rejected/);
    const last = (await entries('approval.decided')).at(-1)!;
    assert.deepEqual(last.vote, { approver: 'carol', approve: false, reason: 'amount is wrong', decision_time_ms: 0 });
    assert.equal(last.approval.state, 'rejected');
  });

  it('an approver of another group is refused; so is a vote without a reason', async () => {
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    await expectRefusalError(approvals.decide(dave, id, true, 'ok', log), /dave is not an approver of "finance"/);
    await expectRefusalError(approvals.get(dave, id), /dave is not an approver of "finance"/);
    assert.deepEqual(await approvals.list(dave, {}), []);
    await expectRefusalError(approvals.list(dave, { group: 'finance' }), /dave is not an approver of the group "finance"/);
    assert.equal((await approvals.list(bob, {})).length, 1);
    const blank = await refusal(approvals.decide(bob, id, true, '  ', log));
    assert.equal(blank.kind, 'invalid_argument');
    assert.match(blank.message, /^reason: required/);
    assert.equal((await refusal(approvals.decide(bob, 'apr_nope', true, 'ok', log))).kind, 'not_found');
  });

  it('two groups: each must reach its required count, from approvers of that group', async () => {
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance', 'legal'], binding: binding(), trust: TRUST }, log);
    assert.equal((await approvals.decide(bob, id, true, 'ok', log)).state, 'pending');
    const v = await approvals.decide(dave, id, true, 'ok', log);
    assert.equal(v.state, 'approved');
    assert.deepEqual(v.progress, [
      { group: 'finance', required: 1, approvals: 1 },
      { group: 'legal', required: 1, approvals: 1 },
    ]);
  });

  it('binding: each differing part is named, a mismatch does not consume, and the approved request redeems', async () => {
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    await approvals.decide(bob, id, true, 'ok', log);
    const cases: Array<[Partial<ApprovalBinding>, string]> = [
      [{ params: { amount: 60000, order: 'A-1' } }, 'params.amount'],
      [{ params: { amount: 50000 } }, 'params.order'],
      [{ params: { amount: 50000, order: 'A-1', extra: null } }, 'params.extra'],
      [{ action: 'billing.charge' }, 'action'],
      [{ resource: 'paypal' }, 'resource'],
      [{ purpose: 'something else' }, 'purpose'],
      [{ ttl_seconds: 600 }, 'ttl_seconds'],
      [{ max_uses: 2 }, 'max_uses'],
      [{ rule: 'billing-refund-small' }, 'rule'],
      [{ policy_version: 'sha256:v2' }, 'policy_version'],
      [{ ttl_seconds: 600, params: { amount: 1, order: 'A-1' } }, 'params.amount, ttl_seconds'],
    ];
    for (const [over, named] of cases) {
      const e = await refusal(approvals.check('support-bot', id, binding(over)));
      assert.equal(e.kind, 'failed_precondition', named);
      assert.ok(e.message.startsWith(`the approval does not cover this request: ${named} differ`), `${named}: ${e.message}`);
    }
    assert.deepEqual(bindingDifferences(binding(), binding({ params: { amount: 50000, order: 'A-1', 'odd key\u001b': 1 } })), ['params["odd key\\u001b"]']);
    // None of those consumed it: the approved request still redeems, once.
    await approvals.check('support-bot', id, binding());
    assert.equal((await store.getApproval(id))!.state, 'approved');
  });

  it('consumes once under 20 concurrent redemptions through the real store statement in the evidence transaction', async () => {
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    await approvals.decide(bob, id, true, 'ok', log);
    const now = clock.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        await approvals.check('support-bot', id, binding());
        return ledger.appendWith(
          () => (store.statements.consumeApproval(id, `lease_${i}`, now) ? `lease_${i}` : undefined),
          (leaseId) => [{ type: 'lease.issued', agent: 'support-bot', lease: { id: leaseId } }],
        );
      }),
    );
    const won = results.filter((r) => r !== undefined);
    assert.equal(won.length, 1);
    const after = (await store.getApproval(id))!;
    assert.equal(after.state, 'consumed');
    assert.equal(after.leaseId, won[0]!.value);
    assert.equal((await entries('lease.issued')).length, 1, 'one lease entry: the losers appended nothing');
    assert.match((await refusal(approvals.check('support-bot', id, binding()))).message, /already been used/);
  });

  it('another agent gets NOT_FOUND for an approval id, whatever its state', async () => {
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    await approvals.decide(bob, id, true, 'ok', log);
    for (const p of [approvals.check('analyst-bot', id, binding({ agent: 'analyst-bot' })), approvals.ownApproval('analyst-bot', id), approvals.watch('analyst-bot', id, () => assert.fail('sent'), new AbortController().signal)]) {
      const e = await refusal(p);
      assert.equal(e.kind, 'not_found');
      assert.equal(e.message, 'approval not found');
    }
  });

  it('expires with the fake clock: expired means denied, the expiry is recorded once, and no vote is taken after', async () => {
    approvals = build({ finance: group('finance', ['alice', 'bob', 'carol'], 1, 60_000) });
    const pending = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    const approved = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ purpose: 'second' }), trust: TRUST }, log);
    await approvals.decide(bob, approved.id, true, 'ok', log);
    clock.advance(59_999);
    await approvals.check('support-bot', approved.id, binding({ purpose: 'second' }));
    clock.advance(1);
    assert.match((await refusal(approvals.check('support-bot', approved.id, binding({ purpose: 'second' })))).message, /has expired/);
    assert.equal((await store.getApproval(approved.id))!.state, 'expired', 'recorded when the redemption noticed it');
    assert.match((await refusal(approvals.decide(carol, pending.id, true, 'ok', log))).message, /has expired/);
    assert.equal(store.statements.consumeApproval(approved.id, 'lease_x', clock.now()), false);
    assert.equal(await approvals.expireDue(), 0, 'both expiries were already recorded');
    const expired = (await entries('approval.decided')).filter((d) => d.approval.state === 'expired');
    assert.deepEqual(expired.map((d) => d.approval.id).sort(), [pending.id, approved.id].sort());
    assert.ok(expired.every((d) => d.by === 'broker' && d.reason === 'expired'));
    assert.equal((await approvals.get(bob, pending.id)).state, 'expired');
  });

  it('WatchApproval: the state now, then each change, ending once decided; and on expiry', async () => {
    approvals = build({ finance: group('finance', ['alice', 'bob', 'carol'], 2, 60_000) });
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    const seen: string[] = [];
    const watching = approvals.watch('support-bot', id, (v) => seen.push(`${v.state}:${v.progress[0]!.approvals}`), new AbortController().signal);
    await approvals.decide(bob, id, true, 'ok', log);
    await approvals.decide(carol, id, true, 'ok', log);
    await watching;
    assert.deepEqual(seen, ['pending:0', 'pending:1', 'approved:2']);

    const second = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ purpose: 'two' }), trust: TRUST }, log);
    const states: string[] = [];
    const w2 = approvals.watch('support-bot', second.id, (v) => states.push(v.state), new AbortController().signal);
    while (states.length === 0) await new Promise((r) => setTimeout(r, 5));
    clock.advance(60_000);
    await w2; // the sweep (every 20 ms here) records the expiry and ends the stream
    assert.deepEqual(states, ['pending', 'expired']);
  });

  it('a watch ends when its caller goes away or the service stops', async () => {
    const { id } = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    const ac = new AbortController();
    const w = approvals.watch('support-bot', id, () => undefined, ac.signal);
    await new Promise((r) => setTimeout(r, 20));
    ac.abort();
    await w;
    const w2 = approvals.watch('support-bot', id, () => undefined, new AbortController().signal);
    await new Promise((r) => setTimeout(r, 20));
    await approvals.stop();
    await w2;
  });

  it('recheckForAgent rejects the open approvals the current policy no longer permits, naming the cause', async () => {
    const keep = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ params: { amount: 100, order: 'A-1' } }), trust: TRUST }, log);
    const drop = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding(), trust: TRUST }, log);
    const approvedDrop = await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ purpose: 'x' }), trust: TRUST }, log);
    await approvals.decide(bob, approvedDrop.id, true, 'ok', log);
    const n = await approvals.recheckForAgent('support-bot', (b) => {
      if (b.purpose === 'x') throw new Error('engine broke'); // an error is a no
      return (b.params['amount'] as number) < 1000;
    }, log, { type: 'trust.changed', index: 7 });
    assert.equal(n, 2);
    assert.equal((await store.getApproval(keep.id))!.state, 'pending');
    assert.equal((await store.getApproval(drop.id))!.state, 'rejected');
    assert.equal((await store.getApproval(approvedDrop.id))!.state, 'rejected');
    const byBroker = (await entries('approval.decided')).filter((d) => d.by === 'broker');
    assert.equal(byBroker.length, 2);
    assert.deepEqual(byBroker[0]!.cause, { type: 'trust.changed', index: 7 });
    assert.equal(await approvals.recheckForAgent('support-bot', () => false, log), 1, 'only the one still open');
  });

  it('a group named like an Object.prototype member is not configured: open refuses (a denial), nothing is stored or recorded', async () => {
    for (const g of ['toString', 'constructor']) {
      const e = await refusal(approvals.open({ agent: SUPPORT, groups: [g], binding: binding({ purpose: g }), trust: TRUST }, log));
      assert.equal(e.kind, 'internal');
      assert.match(e.message, /approval group not configured/);
    }
    assert.deepEqual(await store.listApprovals({ agent: 'support-bot', limit: 10 }), []);
    assert.deepEqual(await entries('approval.requested'), []);
  });

  it('bounds the open approvals of one agent', async () => {
    for (let i = 0; i < MAX_OPEN_APPROVALS_PER_AGENT; i++) await approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ purpose: `p${i}` }), trust: TRUST }, log);
    const e = await refusal(approvals.open({ agent: SUPPORT, groups: ['finance'], binding: binding({ purpose: 'one more' }), trust: TRUST }, log));
    assert.equal(e.kind, 'resource_exhausted');
    await approvals.open({ agent: OTHER, groups: ['finance'], binding: binding({ agent: 'analyst-bot' }), trust: TRUST }, log);
  });
});
