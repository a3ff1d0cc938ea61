import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import { ManualClock } from '../../src/lib/clock';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectCode } from '../helpers/grpc-expect';
import { expectDenied } from '../helpers/expect-denial';

const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);


function rawConfig(pki: TestPki, dir: string): Record<string, unknown> {
  const raw = baseRawConfig(pki, dir);
  raw['secrets'] = { 'helpdesk-token': { backend: 'local' }, 'stripe-key': { backend: 'local' } };
  (raw['actions'] as Record<string, unknown>)['billing.refund'] = {
    http: {
      base_url: 'https://localhost:1',
      methods: ['POST'],
      paths: ['/v1/refunds'],
      auth: { bearer: 'stripe-key' },
      allow_networks: ['127.0.0.0/8'],
      context: { amount: 'body.amount' },
    },
    resource: 'stripe',
    max_uses: 1,
  };
  (raw['agents'] as Record<string, unknown>)['support-bot'] = {
    id: 'spiffe://example.org/agent/support-bot',
    groups: ['support'],
    limits: { active_leases: 5 },
  };
  return raw;
}

describe('leases over the real daemon and mTLS', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let clock: ManualClock;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(`${tmp.dir}/pki`);
  });
  beforeEach(async () => {
    clock = new ManualClock(T0);
    broker = await startBroker({ pki, dir: `${tmp.dir}/${Math.random().toString(36).slice(2)}`, raw: undefined, clock });
  });
  afterEach(async () => broker?.close());
  after(() => tmp?.cleanup());

  // Each test gets its own state directory (so its own SQLite file).
  async function restartWith(dir: string): Promise<void> {
    await broker.close();
    broker = await startBroker({ pki, dir, raw: rawConfig(pki, dir), clock });
  }

  const ticketLease = (c = broker.clientFor('agents', 'support-bot'), ticket = 'T-1', ttl = 300) =>
    call<unknown, LeaseResponse__Output>(c.agent, 'RequestLease', {
      action: 'tickets.update',
      resource: `ticket/${ticket}`,
      params: { fields: { ticket: { stringValue: ticket } } },
      ttlSeconds: ttl,
      maxUses: 3,
    });

  it('grants a permitted request: a durable, owned, counted, time-boxed lease', async () => {
    const dir = `${tmp.dir}/grant`;
    await restartWith(dir);
    const res = await ticketLease();
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    const l = res.lease!;
    assert.match(l.leaseId, /^lease_[0-9a-f]{12}[A-Za-z0-9_-]{24}$/, 'the issue time, then 144 random bits, base64url');
    assert.equal(l.action, 'tickets.update');
    assert.equal(l.status, 'ACTIVE');
    assert.equal(l.usesLeft, 3);
    assert.equal(l.expiresAt, new Date(T0 + 300_000).toISOString());
    assert.equal(l.maxExpiresAt, new Date(T0 + 900_000).toISOString(), '@max_ttl("900") of tickets-update-support');
    assert.deepEqual(res.explanation!.decidingPolicies.map((p) => p.id), ['tickets-update-support']);
    assert.equal(res.explanation!.trust!.tier, 'standard');
    assert.match(res.explanation!.policyVersion, /^[0-9a-f]{64}$/);
    const stored = await broker.app.store.getLease(l.leaseId);
    assert.equal(stored?.agent, 'support-bot', 'durable before returned');
    assert.deepEqual(stored?.context, { ticket: 'T-1' });
  });

  it('denies an unpermitted request with an explanation naming the candidates', async () => {
    const dir = `${tmp.dir}/deny`;
    await restartWith(dir);
    const c = broker.clientFor('agents', 'support-bot');
    const res = await call<unknown, LeaseResponse__Output>(c.agent, 'RequestLease', {
      action: 'billing.refund',
      resource: 'stripe',
      params: { fields: { amount: { numberValue: 999_999 } } },
    });
    const e = expectDenied(res);
    assert.equal(res.lease, null);
    assert.match(e.summary, /no policy permits billing\.refund on stripe for support-bot/);
    const ids = e.candidates.map((cand) => cand.id).sort();
    assert.deepEqual(ids, ['billing-refund-approved', 'billing-refund-small']);
    for (const cand of e.candidates) {
      assert.ok(cand.failedConditions.some((fc) => /context\.amount <= /.test(fc)), JSON.stringify(cand));
      assert.ok(cand.requires.length > 0);
    }
    assert.ok(e.hint.length > 0);
    assert.equal(await broker.app.store.countActiveLeases('support-bot'), 0);
  });

  it('denies an agent outside the permitted group; a request needing approval waits for one (no lease)', async () => {
    const dir = `${tmp.dir}/deny2`;
    await restartWith(dir);
    const analyst = broker.clientFor('agents', 'analyst-bot');
    const res = await ticketLease(analyst);
    expectDenied(res);
    const support = broker.clientFor('agents', 'support-bot');
    const approval = await call<unknown, LeaseResponse__Output>(support.agent, 'RequestLease', {
      action: 'billing.refund',
      resource: 'stripe',
      params: { fields: { amount: { numberValue: 20_000 } } },
    });
    // Approval obligations are never an allow by themselves: the request waits for an approver.
    assert.equal(approval.status, 'PENDING_APPROVAL');
    assert.match(approval.approvalId, /\S{20,}/);
    assert.equal(approval.lease, null);
    assert.equal(await broker.app.store.countActiveLeases('support-bot'), 0);
  });

  it('denies when trust degrades below the permit', async () => {
    const dir = `${tmp.dir}/trust`;
    await restartWith(dir);
    await broker.app.store.setTrust({ agent: 'support-bot', score: 300, updatedAt: clock.now() });
    const res = await ticketLease();
    expectDenied(res);
    assert.equal(res.explanation!.trust!.tier, 'restricted');
  });

  it('rejects bad input naming the field', async () => {
    const dir = `${tmp.dir}/bad`;
    await restartWith(dir);
    const c = broker.clientFor('agents', 'support-bot');
    await expectCode(call(c.agent, 'RequestLease', { action: 'nope.nope', resource: 'x' }), grpc.status.INVALID_ARGUMENT, /^action: /);
    await expectCode(call(c.agent, 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-1 ', params: { fields: { ticket: { stringValue: 'T-1' } } } }), grpc.status.INVALID_ARGUMENT, /^resource: /);
    await expectCode(call(c.agent, 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-2', params: { fields: { ticket: { stringValue: 'T-1' } } } }), grpc.status.INVALID_ARGUMENT, /^resource: is "ticket\/T-2", but this call is on "ticket\/T-1"/);
    await expectCode(call(c.agent, 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-1' }), grpc.status.INVALID_ARGUMENT, /^params\.ticket: required/);
    await expectCode(
      call(c.agent, 'RequestLease', { action: 'billing.refund', resource: 'stripe', params: { fields: { amount: { numberValue: 10.5 } } } }),
      grpc.status.INVALID_ARGUMENT,
      /^params\.amount: an integer/,
    );
  });

  it("gives another agent NOT_FOUND for GetLease and RevokeLease on a lease it does not own", async () => {
    const dir = `${tmp.dir}/owner`;
    await restartWith(dir);
    const res = await ticketLease();
    const id = res.lease!.leaseId;
    const other = broker.clientFor('agents', 'analyst-bot');
    await expectCode(call(other.agent, 'GetLease', { leaseId: id }), grpc.status.NOT_FOUND);
    await expectCode(call(other.agent, 'RevokeLease', { leaseId: id }), grpc.status.NOT_FOUND);
    await expectCode(call(other.agent, 'RenewLease', { leaseId: id }), grpc.status.NOT_FOUND);
    await expectCode(call(other.agent, 'GetLease', { leaseId: 'lease_doesnotexist' }), grpc.status.NOT_FOUND);
    const mine = await call<unknown, Lease__Output>(broker.clientFor('agents', 'support-bot').agent, 'GetLease', { leaseId: id });
    assert.equal(mine.status, 'ACTIVE', 'untouched by the other agent');
  });

  it('renewal never passes max TTL', async () => {
    const dir = `${tmp.dir}/renew`;
    await restartWith(dir);
    const c = broker.clientFor('agents', 'support-bot');
    const id = (await ticketLease(c, 'T-1', 300)).lease!.leaseId;
    clock.advance(200_000);
    const r1 = await call<unknown, LeaseResponse__Output>(c.agent, 'RenewLease', { leaseId: id, ttlSeconds: 600 });
    assert.equal(r1.lease!.expiresAt, new Date(T0 + 800_000).toISOString());
    clock.advance(500_000);
    const r2 = await call<unknown, LeaseResponse__Output>(c.agent, 'RenewLease', { leaseId: id, ttlSeconds: 600 });
    assert.equal(r2.lease!.expiresAt, new Date(T0 + 900_000).toISOString(), 'capped at max TTL');
    clock.advance(200_001);
    await expectCode(call(c.agent, 'RenewLease', { leaseId: id, ttlSeconds: 600 }), grpc.status.FAILED_PRECONDITION, /expired/);
  });

  it('revocation ends a lease; operators list and revoke by agent', async () => {
    const dir = `${tmp.dir}/revoke`;
    await restartWith(dir);
    const c = broker.clientFor('agents', 'support-bot');
    const a = (await ticketLease(c, 'T-1')).lease!.leaseId;
    const b = (await ticketLease(c, 'T-2')).lease!.leaseId;
    const revoked = await call<unknown, { lease: Lease__Output }>(c.agent, 'RevokeLease', { leaseId: a, reason: 'done' });
    assert.equal(revoked.lease.status, 'REVOKED');
    await expectCode(call(c.agent, 'RenewLease', { leaseId: a }), grpc.status.FAILED_PRECONDITION, /revoked/);
    const alice = broker.clientFor('operators', 'alice');
    const listed = await call<unknown, { leases: Lease__Output[] }>(alice.operator, 'ListLeases', { agent: 'support-bot', status: ['ACTIVE'] });
    assert.deepEqual(listed.leases.map((l) => l.leaseId), [b]);
    // A status it does not know, or a limit over the maximum, is refused rather than widened or cut silently.
    await expectCode(call(alice.operator, 'ListLeases', { status: ['LEASE_STATUS_UNSPECIFIED'] }), grpc.status.INVALID_ARGUMENT, /^status\[0\]: expected one of ACTIVE, EXPIRED, REVOKED, EXHAUSTED, REVOKE_FAILED$/);
    await expectCode(call(alice.operator, 'ListLeases', { status: ['ACTIVE', 42] }), grpc.status.INVALID_ARGUMENT, /status\[1\]: expected one of/);
    await expectCode(call(alice.operator, 'ListLeases', { limit: 1001 }), grpc.status.INVALID_ARGUMENT, /limit: expected at most 1000 \(0 for 100\)/);
    assert.equal((await call<unknown, { leases: Lease__Output[] }>(alice.operator, 'ListLeases', { limit: 1000 })).leases.length, 2);
    await expectCode(call(alice.operator, 'RevokeLeases', {}), grpc.status.INVALID_ARGUMENT, /at least one selector/);
    const out = await call<unknown, { revoked: Lease__Output[] }>(alice.operator, 'RevokeLeases', { agent: 'support-bot', reason: 'incident 42' });
    assert.deepEqual(out.revoked.map((l) => l.leaseId), [b]);
    assert.match(out.revoked[0]!.revokeReason, /operator alice: incident 42/);
  });

  it("enforces each agent's active-lease limit with RESOURCE_EXHAUSTED", async () => {
    const dir = `${tmp.dir}/limit`;
    await restartWith(dir); // support-bot: active_leases 5
    const c = broker.clientFor('agents', 'support-bot');
    for (let i = 0; i < 5; i++) assert.equal((await ticketLease(c, `T-${i}`)).status, 'GRANTED');
    await expectCode(ticketLease(c, 'T-9'), grpc.status.RESOURCE_EXHAUSTED, /active lease limit/);
  });

  it('after a restart an active lease still works and an expired one does not', async () => {
    const dir = `${tmp.dir}/restart`;
    await restartWith(dir);
    const c1 = broker.clientFor('agents', 'support-bot');
    const short = (await ticketLease(c1, 'T-1', 60)).lease!.leaseId;
    const long = (await ticketLease(c1, 'T-2', 600)).lease!.leaseId;
    await broker.close();
    clock.advance(120_000); // the daemon is down while `short` expires
    broker = await startBroker({ pki, dir, raw: rawConfig(pki, dir), clock });
    // The start-up reap has already marked it.
    assert.equal((await broker.app.store.getLease(short))!.status, 'expired');
    const c2 = broker.clientFor('agents', 'support-bot');
    const s = await call<unknown, Lease__Output>(c2.agent, 'GetLease', { leaseId: short });
    assert.equal(s.status, 'EXPIRED');
    await expectCode(call(c2.agent, 'RenewLease', { leaseId: short }), grpc.status.FAILED_PRECONDITION, /expired/);
    const l = await call<unknown, Lease__Output>(c2.agent, 'GetLease', { leaseId: long });
    assert.equal(l.status, 'ACTIVE');
    const renewed = await call<unknown, LeaseResponse__Output>(c2.agent, 'RenewLease', { leaseId: long, ttlSeconds: 300 });
    assert.equal(renewed.status, 'GRANTED');
  });

  it('the reaper expires leases while running', async () => {
    const dir = `${tmp.dir}/reaper`;
    await restartWith(dir);
    const id = (await ticketLease(undefined, 'T-1', 60)).lease!.leaseId;
    clock.advance(61_000);
    assert.equal(await broker.app.reaper.tick(), 1);
    assert.equal((await broker.app.store.getLease(id))!.status, 'expired');
  });
});
