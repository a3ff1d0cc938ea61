import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import type { BreakGlassOverride__Output } from '../../src/gen/secretbroker/v1/BreakGlassOverride';
import type { BreakGlassResponse__Output } from '../../src/gen/secretbroker/v1/BreakGlassResponse';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { ListBreakGlassResponse__Output } from '../../src/gen/secretbroker/v1/ListBreakGlassResponse';
import { ManualClock } from '../../src/lib/clock';
import type { InvokeHooks } from '../../src/broker/invoke-service';
import { readEntries } from '../helpers/evidence-entries';
import { expectDenied, expectDeniedCall, expectOverriddenDenialEntry, expectRefused } from '../helpers/expect-denial';
import { expectCode } from '../helpers/grpc-expect';
import { HELPDESK_TOKEN, seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';

interface Entry {
  type: string;
  index: number;
  agent?: string;
  action?: string;
  resource?: string;
  decision?: Record<string, unknown>;
  explanation?: { decision?: string; hint?: string; summary?: string };
  lease?: { id: string; expires_at: string };
  breakglass?: Record<string, unknown> & { id: string; event: string; state: string };
}

/**
 * Break-glass over the real daemon, real mTLS and a real HTTPS upstream, on a
 * fake clock. No policy lets analyst-bot (owner erin) touch tickets.update;
 * an override is the only way it gets a lease. Operators: alice (admin,
 * approver, auditor), bob (approver), carol (auditor), dave (admin), erin
 * (approver, the agent's owner).
 */
describe('break-glass: a recorded, four-eyes override of policy (BreakGlass, ConfirmBreakGlass, RevokeBreakGlass, ReviewBreakGlass)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let upstream: HttpsUpstream;
  let clock: ManualClock;
  const op = (name: string): BrokerClients['operator'] => broker.clientFor('operators', name).operator;
  const analyst = (): BrokerClients['agent'] => broker.clientFor('agents', 'analyst-bot').agent;

  const ask = (over: Record<string, unknown> = {}, by = 'alice') =>
    call<unknown, BreakGlassResponse__Output>(op(by), 'BreakGlass', { agent: 'analyst-bot', action: 'tickets.update', resource: 'ticket/T-9', reason: 'INC-42: helpdesk sync is down', ttlSeconds: 600, ...over });
  const confirm = (id: string, by = 'bob') => call<unknown, BreakGlassResponse__Output>(op(by), 'ConfirmBreakGlass', { overrideId: id, note: 'checked INC-42' });
  const show = async (id: string): Promise<BreakGlassOverride__Output> => (await call<unknown, BreakGlassResponse__Output>(op('carol'), 'GetBreakGlass', { overrideId: id })).override!;
  const requestLease = (ticket = 'T-9', agent = analyst()) =>
    call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action: 'tickets.update', resource: `ticket/${ticket}`, params: { fields: { ticket: { stringValue: ticket } } }, maxUses: 5 });
  const invoke = (leaseId: string, p = '/tickets/T-9', method = 'PUT') => call<unknown, InvokeResponse__Output>(analyst(), 'Invoke', { leaseId, method, path: p, body: Buffer.from('{"status":"open"}') });
  const entriesFrom = async (from: number): Promise<Entry[]> => readEntries<Entry>(broker.app.ledger!, from);
  const bgEntries = async (id: string): Promise<Entry[]> => (await entriesFrom(0)).filter((e) => e.type === 'breakglass' && e.breakglass?.id === id);
  /** A confirmed override (alice asks, bob confirms). */
  const confirmed = async (over: Record<string, unknown> = {}): Promise<string> => {
    const id = (await ask(over)).override!.overrideId;
    await confirm(id);
    return id;
  };

  // Test hook: runs between a grant's decision and its commit.
  const hooks: InvokeHooks = {};

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot', 'analyst-bot'], ['alice', 'bob', 'carol', 'dave', 'erin']);
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    upstream = await startHttpsUpstream({ secret: HELPDESK_TOKEN, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
    const caFile = writeCaBundle(tmp.dir, [upstream]);
    const raw = baseRawConfig(pki, tmp.dir, {
      actions: {
        'tickets.update': {
          http: { base_url: `https://helpdesk.test:${upstream.port}`, ca_files: [caFile], auth: { bearer: 'helpdesk-token' }, allow_networks: ['127.0.0.0/8'], methods: ['PUT', 'GET'], paths: ['/tickets/{id}'], context: { ticket: 'path.id' } },
          resource: 'ticket/{ticket}',
          max_uses: 20,
        },
        'billing.refund': {
          http: { base_url: `https://helpdesk.test:${upstream.port}`, ca_files: [caFile], auth: { bearer: 'stripe-key' }, allow_networks: ['127.0.0.0/8'], methods: ['POST'], paths: ['/v1/refunds'], context: { amount: 'body.amount' } },
          resource: 'stripe',
          max_uses: 1,
          budget: { field: 'amount', per: '24h', limit: 10000 },
        },
      },
      secrets: { 'helpdesk-token': { backend: 'local', name: 'helpdesk-token' }, 'stripe-key': { backend: 'local', name: 'stripe-key' } },
      agents: {
        'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice' },
        'analyst-bot': { id: 'spiffe://example.org/agent/analyst-bot', groups: ['analysts'], owner: 'erin' },
      },
      operators: {
        alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin', 'auditor'] },
        bob: { id: 'spiffe://example.org/human/bob', roles: ['approver'] },
        carol: { id: 'spiffe://example.org/human/carol', roles: ['auditor'] },
        dave: { id: 'spiffe://example.org/human/dave', roles: ['admin'] },
        erin: { id: 'spiffe://example.org/human/erin', roles: ['approver'] },
      },
    });
    await seedLocalSecrets(raw, { 'helpdesk-token': HELPDESK_TOKEN });
    broker = await startBroker({ pki, dir: tmp.dir, raw, clock, hooks, reaperIntervalMs: 50, resolver: testResolver(new Map([['helpdesk.test', ['127.0.0.1']]])) });
  });
  after(async () => {
    await broker?.close();
    await upstream?.close();
    tmp?.cleanup();
  });
  beforeEach(async () => {
    upstream.requests.length = 0;
    await broker.app.store.setTrust({ agent: 'analyst-bot', score: 600, updatedAt: clock.now() });
    // Each test starts with no override in force.
    await broker.app.breakglass!.endForAgent('analyst-bot', 'test reset');
  });

  it('needs its second operator: pending until bob confirms; then the lease is granted under it and its explanation names the override, who asked, who confirmed, and until when', async () => {
    // No policy lets analyst-bot update tickets.
    expectDenied(await requestLease());
    const asked = await ask();
    const o = asked.override!;
    assert.equal(o.state, 'pending');
    assert.match(o.overrideId, /^bg_[A-Za-z0-9_-]{24}$/);
    assert.equal(o.requestedBy, 'alice');
    assert.equal(o.owner, 'erin');
    assert.equal(o.confirmedBy, '');
    assert.ok(asked.evidence, 'the request is an entry');
    // Pending is not enough.
    assert.equal(expectDenied(await requestLease()).override, null);

    const conf = await confirm(o.overrideId);
    assert.equal(conf.override!.state, 'active');
    assert.equal(conf.override!.confirmedBy, 'bob');
    const until = new Date(clock.now() + 600_000).toISOString();
    assert.equal(conf.override!.expiresAt, until);

    const mark = broker.app.ledger!.size;
    const granted = await requestLease();
    assert.equal(granted.status, 'GRANTED', JSON.stringify(granted.explanation));
    const ex = granted.explanation!;
    assert.deepEqual(
      { id: ex.override!.overrideId, by: ex.override!.requestedBy, confirmedBy: ex.override!.confirmedBy, until: ex.override!.until, reason: ex.override!.reason },
      { id: o.overrideId, by: 'alice', confirmedBy: 'bob', until, reason: 'INC-42: helpdesk sync is down' },
    );
    assert.match(ex.summary, new RegExp(`break-glass override ${o.overrideId} \\(asked by alice, confirmed by bob, until ${until.replace(/\./g, '\\.')}\\)`));
    assert.match(ex.hint, /only while break-glass override/);
    assert.equal(ex.decision, 'allow');
    // The lease never outlives the override (the action's default TTL would be longer).
    assert.ok(Date.parse(granted.lease!.maxExpiresAt) <= Date.parse(until), `${granted.lease!.maxExpiresAt} <= ${until}`);

    // Recorded: the decision (policy said deny, allowed under the override), the lease, and the breakglass grant, in one commit.
    const added = await entriesFrom(mark);
    assert.deepEqual(added.map((e) => e.type), ['decision', 'lease.issued', 'breakglass']);
    expectOverriddenDenialEntry(added[0]!, /only while break-glass override/);
    assert.deepEqual(added[0]!.decision!['breakglass'], { id: o.overrideId, requested_by: 'alice', confirmed_by: 'bob', until });
    assert.equal(added[2]!.breakglass!.event, 'granted');
    assert.equal((added[2]!.breakglass!['lease'] as { id: string }).id, granted.lease!.leaseId);

    // Explain (an auditor's dry run) shows the same, and records nothing.
    const size = broker.app.ledger!.size;
    const explained = await call<unknown, { status: string; explanation: { override: { overrideId: string } | null } }>(op('carol'), 'Explain', {
      agent: 'analyst-bot',
      action: 'tickets.update',
      params: { fields: { ticket: { stringValue: 'T-9' } } },
    });
    assert.equal(explained.status, 'GRANTED');
    assert.equal(explained.explanation.override?.overrideId, o.overrideId);
    assert.equal(broker.app.ledger!.size, size);

    // Only the named resource: another ticket is still denied.
    expectDenied(await requestLease('T-10'));
    // Only this agent: support-bot is unaffected (granted by policy, no override in its explanation).
    const other = await requestLease('T-9', broker.clientFor('agents', 'support-bot').agent);
    assert.equal(other.status, 'GRANTED');
    assert.equal(other.explanation!.override, null);
    assert.deepEqual((await bgEntries(o.overrideId)).map((e) => [e.breakglass!.event, e.breakglass!.state]), [
      ['requested', 'pending'],
      ['confirmed', 'active'],
      ['granted', 'active'],
    ]);
  });

  it('is refused when the confirmer is the requester or the agent\'s owner (each refusal recorded), or holds neither admin nor approver', async () => {
    const id = (await ask()).override!.overrideId;
    await expectRefused(confirm(id, 'alice'), /alice asked for this override and may not confirm it \(four eyes\)/);
    await expectRefused(confirm(id, 'erin'), /erin owns the agent analyst-bot and may not confirm/);
    await expectRefused(confirm(id, 'carol'), /requires the operator role "admin" or "approver"/);
    assert.equal((await show(id)).state, 'pending', 'still pending after three refusals');
    expectDenied(await requestLease());
    const refused = (await bgEntries(id)).filter((e) => e.breakglass!.event === 'refused');
    assert.deepEqual(refused.map((e) => [e.breakglass!['by'], e.breakglass!['why']]), [
      ['alice', 'requester'],
      ['erin', 'owner'],
    ]);
    // dave (admin, neither) may confirm; a second confirmation is refused.
    assert.equal((await confirm(id, 'dave')).override!.confirmedBy, 'dave');
    await expectCode(confirm(id, 'bob'), grpc.status.FAILED_PRECONDITION, /already confirmed/);
    assert.equal((await requestLease()).status, 'GRANTED');
  });

  it('expires on the fake clock: the override and its lease end together; an unconfirmed one lapses', async () => {
    const id = await confirmed({ ttlSeconds: 300 });
    const granted = await requestLease();
    assert.equal(granted.status, 'GRANTED');
    clock.advance(299_000);
    assert.equal((await requestLease()).status, 'GRANTED', 'still in force one second before');
    clock.advance(1000);
    assert.equal(expectDenied(await requestLease()).override, null);
    await expectCode(invoke(granted.lease!.leaseId), grpc.status.FAILED_PRECONDITION, /lease is expired/);
    const shown = await show(id);
    assert.equal(shown.state, 'expired');
    assert.equal(shown.secondsLeft, 0);
    // The sweep records the expiry once, by the broker.
    await broker.app.breakglass!.expireDue();
    const expired = (await bgEntries(id)).filter((e) => e.breakglass!.event === 'expired');
    assert.equal(expired.length, 1);
    assert.equal(expired[0]!.breakglass!['by'], 'broker');

    const lapsing = (await ask({ ttlSeconds: 60 })).override!.overrideId;
    clock.advance(60_000);
    await expectCode(confirm(lapsing), grpc.status.FAILED_PRECONDITION, /the override is expired; ask for a new one/);
  });

  it('a lease granted under it still goes through the outbound guard and the binding: a call outside the template or the lease is refused', async () => {
    await confirmed();
    const lease = (await requestLease()).lease!.leaseId;
    const ok = await invoke(lease);
    assert.equal(ok.statusCode, 200);
    assert.equal(upstream.requests.length, 1);
    assert.equal(upstream.requests[0]!.headers['authorization'], `Bearer ${HELPDESK_TOKEN}`);
    // Another ticket than the lease's: refused by the binding.
    await expectCode(invoke(lease, '/tickets/T-10'), grpc.status.FAILED_PRECONDITION);
    // A method the template does not allow, and a path outside it: refused before anything is sent.
    await assert.rejects(invoke(lease, '/tickets/T-9', 'DELETE'));
    await assert.rejects(invoke(lease, '/admin/T-9', 'PUT'));
    assert.equal(upstream.requests.length, 1, 'nothing else reached the upstream');
    // A one-shot Invoke is not a RequestLease: no override applies.
    await expectDeniedCall(call(analyst(), 'Invoke', { action: 'tickets.update', params: { fields: { ticket: { stringValue: 'T-9' } } }, method: 'PUT', path: '/tickets/T-9' }));
    assert.equal(upstream.requests.length, 1);
  });

  it('revocation ends it: the leases granted under it are revoked at once (recorded), a policy-granted lease of another agent is untouched, and no new one is granted', async () => {
    const id = await confirmed();
    const lease = (await requestLease()).lease!.leaseId;
    const lease2 = (await requestLease()).lease!.leaseId;
    const bystander = (await requestLease('T-9', broker.clientFor('agents', 'support-bot').agent)).lease!.leaseId;
    // One the agent gave back already: ended, it is neither revoked again nor recorded twice.
    const returned = (await requestLease()).lease!.leaseId;
    await call(analyst(), 'RevokeLease', { leaseId: returned, reason: 'done with it' });
    assert.equal((await invoke(lease)).statusCode, 200);
    await expectRefused(call(op('bob'), 'RevokeBreakGlass', { overrideId: id, reason: 'fixed' }), /"admin"/);
    const mark = broker.app.ledger!.size;
    const revoked = await call<unknown, BreakGlassResponse__Output>(op('dave'), 'RevokeBreakGlass', { overrideId: id, reason: 'INC-42 resolved' });
    assert.equal(revoked.override!.state, 'revoked');
    assert.equal(revoked.override!.endedBy, 'dave');
    for (const l of [lease, lease2]) {
      const got = await call<unknown, { status: string; revokeReason: string }>(analyst(), 'GetLease', { leaseId: l });
      assert.equal(got.status, 'REVOKED');
      assert.match(got.revokeReason, new RegExp(`^operator dave: break-glass override ${id} revoked: INC-42 resolved`));
    }
    const ended = (await entriesFrom(mark)).filter((e) => e.type === 'lease.revoked').map((e) => e.lease!.id).sort();
    assert.deepEqual(ended, [lease, lease2].sort());
    assert.match((await call<unknown, { revokeReason: string }>(analyst(), 'GetLease', { leaseId: returned })).revokeReason, /done with it/);
    assert.equal((await call<unknown, { status: string }>(broker.clientFor('agents', 'support-bot').agent, 'GetLease', { leaseId: bystander })).status, 'ACTIVE');
    await expectCode(invoke(lease), grpc.status.FAILED_PRECONDITION, /lease is revoked/);
    await expectCode(call(analyst(), 'RenewLease', { leaseId: lease2 }), grpc.status.FAILED_PRECONDITION, /lease is revoked/);
    expectDenied(await requestLease());
    assert.equal(upstream.requests.length, 1);
    await expectCode(call(op('dave'), 'RevokeBreakGlass', { overrideId: id }), grpc.status.FAILED_PRECONDITION, /already revoked/);
    assert.deepEqual((await bgEntries(id)).map((e) => e.breakglass!.event), ['requested', 'confirmed', 'granted', 'granted', 'granted', 'revoked']);
  });

  it('a grant decided under an override that is revoked before the grant commits grants nothing', async () => {
    const id = await confirmed();
    const before = (await broker.app.store.listLeases({ agent: 'analyst-bot', statuses: ['active'], limit: 1000 })).length;
    // The override is revoked between the decision (made under it) and the grant's commit.
    hooks.beforeGrant = async () => {
      delete hooks.beforeGrant;
      await call(op('dave'), 'RevokeBreakGlass', { overrideId: id, reason: 'revoked mid-grant' });
    };
    try {
      await expectCode(requestLease(), grpc.status.FAILED_PRECONDITION, /override this lease was decided under was revoked or expired meanwhile/);
    } finally {
      delete hooks.beforeGrant;
    }
    assert.equal((await show(id)).state, 'revoked');
    const after = await broker.app.store.listLeases({ agent: 'analyst-bot', statuses: ['active'], limit: 1000 });
    assert.equal(after.length, before, 'no lease was stored');
    assert.deepEqual((await bgEntries(id)).map((e) => e.breakglass!.event), ['requested', 'confirmed', 'revoked'], 'no grant under it is on record');
  });

  it('a lease under it that outlives it fails its next re-check (use and renewal) with an explanation, the override no longer named', async () => {
    const id = await confirmed({ ttlSeconds: 3600 });
    const lease = (await requestLease()).lease!.leaseId;
    // Ended by the broker (as when the trust service quarantines the agent): nothing revokes the lease itself.
    await broker.app.breakglass!.endForAgent('analyst-bot', 'test: ended without revoking leases');
    assert.equal((await show(id)).state, 'ended');
    const { explanation } = await expectDeniedCall(invoke(lease));
    assert.equal(explanation['override'], undefined);
    await expectCode(call(analyst(), 'RenewLease', { leaseId: lease }), grpc.status.FAILED_PRECONDITION, /policy no longer permits/);
    assert.equal(upstream.requests.length, 0);
  });

  it('a drop to quarantined ends it: the lease fails its next use, the override is ended by the broker, and trust coming back does not revive it', async () => {
    const id = await confirmed();
    const lease = (await requestLease()).lease!.leaseId;
    await broker.app.store.setTrust({ agent: 'analyst-bot', score: 100, updatedAt: clock.now() });
    await expectDeniedCall(invoke(lease));
    const shown = await show(id);
    assert.equal(shown.state, 'ended');
    assert.equal(shown.endedBy, 'broker');
    assert.equal(shown.endReason, 'the agent is quarantined');
    await broker.app.store.setTrust({ agent: 'analyst-bot', score: 600, updatedAt: clock.now() });
    expectDenied(await requestLease());
    await expectDeniedCall(invoke(lease));
    assert.equal(upstream.requests.length, 0);
    const ended = (await bgEntries(id)).filter((e) => e.breakglass!.event === 'ended');
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.breakglass!['by'], 'broker');
  });

  it('SetTrust to quarantined ends it at once, before the reply: the lease under it is revoked and the override ends naming the trust change', async () => {
    const id = await confirmed();
    const lease = (await requestLease()).lease!.leaseId;
    const t = await call<unknown, { tier: string; leasesRevoked: number }>(op('dave'), 'SetTrust', { agent: 'analyst-bot', score: 100, reason: 'INC-43: compromised' });
    assert.equal(t.tier, 'quarantined');
    assert.ok(t.leasesRevoked >= 1, 'this lease and any other live one of the agent');
    assert.equal((await call<unknown, { status: string }>(broker.clientFor('agents', 'analyst-bot').agent, 'GetLease', { leaseId: lease })).status, 'REVOKED');
    const shown = await show(id);
    assert.deepEqual([shown.state, shown.endedBy, shown.endReason], ['ended', 'broker', 'the agent is quarantined']);
    const ended = (await bgEntries(id)).filter((e) => e.breakglass!.event === 'ended');
    assert.equal(ended.length, 1);
    assert.match(JSON.stringify(ended[0]), /trust\.changed/);
    await expectCode(invoke(lease), grpc.status.FAILED_PRECONDITION, /lease is revoked/);
    assert.equal(upstream.requests.length, 0);
  });

  it('appears in approvals review (ListBreakGlass unreviewed) until someone other than its requester and confirmer marks it reviewed with a note', async () => {
    const id = await confirmed();
    const unreviewed = async (): Promise<string[]> => (await call<unknown, ListBreakGlassResponse__Output>(op('carol'), 'ListBreakGlass', { unreviewed: true, limit: 500 })).overrides.map((o) => o.overrideId);
    assert.ok((await unreviewed()).includes(id));
    // Ending it does not take it off the list: only a review does.
    await call(op('dave'), 'RevokeBreakGlass', { overrideId: id, reason: 'done' });
    assert.ok((await unreviewed()).includes(id));
    await expectCode(call(op('carol'), 'ReviewBreakGlass', { overrideId: id, note: '  ' }), grpc.status.INVALID_ARGUMENT, /^note: required/);
    await expectRefused(call(op('alice'), 'ReviewBreakGlass', { overrideId: id, note: 'fine' }), /alice asked for this override and may not review it/);
    await expectRefused(call(op('bob'), 'ReviewBreakGlass', { overrideId: id, note: 'fine' }), /bob confirmed this override and may not review it/);
    await expectRefused(call(op('dave'), 'ReviewBreakGlass', { overrideId: id, note: 'fine' }), /"approver" or "auditor"/);
    assert.ok((await unreviewed()).includes(id));
    const reviewed = await call<unknown, BreakGlassResponse__Output>(op('carol'), 'ReviewBreakGlass', { overrideId: id, note: 'INC-42 postmortem: justified; policy gap filed as POL-7' });
    assert.equal(reviewed.override!.reviewedBy, 'carol');
    assert.equal(reviewed.override!.reviewNote, 'INC-42 postmortem: justified; policy gap filed as POL-7');
    assert.ok(!(await unreviewed()).includes(id));
    await expectCode(call(op('erin'), 'ReviewBreakGlass', { overrideId: id, note: 'again' }), grpc.status.FAILED_PRECONDITION, /already reviewed by carol/);
    const review = (await bgEntries(id)).filter((e) => e.breakglass!.event === 'reviewed');
    assert.equal(review.length, 1);
    assert.equal(review[0]!.breakglass!['by'], 'carol');
    assert.equal(review[0]!.breakglass!['note'], 'INC-42 postmortem: justified; policy gap filed as POL-7');
  });

  it('budgets still hold under an override: each grant reserves its amount, and one past the limit is denied as over budget', async () => {
    await confirmed({ action: 'billing.refund', resource: 'stripe' });
    const refund = (amount: number) => call<unknown, LeaseResponse__Output>(analyst(), 'RequestLease', { action: 'billing.refund', params: { fields: { amount: { numberValue: amount } } } });
    const first = await refund(6000);
    assert.equal(first.status, 'GRANTED', JSON.stringify(first.explanation));
    assert.ok(first.explanation!.override);
    const second = expectDenied(await refund(6000));
    assert.match(second.summary, /over budget: billing\.refund amount would pass its limit of 10000 per 24h for analyst-bot \(used 6000/);
    assert.equal((await refund(4000)).status, 'GRANTED', 'what is left of the budget is still granted');
  });

  it('an agent may have at most 20 open overrides, checked where they are stored: of 25 concurrent requests exactly 20 are', async () => {
    const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => ask({ resource: `ticket/B-${i}` })));
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const exhausted = results.filter((r) => r.status === 'rejected' && (r.reason as grpc.ServiceError).code === grpc.status.RESOURCE_EXHAUSTED).length;
    assert.deepEqual([ok, exhausted], [20, 5]);
    await broker.app.breakglass!.endForAgent('analyst-bot', 'test reset');
    assert.ok((await ask()).override);
  });

  it('bad requests name the field: unknown agent or action, no reason, a TTL over 24h, params, a bad resource; an unknown id is NOT_FOUND', async () => {
    await expectCode(ask({ agent: 'nobody' }), grpc.status.INVALID_ARGUMENT, /^agent: "nobody" is not a configured agent/);
    await expectCode(ask({ action: 'tickets.delete' }), grpc.status.INVALID_ARGUMENT, /^action: "tickets.delete" is not a configured action/);
    await expectCode(ask({ reason: ' ' }), grpc.status.INVALID_ARGUMENT, /^reason: required/);
    await expectCode(ask({ reason: 'x'.repeat(501) }), grpc.status.INVALID_ARGUMENT, /^reason: at most 500 characters/);
    await expectCode(ask({ ttlSeconds: 86_401 }), grpc.status.INVALID_ARGUMENT, /^ttl_seconds: at most 86400/);
    await expectCode(ask({ params: { fields: { ticket: { stringValue: 'T-9' } } } }), grpc.status.INVALID_ARGUMENT, /^params: empty/);
    await expectCode(ask({ resource: 'ticket/T 9' }), grpc.status.INVALID_ARGUMENT, /^resource:/);
    await expectRefused(ask({}, 'bob'), /"admin"/);
    await expectCode(confirm('bg_AAAAAAAAAAAAAAAAAAAAAAAA'), grpc.status.NOT_FOUND);
    await expectCode(confirm(''), grpc.status.INVALID_ARGUMENT, /^override_id: required/);
    // The default TTL is 15 minutes; an override for every resource covers any ticket.
    const o = (await ask({ ttlSeconds: 0, resource: '' })).override!;
    assert.equal(o.ttlSeconds, 900);
    assert.equal(o.resource, '');
    await confirm(o.overrideId);
    assert.equal((await requestLease('T-77')).status, 'GRANTED');
  });
});
