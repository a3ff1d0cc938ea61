import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { ExplainResponse__Output } from '../../src/gen/secretbroker/v1/ExplainResponse';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { ManualClock } from '../../src/lib/clock';
import { makeTestPki, tempDir, type RunningBroker, type TestPki, cliEnv } from '../helpers/broker-harness';
import { readEntries } from '../helpers/evidence-entries';
import { expectDenialEntry, expectDenied, expectDeniedCall, type TrailerExplanation } from '../helpers/expect-denial';
import { startInvokeBroker } from '../helpers/invoke-broker';
import { runCapture } from '../helpers/run-cli';

interface Entry {
  type: string;
  agent?: string;
  action?: string;
  decision?: { effect: string };
  explanation?: { hint: string; summary: string; candidates: Array<{ id: string; failed_conditions: string[] }>; deciding_policies: Array<{ id: string }>; trust: { tier: string } };
}

const SMALL = 'context.amount <= 5000 was false (context.amount = 60000)';
const APPROVED = 'context.amount <= 50000 was false (context.amount = 60000)';
const HINT = /^Narrow amount to at most 5000 \(billing-refund-small\), or narrow amount to at most 50000 and ask group finance for approval \(billing-refund-approved\)\.$/;
// Many permits a bulk refund could meet, each with a long @requires: the whole explanation is far over 4 KiB.
const BULK = Array.from(
  { length: 40 },
  (_, i) =>
    `@id("bulk-${String(i).padStart(2, '0')}") @requires("${'A bulk refund for the support group within the quarterly reconciliation limits. '.repeat(3)}")\n` +
    `permit (principal in Group::"support", action == Action::"billing.bulk", resource) when { context.amount <= ${1000 + i} };\n`,
).join('\n');

/**
 * Exact explanations over the real daemon (issue 14 item 1, invariant 7): the
 * failed condition with the value it saw, the same in the gRPC response, the
 * Invoke trailer, the CLI's --json and human output and the decision entry; a
 * quarantined agent gets the hint only, while an operator's Explain shows all;
 * the trailer stays under 4 KiB, cut with a marker.
 */
