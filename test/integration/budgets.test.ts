import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { ManualClock } from '../../src/lib/clock';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { makeTestPki, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { Barrier, startInvokeBroker } from '../helpers/invoke-broker';
import type { InvokeHooks } from '../../src/broker/invoke-service';
import type { HttpsUpstream } from '../helpers/https-upstream';
import { expectDenied, isDenied } from '../helpers/expect-denial';
import { expectDeniedCall } from '../helpers/expect-denial';

const HOUR = 3_600_000;
const LIMIT = 100_000;

/**
 * Budgets (actions.<a>.budget) over the real daemon, real mTLS and a real
 * HTTPS upstream, with a fake clock: the broker's own limit is checked
 * atomically with the grant, reservations are released when a lease ends,
 * the window slides, policy sees context.budget.<field>.used, and a one-shot
 * Invoke reserves its amount.
 */
describe('budgets: amount x uses reserved with the grant, over the real daemon', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let upstream: HttpsUpstream;
  let close: () => Promise<void>;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  // The race test holds every grant after its decision until all 20 have been decided.
  const hooks: InvokeHooks = {};

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const started = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      clock,
      hooks,
      // The reaper runs when the test says (reaper.tick()), not on its own.
      reaperIntervalMs: 3_600_000,
      actions: (http) => ({
        // The broker's own limit: 1,000.00 per 24h.
        'refund.capped': {
          http: http({ methods: ['POST'], paths: ['/v1/refunds'], context: { amount: 'body.amount' } }),
          resource: 'payments',
          max_uses: 5,
          max_ttl: '48h',
          budget: { field: 'amount', per: '24h', limit: LIMIT },
        },
        // No limit of its own: policy alone reads the sum, over 1h.
        'refund.policy': {
          http: http({ methods: ['POST'], paths: ['/v1/refunds'], context: { amount: 'body.amount' } }),
          resource: 'payments',
          budget: { field: 'amount', per: '1h' },
        },
      }),
      policies: {
        'budgets.cedar': `
          @id("refund-capped") @reason("test") permit (principal in Group::"support", action == Action::"refund.capped", resource) when { context.amount <= 50000 };
          @id("refund-policy-budget") @reason("at most 300.00 an hour") @requires("used + amount <= 30000")
          permit (principal in Group::"support", action == Action::"refund.policy", resource) when { context.budget.amount.used + context.amount <= 30000 };`,
      },
    });
    broker = started.broker;
    upstream = started.upstream;
    close = started.close;
  });
  after(async () => {
    await close?.();
    tmp?.cleanup();
  });
  // Each test starts in a window of its own: earlier leases have expired (the reaper marked them) and slid out.
  beforeEach(async () => {
    clock.advance(25 * HOUR);
    await broker.app.reaper.tick();
    assert.equal(await used('refund.capped'), 0);
  });

  const agent = () => broker.clientFor('agents', 'support-bot').agent;
  const request = (action: string, amount: number, uses: number, ttlSeconds = 3600) =>
    call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action, params: { fields: { amount: { numberValue: amount } } }, maxUses: uses, ttlSeconds });
  const refund = (req: { leaseId?: string; action?: string }, amount: number) =>
    call<unknown, InvokeResponse__Output>(agent(), 'Invoke', {
      ...req,
      method: 'POST',
      path: '/v1/refunds',
      body: Buffer.from(JSON.stringify({ amount })),
      headers: [{ name: 'content-type', value: 'application/json' }],
    });
  const used = (action: string) =>
    broker.app.store.budgetUsed({ agent: 'support-bot', action, field: 'amount', since: clock.now() - (action === 'refund.policy' ? HOUR : 24 * HOUR) });
  const reservation = (leaseId: string) =>
    (broker.app.store as SqliteStore).db.prepare('SELECT amount, uses, reserved, spent, released_at FROM budget_reservations WHERE lease_id = ?').get(leaseId) as
      | { amount: number; uses: number; reserved: number; spent: number; released_at: number | null }
      | undefined;

  it('20 concurrent RequestLeases that each fit alone but not together never pass the limit: exactly 10 granted', async () => {
    const before = broker.logs.text.length;
    const barrier = new Barrier(20);
    hooks.beforeGrant = barrier.wait;
    const all = await Promise.all(Array.from({ length: 20 }, () => request('refund.capped', 10_000, 1))).finally(() => delete hooks.beforeGrant);
    assert.ok(barrier.full, 'all 20 were decided (each fit alone) before any was granted');
    const granted = all.filter((r) => r.status === 'GRANTED');
    const denied = all.filter(isDenied);
    assert.equal(granted.length, 10, 'exactly as many as fit');
    assert.equal(denied.length, 10);
    assert.equal(await used('refund.capped'), LIMIT, 'the reservations add up to the limit, never more');
    for (const g of granted) assert.deepEqual({ ...reservation(g.lease!.leaseId) }, { amount: 10_000, uses: 1, reserved: 10_000, spent: 0, released_at: null });
    for (const d of denied) {
      // The denial names the budget: what was used and the limit.
      assert.match(d.explanation!.summary, /over budget: refund\.capped amount would pass its limit of 100000 per 24h for support-bot \(used \d+, this request holds 10000\)/);
      assert.match(d.explanation!.hint, /Ask for at most \d+/);
      // Used and limit, as fields too.
      assert.deepEqual({ ...d.explanation!.budget!, used: undefined }, { field: 'amount', used: undefined, limit: '100000', hasLimit: true, per: '24h', requested: '10000' });
    }
    // The race was real: all 20 passed the decision; 10 were refused in the grant's own transaction.
    assert.equal(broker.logs.text.slice(before).match(/lease denied: over budget/g)?.length, 10, 'the atomic re-check refused the losers');
  });

  it('releases the unused uses\' share when a lease is revoked, expires or is exhausted', async () => {
    const a = await request('refund.capped', 10_000, 5);
    const b = await request('refund.capped', 10_000, 5);
    assert.equal(a.status, 'GRANTED');
    assert.equal(b.status, 'GRANTED');
    assert.equal(await used('refund.capped'), 100_000);
    const over = await request('refund.capped', 10_000, 1);
    expectDenied(over);
    assert.match(over.explanation!.summary, /used 100000/);

    // Revoke after one use: 10000 spent, 40000 released.
    await refund({ leaseId: a.lease!.leaseId }, 10_000);
    await call(agent(), 'RevokeLease', { leaseId: a.lease!.leaseId });
    assert.deepEqual({ ...reservation(a.lease!.leaseId) }, { amount: 10_000, uses: 5, reserved: 50_000, spent: 10_000, released_at: clock.now() });
    assert.equal(await used('refund.capped'), 60_000);

    // Expiry (fake clock, the reaper): none used, all 50000 released.
    clock.advance(HOUR + 1);
    await broker.app.reaper.tick();
    assert.equal(reservation(b.lease!.leaseId)!.spent, 0);
    assert.notEqual(reservation(b.lease!.leaseId)!.released_at, null);
    assert.equal(await used('refund.capped'), 10_000);

    // Exhaustion: every use spent, nothing left to release; the lease's whole reservation counts.
    const c = await request('refund.capped', 20_000, 2);
    assert.equal(c.status, 'GRANTED');
    await refund({ leaseId: c.lease!.leaseId }, 20_000);
    await refund({ leaseId: c.lease!.leaseId }, 20_000);
    assert.deepEqual({ ...reservation(c.lease!.leaseId) }, { amount: 20_000, uses: 2, reserved: 40_000, spent: 40_000, released_at: clock.now() });
    assert.equal(await used('refund.capped'), 50_000);
    // What was released can be granted again: 50000 more fits exactly, then nothing.
    assert.equal((await request('refund.capped', 10_000, 5)).status, 'GRANTED');
    expectDenied(await request('refund.capped', 1, 1));
  });

  it('the window slides: spending older than `per` no longer counts (fake clock)', async () => {
    const spent = await request('refund.capped', 50_000, 2);
    assert.equal(spent.status, 'GRANTED');
    await refund({ leaseId: spent.lease!.leaseId }, 50_000);
    await refund({ leaseId: spent.lease!.leaseId }, 50_000);
    expectDenied(await request('refund.capped', 1, 1));
    clock.advance(12 * HOUR);
    await broker.app.reaper.tick();
    expectDenied(await request('refund.capped', 1, 1)); // what was spent still counts inside the 24h window
    clock.advance(12 * HOUR);
    assert.equal(await used('refund.capped'), 0, 'slid out');
    assert.equal((await request('refund.capped', 50_000, 2)).status, 'GRANTED');
  });

  it('a live lease holds its reservation whatever its age: its unused uses may still be spent', async () => {
    const long = await request('refund.capped', 10_000, 5, 30 * 3600);
    assert.equal(long.status, 'GRANTED');
    clock.advance(25 * HOUR);
    await broker.app.reaper.tick();
    assert.equal(await used('refund.capped'), 50_000, 'granted more than a window ago, still live');
    expectDenied(await request('refund.capped', 50_000, 2));
    // Spending its uses now is possible, and counted.
    await refund({ leaseId: long.lease!.leaseId }, 10_000);
    await call(agent(), 'RevokeLease', { leaseId: long.lease!.leaseId });
    assert.equal(await used('refund.capped'), 10_000, 'what it spent, from its end');
  });

  it('policy sees context.budget.<field>.used (before this request), and a one-shot Invoke reserves its amount', async () => {
    // No broker limit on refund.policy: the policy's own sum decides. Each one-shot call reserves 10000.
    for (let i = 0; i < 3; i++) {
      const r = await refund({ action: 'refund.policy' }, 10_000);
      assert.equal(r.statusCode, 200);
      assert.equal(await used('refund.policy'), 10_000 * (i + 1), 'the one-shot call reserved its amount');
    }
    const sent = upstream.requests.length;
    const { explanation } = await expectDeniedCall(refund({ action: 'refund.policy' }, 10_000));
    assert.match(explanation.summary!, /no policy permits refund\.policy/);
    assert.equal(upstream.requests.length, sent, 'nothing was sent');
    // A smaller amount still fits under the policy's sum (30000 - 30000 = 0 left: none does).
    assert.equal((await request('refund.policy', 0, 1)).status, 'GRANTED', 'used 30000 + 0 <= 30000');
    expectDenied(await request('refund.policy', 1, 1));
    // An hour later the window slid.
    clock.advance(HOUR + 1);
    assert.equal((await refund({ action: 'refund.policy' }, 30_000)).statusCode, 200);
  });

  it('a negative amount is refused before any decision (it would give budget back)', async () => {
    await expectCode(request('refund.capped', -5000, 1), grpc.status.INVALID_ARGUMENT, /params\.amount.*non-negative/);
  });

  it('Explain, RequestLease and Invoke give the same decision for the same inputs', async () => {
    const auditor = broker.clientFor('operators', 'carol').operator;
    const explain = (action: string, amount: number) =>
      call<unknown, { status: string; explanation: { summary: string; decidingPolicies: Array<{ id: string }> } }>(auditor, 'Explain', {
        agent: 'support-bot',
        action,
        params: { fields: { amount: { numberValue: amount } } },
      });
    // Allowed by the policy, within the budget.
    const e1 = await explain('refund.policy', 10_000);
    assert.equal(e1.status, 'GRANTED');
    const r1 = await request('refund.policy', 10_000, 1);
    assert.equal(r1.status, 'GRANTED');
    assert.equal(e1.explanation.summary, r1.explanation!.summary);
    assert.deepEqual(e1.explanation.decidingPolicies.map((p) => p.id), r1.explanation!.decidingPolicies.map((p) => p.id));
    // Explain records and reserves nothing.
    assert.equal(await used('refund.policy'), 10_000);
    // Now 25000 more would pass the policy's 30000: all three deny, with the same explanation.
    const e2 = await explain('refund.policy', 25_000);
    const r2 = await request('refund.policy', 25_000, 1);
    const { explanation: i2x } = await expectDeniedCall(refund({ action: 'refund.policy' }, 25_000));
    expectDenied(e2);
    expectDenied(r2);
    assert.equal(e2.explanation.summary, r2.explanation!.summary);
    assert.equal(i2x.summary, r2.explanation!.summary);
    // The broker's own limit, through Explain too.
    await request('refund.capped', 50_000, 2);
    const e3 = await explain('refund.capped', 10_000);
    const r3 = await request('refund.capped', 10_000, 1);
    expectDenied(e3);
    expectDenied(r3);
    assert.equal(e3.explanation.summary, r3.explanation!.summary);
    assert.match(e3.explanation.summary, /over budget/);
    // An unknown agent is a bad request naming the field.
    await expectCode(call(auditor, 'Explain', { agent: 'nobody', action: 'refund.policy' }), grpc.status.INVALID_ARGUMENT, /agent/);
  });
});
