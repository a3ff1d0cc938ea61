import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { InvokeHooks } from '../../src/broker/invoke-service';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { ManualClock } from '../../src/lib/clock';
import { makeTestPki, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { Barrier, startInvokeBroker } from '../helpers/invoke-broker';
import type { HttpsUpstream } from '../helpers/https-upstream';
import { expectDeniedCall } from '../helpers/expect-denial';
import { readEntries } from '../helpers/evidence-entries';

/**
 * RequestLease with an approval obligation (the dev policy billing-refund-approved:
 * up to 500.00 with a finance approver), over the real daemon: PENDING_APPROVAL
 * with an id, redemption checked against the exact binding, consumed once in the
 * grant's transaction, and the lease it granted honoured at its Invoke.
 */
describe('approvals in the decision step: PENDING_APPROVAL, redemption, consumed once', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let upstream: HttpsUpstream;
  let close: () => Promise<void>;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const hooks: InvokeHooks = {};

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const started = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      clock,
      hooks,
      actions: (http) => ({
        'billing.refund': { http: http({ methods: ['POST'], paths: ['/v1/refunds'], context: { amount: 'body.amount' } }), resource: 'stripe', max_uses: 1 },
      }),
    });
    broker = started.broker;
    upstream = started.upstream;
    close = started.close;
  });
  after(async () => {
    await close?.();
    tmp?.cleanup();
  });

  const agent = () => broker.clientFor('agents', 'support-bot').agent;
  // bob is a finance approver and not support-bot's owner (the real approvals service decides).
  const approve = (approvalId: string) => call<unknown, { state: string }>(broker.clientFor('operators', 'bob').operator, 'DecideApproval', { approvalId, approve: true, reason: 'checked the ticket' });
  const stored = async (id: string) => (await broker.app.store.getApproval(id))!;
  const request = (amount: number, approvalId = '') =>
    call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'billing.refund', purpose: 'ticket T-9', params: { fields: { amount: { numberValue: amount } } }, approvalId });
  const refund = (req: { leaseId?: string; action?: string }, amount: number) =>
    call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { ...req, method: 'POST', path: '/v1/refunds', body: Buffer.from(JSON.stringify({ amount })), headers: [{ name: 'content-type', value: 'application/json' }] });

  it('answers PENDING_APPROVAL with an id bound to exactly the request; redeeming anything else is refused, one redeem of 20 wins', async () => {
    const pending = await request(50_000);
    assert.equal(pending.status, 'PENDING_APPROVAL');
    assert.ok(pending.approvalId, 'an approval id');
    assert.ok(pending.evidence, 'the decision is recorded');
    assert.equal(pending.explanation!.decision, 'allow_with_obligations');
    const opened = await stored(pending.approvalId);
    const version = broker.app.policy.version;
    // The binding carries the effective TTL and uses the lease would get, the permit that asked, and the policy version.
    assert.deepEqual(opened.binding, {
      agent: 'support-bot',
      action: 'billing.refund',
      resource: 'stripe',
      params: { amount: 50_000 },
      purpose: 'ticket T-9',
      ttl_seconds: 300,
      max_uses: 1,
      rule: 'billing-refund-approved',
      policy_version: version,
    });
    assert.deepEqual(opened.groups, ['finance']);

    // Not approved yet: refused, nothing granted.
    await expectCode(request(50_000, pending.approvalId), grpc.status.FAILED_PRECONDITION, /pending/);
    assert.equal((await approve(pending.approvalId)).state, 'APPROVED');
    // Approved, but for a different amount: refused naming what differs, and not consumed.
    await expectCode(request(40_000, pending.approvalId), grpc.status.FAILED_PRECONDITION, /params\.amount/);
    assert.equal((await stored(pending.approvalId)).state, 'approved');
    // 20 concurrent redeems, all past the check before any grant: exactly one lease.
    const barrier = new Barrier(20);
    hooks.beforeGrant = barrier.wait;
    const all = await Promise.allSettled(Array.from({ length: 20 }, () => request(50_000, pending.approvalId))).finally(() => delete hooks.beforeGrant);
    assert.ok(barrier.full, 'all 20 passed the check');
    const granted = all.filter((r): r is PromiseFulfilledResult<LeaseResponse__Output> => r.status === 'fulfilled' && r.value.status === 'GRANTED');
    const refused = all.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(granted.length, 1, 'one lease');
    assert.equal(refused.length, 19);
    for (const r of refused) assert.match((r.reason as grpc.ServiceError).details, /already used or has expired/);
    const lease = granted[0]!.value.lease!;
    const spent = await stored(pending.approvalId);
    assert.deepEqual([spent.state, spent.leaseId], ['consumed', lease.leaseId]);
    assert.equal((await broker.app.store.getLease(lease.leaseId))!.approvalId, pending.approvalId);
    assert.equal((await broker.app.store.listLeases({ agent: 'support-bot', action: 'billing.refund', limit: 100 })).length, 1, 'no other lease was stored');

    // The lease it granted is honoured at its Invoke (the approval obligation is met), once.
    const sent = upstream.requests.length;
    assert.equal((await refund({ leaseId: lease.leaseId }, 50_000)).statusCode, 200);
    assert.equal(upstream.requests.length, sent + 1, 'exactly one brokered refund');
    await expectCode(refund({ leaseId: lease.leaseId }, 50_000), grpc.status.FAILED_PRECONDITION, /exhausted/);
    // And a consumed approval cannot be redeemed again.
    await expectCode(request(50_000, pending.approvalId), grpc.status.FAILED_PRECONDITION, /already (been )?used/);
  });

  it('asking again and again while it waits writes bounded evidence: one decision entry for identical requests, the rest folded', async () => {
    const mark = broker.app.ledger!.size;
    const all = await Promise.all(Array.from({ length: 20 }, () => request(40_000)));
    assert.deepEqual([...new Set(all.map((r) => r.status))], ["PENDING_APPROVAL"]);
    assert.equal(new Set(all.map((r) => r.approvalId)).size, 1, 'one approval for the same request');
    const decisions = (await readEntries<{ type: string }>(broker.app.ledger!, mark)).filter((e) => e.type === 'decision');
    assert.equal(decisions.length, 1, `${decisions.length} decision entries for 20 identical requests`);
  });

  it('an expired approval is refused (fake clock)', async () => {
    const pending = await request(30_000);
    await approve(pending.approvalId);
    clock.advance(15 * 60_000);
    const expired = await expectDeniedCall(request(30_000, pending.approvalId), { code: grpc.status.FAILED_PRECONDITION, hint: /repeat the request without approval_id to ask group finance again/ });
    assert.match(expired.err.details, /expired/);
    assert.deepEqual(expired.explanation['approval'], { groups: ['finance'], rule: 'billing-refund-approved', missing: [], approval_id: pending.approvalId });
  });

  it('a one-shot Invoke that needs an approval is denied (it cannot wait for a person)', async () => {
    const sent = upstream.requests.length;
    const { err, explanation } = await expectDeniedCall(refund({ action: 'billing.refund' }, 30_000), { hint: /approval from finance/, decision: 'allow_with_obligations' });
    assert.match(String(err.metadata.get('secretbroker-explanation')[0]), /approval:finance/);
    // The explanation names the group and the votes still missing.
    assert.deepEqual(explanation['approval'], { groups: ['finance'], rule: 'billing-refund-approved', missing: [{ group: 'finance', votes: 1 }] });
    assert.equal(upstream.requests.length, sent);
  });

  it('what needs no approval is granted outright, as before', async () => {
    const r = await request(5_000);
    assert.equal(r.status, 'GRANTED');
    assert.equal(r.approvalId, '');
  });
});
