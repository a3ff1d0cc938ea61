import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ApprovalBinding } from '../../src/approvals/approval-service';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import type { Approval__Output } from '../../src/gen/secretbroker/v1/Approval';
import type { ListApprovalsResponse__Output } from '../../src/gen/secretbroker/v1/ListApprovalsResponse';
import { ManualClock } from '../../src/lib/clock';
import { readEntries } from '../helpers/evidence-entries';
import { expectCode } from '../helpers/grpc-expect';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectRefused } from '../helpers/expect-denial';

const TRUST = { score: 600, tier: 'standard', fresh: false };

/** Reads a WatchApproval stream to its end: every message, and the status it ended with. */
function watch(c: BrokerClients, approvalId: string, onMessage?: (a: Approval__Output) => void): Promise<{ messages: Approval__Output[]; code: grpc.status; details: string }> {
  return new Promise((resolve) => {
    const messages: Approval__Output[] = [];
    const stream = c.agent.WatchApproval({ approvalId }, { deadline: Date.now() + 20_000 });
    stream.on('data', (a: Approval__Output) => {
      messages.push(a);
      onMessage?.(a);
    });
    stream.on('error', (e: grpc.ServiceError) => resolve({ messages, code: e.code, details: e.details }));
    stream.on('status', (s: grpc.StatusObject) => s.code === grpc.status.OK && resolve({ messages, code: s.code, details: s.details }));
  });
}

/**
 * The approval RPCs over the real daemon and real mTLS: approvers list, show
 * and decide (four eyes, group membership, role), and an agent watches its
 * own approval until it is decided or expires. Approvals are opened through
 * the service object the composition root built (RequestLease opens them once
 * the decision step calls the ApprovalGate).
 */
