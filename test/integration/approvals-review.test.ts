import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ApprovalBinding, ApprovalService } from '../../src/approvals/approval-service';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import type { Approval__Output } from '../../src/gen/secretbroker/v1/Approval';
import { ManualClock } from '../../src/lib/clock';
import { readEntries } from '../helpers/evidence-entries';
import { expectRefused } from '../helpers/expect-denial';
import { expectCode } from '../helpers/grpc-expect';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';

const TRUST = { score: 600, tier: 'standard', fresh: false };
const APPROVERS = ['bob', 'erin', 'frank', 'gina'];

/** How many WatchApproval listeners the service holds (for the cleanup checks). */
const listenerCount = (s: ApprovalService): number => [...(s as unknown as { listeners: Map<string, Set<unknown>> }).listeners.values()].reduce((n, set) => n + set.size, 0);

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A security review of approvals over the real daemon and real mTLS: four
 * eyes under concurrency and across groups, every Operator approval RPC
 * refused to agents and to operators without the role, the state machine
 * after consumption, and WatchApproval's stream bounds and cleanup.
 */
describe('approvals under attack (real daemon): four eyes, concurrency, consumption, watch bounds', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let clock: ManualClock;
  let seq = 0;
  const client = (kind: 'agents' | 'operators', name: string): BrokerClients => broker.clientFor(kind, name);

  const binding = (over: Partial<ApprovalBinding> = {}): ApprovalBinding => ({
    agent: 'support-bot',
    action: 'billing.refund',
    resource: 'stripe',
    params: { amount: 50000 },
    purpose: `review ${++seq}`,
    ttl_seconds: 0,
    max_uses: 0,
    rule: 'billing-refund-approved',
    policy_version: broker.app.policy.version,
    ...over,
  });
  const open = (groups: string[], over: Partial<ApprovalBinding> = {}) =>
    broker.app.approvals.open({ agent: broker.config.agents['support-bot']!, groups, binding: binding(over), trust: TRUST }, broker.app.log);
  const decide = (who: string, approvalId: string, approve = true) => call<unknown, Approval__Output>(client('operators', who).operator, 'DecideApproval', { approvalId, approve, reason: `${who} says ${approve}` });

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot', 'analyst-bot'], ['alice', 'carol', 'dave', ...APPROVERS]);
    clock = new ManualClock(Date.UTC(2026, 0, 1));
    const base = baseRawConfig(pki, tmp.dir);
    const raw = baseRawConfig(pki, tmp.dir, {
      secrets: { 'helpdesk-token': { backend: 'local', name: 'helpdesk-token' }, 'stripe-key': { backend: 'local', name: 'stripe-key' } },
      actions: {
        ...(base['actions'] as Record<string, unknown>),
        'billing.refund': {
          http: { base_url: 'https://localhost:1', methods: ['POST'], paths: ['/v1/refunds'], auth: { bearer: 'stripe-key' }, allow_networks: ['127.0.0.0/8'], context: { amount: 'body.amount' } },
          resource: 'stripe',
        },
      },
      agents: {
        'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice', limits: { open_streams: 3 } },
        'analyst-bot': { id: 'spiffe://example.org/agent/analyst-bot', groups: ['analysts'], owner: 'dave' },
      },
      operators: {
        alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin', 'auditor'] },
        carol: { id: 'spiffe://example.org/human/carol', roles: ['auditor', 'admin'] },
        dave: { id: 'spiffe://example.org/human/dave', roles: ['approver'] },
        ...Object.fromEntries(APPROVERS.map((n) => [n, { id: `spiffe://example.org/human/${n}`, roles: ['approver'] }])),
      },
      approvals: {
        finance: { approvers: ['alice', ...APPROVERS], required: 1, expires: '15m' },
        'finance-3': { approvers: ['alice', ...APPROVERS], required: 3, expires: '15m' },
        // bob approves for finance and for legal.
        legal: { approvers: ['bob', 'dave'], required: 1, expires: '15m' },
      },
    });
    broker = await startBroker({ pki, dir: tmp.dir, raw, clock, reaperIntervalMs: 50 });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('20 concurrent votes by four approvers on a required-3 approval: exactly three distinct votes, approved once, one entry per stored vote', async () => {
    const { id } = await open(['finance-3']);
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => decide(APPROVERS[i % APPROVERS.length]!, id)));
    const ok = results.filter((r): r is PromiseFulfilledResult<Approval__Output> => r.status === 'fulfilled').map((r) => r.value);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as grpc.ServiceError);
    assert.equal(ok.length, 3, 'three votes stored');
    assert.equal(refused.length, 17);
    for (const e of refused) {
      assert.equal(e.code, grpc.status.FAILED_PRECONDITION);
      assert.match(e.details, /has already voted|already approved/);
    }
    assert.deepEqual(ok.map((a) => a.state).sort(), ['APPROVED', 'PENDING', 'PENDING']);
    const stored = await call<unknown, Approval__Output>(client('operators', 'bob').operator, 'GetApproval', { approvalId: id });
    assert.equal(stored.state, 'APPROVED');
    assert.equal(new Set(stored.votes.map((v) => v.approver)).size, 3, 'three distinct approvers');
    assert.equal(stored.votes.length, 3);
    const entries = (await readEntries<{ type: string; approval?: { id: string; state: string }; vote?: { approver: string } }>(broker.app.ledger!)).filter((e) => e.approval?.id === id && e.type === 'approval.decided');
    assert.deepEqual(entries.map((e) => e.vote?.approver), stored.votes.map((v) => v.approver), 'an entry for each stored vote, in order');
    assert.deepEqual(entries.map((e) => e.approval!.state), ['pending', 'pending', 'approved']);
  });

  it('two concurrent approvals by the same approver count once', async () => {
    const { id } = await open(['finance-3']);
    const [a, b] = await Promise.allSettled([decide('bob', id), decide('bob', id)]);
    assert.deepEqual([a.status, b.status].sort(), ['fulfilled', 'rejected']);
    const stored = await call<unknown, Approval__Output>(client('operators', 'erin').operator, 'GetApproval', { approvalId: id });
    assert.deepEqual(stored.votes.map((v) => v.approver), ['bob']);
    assert.equal(stored.state, 'PENDING');
  });

  it('four eyes across groups: one approver listed in two groups of an approval does not satisfy both alone', async () => {
    const { id } = await open(['finance', 'legal']);
    const afterBob = await decide('bob', id);
    assert.equal(afterBob.state, 'PENDING', 'bob alone is one pair of eyes, not the two the policy asks for');
    await assert.rejects(broker.app.approvals.check('support-bot', id, (await broker.app.approvals.get(broker.config.operators['bob']!, id)).binding), /still pending/);
    // dave (legal only) is the second person: bob counts for finance, dave for legal.
    assert.equal((await decide('dave', id)).state, 'APPROVED');
    // Or two finance approvers of whom one is also legal: erin for finance, bob for legal.
    const other = await open(['finance', 'legal']);
    assert.equal((await decide('erin', other.id)).state, 'PENDING');
    assert.equal((await decide('bob', other.id)).state, 'APPROVED');
  });

  it('the owner can neither approve nor deny, an agent is refused every Operator approval RPC, and a missing role denies', async () => {
    const { id } = await open(['finance']);
    await expectRefused(decide('alice', id, false), /alice owns the agent support-bot/);
    const agent = client('agents', 'support-bot').operator;
    for (const [rpc, req] of [
      ['ListApprovals', {}],
      ['GetApproval', { approvalId: id }],
      ['DecideApproval', { approvalId: id, approve: true, reason: 'self-service' }],
    ] as const) {
      await expectRefused(call(agent, rpc, req), /^this RPC requires the operator role "approver"$/);
      // carol has admin and auditor but not approver.
      await expectRefused(call(client('operators', 'carol').operator, rpc, req), /approver/);
    }
    // An operator cannot watch an agent's approval either.
    await expectRefused(
      new Promise<void>((resolve, reject) => {
        const s = client('operators', 'bob').agent.WatchApproval({ approvalId: id });
        s.on('data', () => resolve()); // a watch that yields anything is not refused: expectRefused fails on success
        s.on('error', reject);
      }),
      /^this RPC is for agents$/,
    );
    assert.equal((await call<unknown, Approval__Output>(client('operators', 'bob').operator, 'GetApproval', { approvalId: id })).state, 'PENDING', 'nothing changed it');
  });

  it('after it is consumed: no vote is taken, the owning agent cannot redeem it again, and another agent gets NOT_FOUND', async () => {
    const { id } = await open(['finance']);
    const approved = await broker.app.approvals.get(broker.config.operators['bob']!, id);
    await decide('erin', id);
    const consumed = await broker.app.store.writeApprovals((s) => s.consumeApproval(id, 'lease_review', clock.now()));
    assert.equal(consumed, true);
    assert.equal(await broker.app.store.writeApprovals((s) => s.consumeApproval(id, 'lease_again', clock.now())), false, 'once');
    await expectCode(decide('frank', id, false), grpc.status.FAILED_PRECONDITION, /already consumed/);
    await assert.rejects(broker.app.approvals.check('support-bot', id, approved.binding), /already been used/);
    await assert.rejects(broker.app.approvals.check('analyst-bot', id, { ...approved.binding, agent: 'analyst-bot' }), (e: Error & { kind?: string }) => e.kind === 'not_found');
    const shown = await call<unknown, Approval__Output>(client('operators', 'bob').operator, 'GetApproval', { approvalId: id });
    assert.equal(shown.state, 'APPROVAL_CONSUMED');
    assert.equal(shown.leaseId, 'lease_review');
  });

  it('WatchApproval: a client that goes away leaves no listener; watchers past open_streams are refused; the rest end when it is decided', async () => {
    const { id } = await open(['finance']);
    const before = listenerCount(broker.app.approvals);
    const agent = client('agents', 'support-bot').agent;
    // One watcher that cancels once it has the current state.
    const cancelled = agent.WatchApproval({ approvalId: id });
    await new Promise<void>((resolve) => cancelled.once('data', () => resolve()));
    assert.equal(listenerCount(broker.app.approvals), before + 1);
    cancelled.on('error', () => undefined);
    cancelled.cancel();
    await until('the cancelled watcher to be dropped', () => listenerCount(broker.app.approvals) === before);
    // open_streams is 3 for support-bot: three watchers, a fourth is refused.
    const ended: Array<Promise<string[]>> = [];
    for (let i = 0; i < 3; i++) {
      const s = agent.WatchApproval({ approvalId: id });
      ended.push(
        new Promise((resolve, reject) => {
          const states: string[] = [];
          s.on('data', (a: Approval__Output) => states.push(a.state));
          s.on('error', reject);
          s.on('end', () => resolve(states));
        }),
      );
    }
    await until('three watchers', () => listenerCount(broker.app.approvals) === before + 3);
    await new Promise<void>((resolve, reject) => {
      const s = agent.WatchApproval({ approvalId: id });
      s.on('data', () => undefined);
      s.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.RESOURCE_EXHAUSTED ? resolve() : reject(e)));
    });
    await decide('gina', id);
    for (const states of await Promise.all(ended)) assert.deepEqual(states, ['PENDING', 'APPROVED']);
    await until('every listener gone', () => listenerCount(broker.app.approvals) === before);
  });
});