describe('explanations: exact, everywhere alike, hint-only when quarantined, bounded in the trailer', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let close: () => Promise<void>;
  const clock = new ManualClock(Date.UTC(2026, 5, 1));

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const started = await startInvokeBroker({
      pki,
      dir: tmp.dir,
      clock,
      actions: (http) => ({
        'billing.refund': { http: http({ methods: ['POST'], paths: ['/v1/refunds'], context: { amount: 'body.amount' } }), resource: 'stripe', max_uses: 1 },
        'billing.bulk': { http: http({ methods: ['POST'], paths: ['/v1/bulk'], context: { amount: 'body.amount' } }), resource: 'stripe', max_uses: 1 },
      }),
      policies: { 'bulk.cedar': BULK },
      raw: (raw) => {
        (raw['agents'] as Record<string, Record<string, unknown>>)['analyst-bot']!['owner'] = 'alice';
      },
    });
    broker = started.broker;
    close = started.close;
  });
  after(async () => {
    await close?.();
    tmp?.cleanup();
  });
  afterEach(async () => {
    await broker.app.store.setTrust({ agent: 'support-bot', score: 600, updatedAt: clock.now() });
  });

  const agent = (name = 'support-bot') => broker.clientFor('agents', name).agent;
  const operator = () => broker.clientFor('operators', 'carol').operator;
  const amount = (n: number) => ({ fields: { amount: { numberValue: n } } });
  const request = (n: number, action = 'billing.refund', who = 'support-bot') =>
    call<unknown, LeaseResponse__Output>(agent(who), 'RequestLease', { action, purpose: 'ticket T-9', params: amount(n) });
  const oneShot = (n: number, action = 'billing.refund') =>
    call<unknown, InvokeResponse__Output>(agent(), 'Invoke', {
      action,
      method: 'POST',
      path: action === 'billing.bulk' ? '/v1/bulk' : '/v1/refunds',
      body: Buffer.from(JSON.stringify({ amount: n })),
      headers: [{ name: 'content-type', value: 'application/json' }],
    });
  const explain = (n: number, action = 'billing.refund') => call<unknown, ExplainResponse__Output>(operator(), 'Explain', { agent: 'support-bot', action, params: amount(n) });
  const lastDecision = async (): Promise<Entry> => (await readEntries<Entry>(broker.app.ledger!)).filter((e) => e.type === 'decision').pop()!;
  const agentEnv = () => cliEnv(broker.addr, pki, 'agents', 'support-bot');
  const failedOf = (cands: ReadonlyArray<{ id: string; failedConditions?: string[]; failed_conditions?: string[] }>) =>
    Object.fromEntries(cands.map((c) => [c.id, c.failedConditions ?? c.failed_conditions]));

  it('a refund over the limit names the failed condition with its value: gRPC, Invoke trailer, CLI --json and human, evidence', async () => {
    // gRPC: RequestLease.
    const res = expectDenied(await request(60_000), HINT);
    const fromGrpc = failedOf(res.candidates);
    assert.deepEqual(fromGrpc['billing-refund-small'], [SMALL]);
    assert.deepEqual(fromGrpc['billing-refund-approved'], [APPROVED]);
    assert.deepEqual(res.trust, { score: 600, tier: 'standard' }, 'the trust and tier at decision time');
    // The decision entry carries the same explanation.
    const entry = await lastDecision();
    expectDenialEntry(entry, HINT);
    assert.deepEqual(failedOf(entry.explanation!.candidates), fromGrpc);

    // Invoke: the trailer (JSON) and the hint as the status detail.
    const { err, explanation } = await expectDeniedCall(oneShot(60_000), { hint: HINT });
    assert.equal(err.details, explanation.hint);
    assert.deepEqual(failedOf(explanation['candidates'] as Array<{ id: string; failed_conditions: string[] }>), fromGrpc);

    // CLI --json: the response as JSON (exit 3, denied).
    const json = await runCapture(['lease', 'request', 'billing.refund', '--param', 'amount=60000', '--json'], '', agentEnv());
    assert.equal(json.code, 3, json.err);
    const doc = JSON.parse(json.out.slice(0, json.out.indexOf('\n}\n') + 2)) as LeaseResponse__Output;
    assert.deepEqual(failedOf(expectDenied(doc, HINT).candidates), fromGrpc);
    // CLI, for a person: each failed condition and the next step.
    const human = await runCapture(['lease', 'request', 'billing.refund', '--param', 'amount=60000'], '', agentEnv());
    assert.equal(human.code, 3);
    assert.ok(human.out.includes(`failed: ${SMALL}`), human.out);
    assert.match(human.out, /next: Narrow amount to at most 5000/);
    // A denied Invoke from the CLI shows the trailer's explanation too.
    const inv = await runCapture(['invoke', 'billing.refund', '--param', 'amount=60000', '--method', 'POST', '--path', '/v1/refunds', '--body', '{"amount":60000}', '--header', 'content-type:application/json'], '', agentEnv());
    assert.equal(inv.code, 3, inv.err);
    assert.ok(inv.err.includes(`failed: ${APPROVED}`), inv.err);
  });

  it('an approval names the group and the votes missing; a request no rule covers is referred to the agent\'s owner', async () => {
    const pending = await request(20_000);
    assert.equal(pending.status, 'PENDING_APPROVAL');
    assert.deepEqual(pending.explanation!.approval, { groups: ['finance'], rule: 'billing-refund-approved', missing: [{ group: 'finance', votes: 1 }], approvalId: pending.approvalId });
    // analyst-bot is in no group any refund permit names: ask its owner.
    const nobody = expectDenied(await request(100, 'billing.refund', 'analyst-bot'), /^No rule lets analyst-bot do billing\.refund on stripe; ask alice\.$/);
    assert.deepEqual(failedOf(nobody.candidates)['billing-refund-small'], ['principal must be in Group::"support" (principal = Agent::"analyst-bot", in Group::"analysts")']);
  });

  it('a quarantined agent gets the hint only, on RequestLease, Invoke and RenewLease; Explain by an operator shows it all', async () => {
    const held = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'tickets.update', params: { fields: { ticket: { stringValue: 'T-1' } } } });
    assert.equal(held.status, 'GRANTED');
    await broker.app.store.setTrust({ agent: 'support-bot', score: 100, updatedAt: clock.now() });

    // RequestLease: decision and hint, nothing else.
    const res = await request(100);
    const e = expectDenied(res, /quarantined|trust/);
    assert.equal(e.hintOnly, true);
    assert.deepEqual([e.summary, e.decidingPolicies, e.candidates, e.trust, e.policyVersion, e.budget, e.approval], ['', [], [], null, '', null, null]);
    // Invoke: the trailer holds the decision and hint only.
    const { explanation } = await expectDeniedCall(oneShot(100));
    assert.deepEqual(Object.keys(explanation).sort(), ['decision', 'hint', 'hint_only']);
    assert.equal(explanation.hint, e.hint);
    // RenewLease of a lease granted before: refused, the hint only.
    const renew = await expectDeniedCall(call(agent(), 'RenewLease', { leaseId: held.lease!.leaseId, ttlSeconds: 60 }), { code: grpc.status.FAILED_PRECONDITION });
    assert.deepEqual(Object.keys(renew.explanation).sort(), ['decision', 'hint', 'hint_only']);

    // The operator sees everything: the forbid that decided, the candidates, the trust.
    const full = expectDenied(await explain(100));
    assert.equal(full.hintOnly, false);
    assert.deepEqual(full.decidingPolicies.map((p) => p.id), ['billing-refund-quarantine']);
    assert.deepEqual(full.trust, { score: 100, tier: 'quarantined' });
    assert.deepEqual(full.candidates.map((c) => c.id).sort(), ['billing-refund-approved', 'billing-refund-small']);
    assert.equal(full.hint, e.hint);
    // So does the evidence.
    const entry = await lastDecision();
    expectDenialEntry(entry);
    assert.deepEqual(entry.explanation!.deciding_policies.map((p) => p.id), ['billing-refund-quarantine']);
  });

  it('the trailer stays under 4 KiB, valid JSON cut with a marker; Explain returns the whole explanation', async () => {
    const whole = expectDenied(await explain(999_999, 'billing.bulk'));
    assert.equal(whole.candidates.length, 40);
    assert.ok(JSON.stringify(whole).length > 8192, 'the whole explanation is far over the trailer bound');
    assert.match(whole.hint, /\(or 37 more: see the candidates\)\.$/);
    const { err, explanation } = await expectDeniedCall(oneShot(999_999, 'billing.bulk'));
    const raw = String(err.metadata.get('secretbroker-explanation')[0]);
    assert.ok(raw.length < 4096, `${raw.length} bytes`);
    const cut = explanation as TrailerExplanation & { candidates: unknown[]; truncated: string };
    assert.match(cut.truncated, /candidates left out to fit 4000 bytes; Explain shows the whole explanation/);
    assert.ok(cut.candidates.length > 0 && cut.candidates.length < 40, `${cut.candidates.length} candidates kept`);
    assert.equal(cut.hint, whole.hint);
  });
});