describe('approvals over the real daemon (ListApprovals, GetApproval, DecideApproval, WatchApproval)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let clock: ManualClock;
  const client = (kind: 'agents' | 'operators', name: string): BrokerClients => broker.clientFor(kind, name);

  const binding = (over: Partial<ApprovalBinding> = {}): ApprovalBinding => ({
    agent: 'support-bot',
    action: 'billing.refund',
    resource: 'stripe',
    params: { amount: 50000 },
    purpose: 'refund order A-1',
    ttl_seconds: 0,
    max_uses: 0,
    rule: 'billing-refund-approved',
    policy_version: broker.app.policy.version,
    ...over,
  });
  const open = (over: Partial<ApprovalBinding> = {}) =>
    broker.app.approvals.open({ agent: broker.config.agents['support-bot']!, groups: ['finance'], binding: binding(over), trust: TRUST }, broker.app.log);

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot', 'analyst-bot'], ['alice', 'bob', 'carol', 'dave', 'erin']);
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    const base = baseRawConfig(pki, tmp.dir);
    const raw = baseRawConfig(pki, tmp.dir, {
      secrets: { 'helpdesk-token': { backend: 'local', name: 'helpdesk-token' }, 'stripe-key': { backend: 'local', name: 'stripe-key' } },
      actions: {
        ...(base['actions'] as Record<string, unknown>),
        'billing.refund': {
          http: { base_url: 'https://localhost:1', methods: ['POST'], paths: ['/v1/refunds'], auth: { bearer: 'stripe-key' }, allow_networks: ['127.0.0.0/8'], context: { amount: 'body.amount' } },
          resource: 'stripe',
          max_uses: 1,
        },
      },
      agents: {
        'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice' },
        'analyst-bot': { id: 'spiffe://example.org/agent/analyst-bot', groups: ['analysts'], owner: 'bob' },
      },
      operators: {
        alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin', 'auditor', 'rotator'] },
        bob: { id: 'spiffe://example.org/human/bob', roles: ['approver'] },
        carol: { id: 'spiffe://example.org/human/carol', roles: ['auditor'] },
        dave: { id: 'spiffe://example.org/human/dave', roles: ['approver'] },
        erin: { id: 'spiffe://example.org/human/erin', roles: ['approver'] },
      },
      approvals: { finance: { approvers: ['alice', 'bob', 'erin'], required: 1, expires: '15m' }, legal: { approvers: ['dave'], required: 1, expires: '15m' } },
    });
    broker = await startBroker({ pki, dir: tmp.dir, raw, clock, reaperIntervalMs: 50 });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('an approver lists what waits in their groups and sees what they approve: agent and owner, request, trust, the rule, time left', async () => {
    const { id } = await open();
    const { approvals } = await call<unknown, ListApprovalsResponse__Output>(client('operators', 'bob').operator, 'ListApprovals', {});
    const a = approvals.find((x) => x.approvalId === id)!;
    assert.ok(a, 'listed');
    assert.equal(a.state, 'PENDING');
    assert.equal(a.agent, 'support-bot');
    assert.equal(a.owner, 'alice');
    assert.equal(a.action, 'billing.refund');
    assert.equal(a.resource, 'stripe');
    assert.equal(a.purpose, 'refund order A-1');
    assert.equal(a.params?.fields['amount']?.numberValue, 50000);
    assert.equal(a.context?.fields['amount']?.numberValue, 50000);
    assert.deepEqual(a.trust, { score: 600, tier: 'standard' });
    assert.equal(a.rule, 'billing-refund-approved');
    assert.equal(a.policyVersion, broker.app.policy.version);
    assert.equal(a.secondsLeft, 900);
    assert.equal(a.group, 'finance');
    assert.equal(a.required, 1);
    assert.deepEqual(a.progress, [{ group: 'finance', required: 1, approvals: 0 }]);
    assert.match(a.bindingHash, /^[0-9a-f]{64}$/);
    // Not in the group: dave (legal) sees none of finance's, and cannot ask for them.
    assert.deepEqual((await call<unknown, ListApprovalsResponse__Output>(client('operators', 'dave').operator, 'ListApprovals', {})).approvals, []);
    await expectRefused(call(client('operators', 'dave').operator, 'ListApprovals', { group: 'finance' }), /dave is not an approver of the group "finance"/);
    const shown = await call<unknown, Approval__Output>(client('operators', 'erin').operator, 'GetApproval', { approvalId: id });
    assert.equal(shown.approvalId, id);
    await expectRefused(call(client('operators', 'dave').operator, 'GetApproval', { approvalId: id }), /not an approver of "finance"/);
    await expectCode(call(client('operators', 'bob').operator, 'GetApproval', { approvalId: 'apr_AAAAAAAAAAAAAAAAAAAAAAAA' }), grpc.status.NOT_FOUND);
  });

  it('four eyes over the wire: the owner is refused, an approver outside the group and a non-approver role are refused, another approver approves', async () => {
    const { id } = await open({ purpose: 'four eyes' });
    await expectRefused(
      call(client('operators', 'alice').operator, 'DecideApproval', { approvalId: id, approve: true, reason: 'mine' }),
      /^alice owns the agent support-bot and may not decide its requests \(four eyes\)/,
    );
    await expectRefused(call(client('operators', 'dave').operator, 'DecideApproval', { approvalId: id, approve: true, reason: 'ok' }), /dave is not an approver of "finance"/);
    await expectRefused(call(client('operators', 'carol').operator, 'DecideApproval', { approvalId: id, approve: true, reason: 'ok' }), /requires the operator role "approver"/);
    await expectRefused(call(client('agents', 'support-bot').operator, 'DecideApproval', { approvalId: id, approve: true, reason: 'ok' }));
    await expectCode(call(client('operators', 'bob').operator, 'DecideApproval', { approvalId: id, approve: true }), grpc.status.INVALID_ARGUMENT, /^reason: required/);
    const a = await call<unknown, Approval__Output>(client('operators', 'bob').operator, 'DecideApproval', { approvalId: id, approve: true, reason: 'customer is owed it' });
    assert.equal(a.state, 'APPROVED');
    assert.deepEqual(a.approvedBy, ['bob']);
    assert.equal(a.reason, 'customer is owed it');
    assert.equal(a.votes[0]!.approver, 'bob');
    // Another approval adds nothing; a deny still rejects it until it is spent on a lease (any one deny rejects).
    await expectCode(call(client('operators', 'erin').operator, 'DecideApproval', { approvalId: id, approve: true, reason: 'me too' }), grpc.status.FAILED_PRECONDITION, /already approved/);
    const vetoed = await call<unknown, Approval__Output>(client('operators', 'erin').operator, 'DecideApproval', { approvalId: id, approve: false, reason: 'the charge was refunded already' });
    assert.equal(vetoed.state, 'REJECTED');
    await expectCode(call(client('operators', 'erin').operator, 'DecideApproval', { approvalId: id, approve: false, reason: 'again' }), grpc.status.FAILED_PRECONDITION, /already rejected/);
    const entries = (await readEntries<{ type: string; approval?: { id: string; state: string }; vote?: { approver: string } }>(broker.app.ledger!)).filter((e) => e.approval?.id === id);
    assert.deepEqual(entries.map((e) => [e.type, e.approval!.state, e.vote?.approver]), [
      ['approval.requested', undefined, undefined],
      ['approval.decided', 'approved', 'bob'],
      ['approval.decided', 'rejected', 'erin'],
    ]);
  });

  it('WatchApproval streams pending → approved to the owning agent and ends; another agent gets NOT_FOUND', async () => {
    const { id } = await open({ purpose: 'watched' });
    let decided: Promise<unknown> | undefined;
    const watched = watch(client('agents', 'support-bot'), id, (m) => {
      // Decide once the stream has shown the current state.
      if (m.state === 'PENDING') decided = call(client('operators', 'erin').operator, 'DecideApproval', { approvalId: id, approve: true, reason: 'ok' });
    });
    const { messages, code } = await watched;
    await decided;
    assert.equal(code, grpc.status.OK);
    assert.deepEqual(messages.map((m) => m.state), ['PENDING', 'APPROVED']);
    // The agent sees its request and the state, not who voted or why.
    assert.equal(messages[1]!.approvalId, id);
    assert.deepEqual(messages[1]!.votes, []);
    assert.equal(messages[1]!.owner, '');
    const other = await watch(client('agents', 'analyst-bot'), id);
    assert.equal(other.code, grpc.status.NOT_FOUND);
    assert.deepEqual(other.messages, []);
    const missing = await watch(client('agents', 'support-bot'), '');
    assert.equal(missing.code, grpc.status.INVALID_ARGUMENT);
    // A decided approval: its state, and the stream ends at once.
    assert.deepEqual((await watch(client('agents', 'support-bot'), id)).messages.map((m) => m.state), ['APPROVED']);
  });

  it('WatchApproval streams pending → expired when the fake clock passes the expiry, and the expiry is recorded', async () => {
    const { id } = await open({ purpose: 'expiring' });
    const { messages, code } = await watch(client('agents', 'support-bot'), id, (m) => {
      if (m.state === 'PENDING') clock.advance(15 * 60_000);
    });
    assert.equal(code, grpc.status.OK);
    assert.deepEqual(messages.map((m) => m.state), ['PENDING', 'APPROVAL_EXPIRED']);
    assert.equal(messages[1]!.secondsLeft, 0);
    await expectCode(call(client('operators', 'bob').operator, 'DecideApproval', { approvalId: id, approve: true, reason: 'ok' }), grpc.status.FAILED_PRECONDITION, /has expired/);
    const expired = (await readEntries<{ type: string; approval?: { id: string; state: string }; by?: string }>(broker.app.ledger!)).filter((e) => e.approval?.id === id && e.type === 'approval.decided');
    assert.deepEqual(expired.map((e) => [e.approval!.state, e.by]), [['expired', 'broker']]);
    const listed = await call<unknown, ListApprovalsResponse__Output>(client('operators', 'bob').operator, 'ListApprovals', { state: 'APPROVAL_EXPIRED' });
    assert.ok(listed.approvals.some((a) => a.approvalId === id && a.reason === 'expired'));
  });
});
