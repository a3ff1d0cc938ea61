import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { ExplainResponse__Output } from '../../src/gen/secretbroker/v1/ExplainResponse';
import { makeTestPki, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { startInvokeBroker } from '../helpers/invoke-broker';
import { expectDenied } from '../helpers/expect-denial';
import { expectDeny } from '../helpers/expect-denial';

/**
 * The decision step's re-decision of a lease (what re-evaluation after a
 * trust drop calls) and its Explain, over the real daemon: the lease's stored
 * inputs, the current trust and policy, its own budget reservation left out.
 */
describe('the decision step: re-evaluation and Explain follow current trust', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let close: () => Promise<void>;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const started = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      actions: (http) => ({
        'refund.capped': {
          http: http({ methods: ['POST'], paths: ['/v1/refunds'], context: { amount: 'body.amount' } }),
          resource: 'payments',
          max_uses: 5,
          budget: { field: 'amount', per: '24h', limit: 50_000 },
        },
      }),
      policies: {
        'capped.cedar': `@id("refund-capped") @reason("test") permit (principal in Group::"support", action == Action::"refund.capped", resource)
          when { context.budget.amount.used + context.amount <= 50000 };`,
      },
    });
    broker = started.broker;
    close = started.close;
  });
  after(async () => {
    await close?.();
    tmp?.cleanup();
  });

  const agent = () => broker.clientFor('agents', 'support-bot').agent;
  const setScore = (score: number) => broker.app.store.setTrust({ agent: 'support-bot', score, updatedAt: Date.now() });

  it('re-decides a lease with its stored inputs: permitted while trust holds, denied once the tier drops', async () => {
    const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'tickets.update', params: { fields: { ticket: { stringValue: 'T-7' } } } });
    assert.equal(r.status, 'GRANTED');
    const lease = (await broker.app.store.getLease(r.lease!.leaseId))!;
    const agentConfig = broker.config.agents['support-bot']!;
    const before = await broker.app.leases.redecide('reevaluate', agentConfig, lease);
    assert.equal(before.verdict, 'allow');
    assert.equal(before.trust.tier, 'standard');
    await setScore(150); // quarantined
    try {
      const after = await broker.app.leases.redecide('reevaluate', agentConfig, lease);
      expectDeny(after);
      assert.equal(after.trust.tier, 'quarantined');
      assert.equal(after.draft['type'], 'decision');
      assert.deepEqual(after.draft['trust'], { score: 150, tier: 'quarantined' });
      // Explain agrees, as the auditor sees it.
      const e = await call<unknown, ExplainResponse__Output>(broker.clientFor('operators', 'carol').operator, 'Explain', {
        agent: 'support-bot',
        action: 'tickets.update',
        params: { fields: { ticket: { stringValue: 'T-7' } } },
      });
      expectDenied(e);
      assert.equal(e.explanation!.trust!.tier, 'quarantined');
    } finally {
      await setScore(600);
    }
  });

  it('a lease\'s re-decision leaves its own budget reservation out of context.budget.<field>.used', async () => {
    // 10000 x 5 = 50000: the whole budget. A re-decision that counted it would see 50000 + 10000 > 50000.
    const r = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'refund.capped', params: { fields: { amount: { numberValue: 10_000 } } }, maxUses: 5 });
    assert.equal(r.status, 'GRANTED');
    const lease = (await broker.app.store.getLease(r.lease!.leaseId))!;
    const step = await broker.app.leases.redecide('reevaluate', broker.config.agents['support-bot']!, lease);
    assert.equal(step.budget!.used, 0);
    assert.equal(step.verdict, 'allow');
    // A new request sees the lease's reservation and is denied by the policy.
    const again = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'refund.capped', params: { fields: { amount: { numberValue: 1 } } }, maxUses: 1 });
    expectDenied(again);
    assert.match(again.explanation!.summary, /no policy permits refund\.capped/);
  });
});
