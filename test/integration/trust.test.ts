import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { InvokeHooks } from '../../src/broker/invoke-service';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { TrustState__Output } from '../../src/gen/secretbroker/v1/TrustState';
import { ManualClock } from '../../src/lib/clock';
import { makeTestPki, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { readEntries } from '../helpers/evidence-entries';
import { expectDenied, expectRefused } from '../helpers/expect-denial';
import { expectCode } from '../helpers/grpc-expect';
import { startInvokeBroker } from '../helpers/invoke-broker';
import { runCapture } from '../helpers/run-cli';

/**
 * Trust over the real daemon and mTLS: ReportSignal / SetTrust / GetTrust and
 * their roles, signal kinds from config (sign and bound), lazy decay recorded
 * once per tier change, context.trust_fresh, a policy on context.tier that
 * changes its answer after a drop (no stale cache), the drop revoking the
 * agent's live leases that policy no longer permits (and only those), and the
 * broker's own signals.
 */
type Entry = Record<string, unknown> & { type: string; index: number; by?: string; agent?: string };

const HOUR = 3_600_000;

const POLICIES = {
  'trust-test.cedar': `
@id("tickets-view-any-tier")
@reason("Reading a ticket is allowed at any tier.")
permit (principal in Group::"support", action == Action::"tickets.view", resource);

@id("echo-any-tier")
permit (principal in Group::"support", action == Action::"echo.read", resource);

@id("reports-fresh-trust")
@reason("Reports need trust confirmed recently.")
@requires("A signal or set confirmed the agent's trust within trust.fresh_within.")
permit (principal in Group::"support", action == Action::"reports.read", resource)
when { context.trust_fresh };
`,
};

describe('trust: signals, sets, decay, freshness, and a drop that reaches live leases (real daemon)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let b: Awaited<ReturnType<typeof startInvokeBroker>>;
  // Test hook: runs between a grant's decision and its commit.
  const hooks: InvokeHooks = {};
  let broker: RunningBroker;
  let clock: ManualClock;
  let n = 0;

  before(async () => {
    tmp = tempDir('sb-trust-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
  });
  after(() => tmp?.cleanup());
  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    const dir = path.join(tmp.dir, `d${n++}`);
    mkdirSync(dir, { recursive: true });
    b = await startInvokeBroker({
      pki,
      dir,
      clock,
      hooks,
      policies: POLICIES,
      actions: (http) => ({
        'tickets.view': { http: http({ methods: ['GET'], paths: ['/tickets/{id}'], context: { ticket: 'path.id' } }), resource: 'ticket/{ticket}', max_uses: 20 },
        'reports.read': { http: http({ methods: ['GET'], paths: ['/reports/{id}'] }), resource: 'reports', max_uses: 5 },
        'echo.read': { http: http({ methods: ['GET'], paths: ['/echo'] }), resource: 'echo', max_uses: 5 },
      }),
      configure: (raw) => {
        raw['trust'] = {
          fresh_within: '1h',
          decay: { per: '1h', points: 100 },
          signals: {
            'eval.failed': { weight: -150 },
            'eval.passed': { weight: 50 },
            'broker.denial_burst': { weight: -50, count: 3, within: '1m' },
            'broker.outside_template': { weight: -25 },
            'broker.secret_echo': { weight: -100 },
          },
        };
      },
    });
    broker = b.broker;
  });
  afterEach(async () => {
    await b?.close();
  });

  const agent = (): BrokerClients['agent'] => broker.clientFor('agents', 'support-bot').agent;
  const op = (name: string): BrokerClients['operator'] => broker.clientFor('operators', name).operator;
  const admin = (): BrokerClients['operator'] => op('alice');
  const signal = (req: Record<string, unknown>) => call<unknown, TrustState__Output>(admin(), 'ReportSignal', { agent: 'support-bot', ...req });
  const show = (history = 0) => call<unknown, TrustState__Output>(op('carol'), 'GetTrust', { agent: 'support-bot', history });
  const lease = (action: string, params: Record<string, string>, maxUses = 5) =>
    call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', {
      action,
      params: { fields: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, { stringValue: v }])) },
      maxUses,
    });
  const entries = async (type: string): Promise<Entry[]> => (await readEntries<Entry>(broker.app.ledger!)).filter((e) => e.type === type);

  it('ReportSignal moves the score by the configured weight, records trust.changed with old, new, signal and who, and GetTrust shows it with history', async () => {
    const before = await show();
    assert.equal(before.score, 600);
    assert.equal(before.tier, 'standard');
    assert.equal(before.fresh, false);
    const r = await signal({ kind: 'eval.passed', detail: 'nightly eval suite passed' });
    assert.equal(r.previousScore, 600);
    assert.equal(r.score, 650);
    assert.equal(r.fresh, true);
    assert.equal(r.leasesRevoked, 0);
    const partial = await signal({ kind: 'eval.failed', weight: -20, detail: 'one eval regressed' });
    assert.equal(partial.score, 630);
    const [first, second] = await entries('trust.changed');
    assert.deepEqual(first!['trust'], { old: { score: 600, tier: 'standard' }, new: { score: 650, tier: 'standard' }, confirmed: true });
    assert.deepEqual(first!['signal'], { kind: 'eval.passed', weight: 50, detail: 'nightly eval suite passed' });
    assert.equal(first!.by, 'operator:alice');
    assert.equal(first!.agent, 'support-bot');
    assert.equal(Number(r.evidence!.index), first!.index, 'the reply names its trust.changed entry');
    assert.deepEqual(second!['signal'], { kind: 'eval.failed', weight: -20, detail: 'one eval regressed' });

    const set = await call<unknown, TrustState__Output>(admin(), 'SetTrust', { agent: 'support-bot', score: 900, reason: 'reviewed by security' });
    assert.equal(set.tier, 'trusted');
    const [, , third] = await entries('trust.changed');
    assert.deepEqual(third!['set'], { reason: 'reviewed by security' });

    const now = await show(10);
    assert.equal(now.score, 900);
    assert.deepEqual(
      now.history.map((h) => [h.kind, h.oldScore, h.newScore, h.weight, h.by, h.note]),
      [
        ['set', 630, 900, 0, 'operator:alice', 'reviewed by security'],
        ['eval.failed', 650, 630, -20, 'operator:alice', 'one eval regressed'],
        ['eval.passed', 600, 650, 50, 'operator:alice', 'nightly eval suite passed'],
      ],
    );
    assert.equal((await show(1)).history.length, 1);
  });

  it('roles: an approver cannot SetTrust or ReportSignal, an auditor can GetTrust but not change it, an agent cannot call Operator', async () => {
    await expectRefused(call(op('bob'), 'SetTrust', { agent: 'support-bot', score: 900, reason: 'x' }), /^this RPC requires the operator role "admin"$/);
    await expectRefused(call(op('bob'), 'ReportSignal', { agent: 'support-bot', kind: 'eval.passed', detail: 'x' }), /^this RPC requires the operator role "admin"$/);
    await expectRefused(call(op('carol'), 'ReportSignal', { agent: 'support-bot', kind: 'eval.passed', detail: 'x' }), /^this RPC requires the operator role "admin"$/);
    await expectRefused(call(op('bob'), 'GetTrust', { agent: 'support-bot' }), /^this RPC requires the operator role "auditor"$/);
    assert.equal((await show()).score, 600);
    const agentAsOperator = broker.clientFor('agents', 'support-bot').operator;
    await expectRefused(call(agentAsOperator, 'ReportSignal', { agent: 'support-bot', kind: 'eval.passed', detail: 'x' }), /^this RPC requires the operator role "admin"$/);
    await expectRefused(call(agentAsOperator, 'GetTrust', { agent: 'support-bot' }), /^this RPC requires the operator role "auditor"$/);
    assert.equal((await entries('trust.changed')).length, 0, 'nothing was changed');
  });

  it('bad input is INVALID_ARGUMENT naming the field; nothing changes', async () => {
    await expectCode(signal({ agent: 'nobody', kind: 'eval.failed', detail: 'x' }), grpc.status.INVALID_ARGUMENT, /^agent: /);
    await expectCode(signal({ kind: 'vibes', detail: 'x' }), grpc.status.INVALID_ARGUMENT, /^kind: .*not a configured signal kind/);
    await expectCode(signal({ kind: '', detail: 'x' }), grpc.status.INVALID_ARGUMENT, /^kind: /);
    await expectCode(signal({ kind: 'broker.denial_burst', detail: 'x' }), grpc.status.INVALID_ARGUMENT, /^kind: .*raised by the broker/);
    await expectCode(signal({ kind: 'eval.failed', weight: 10, detail: 'x' }), grpc.status.INVALID_ARGUMENT, /^weight: must be negative/);
    await expectCode(signal({ kind: 'eval.passed', weight: -10, detail: 'x' }), grpc.status.INVALID_ARGUMENT, /^weight: must be positive/);
    await expectCode(signal({ kind: 'eval.failed', weight: -151, detail: 'x' }), grpc.status.INVALID_ARGUMENT, /^weight: must be at most 150/);
    await expectCode(signal({ kind: 'eval.failed', detail: '' }), grpc.status.INVALID_ARGUMENT, /^detail: required/);
    await expectCode(signal({ kind: 'eval.failed', detail: 'two\nlines' }), grpc.status.INVALID_ARGUMENT, /^detail: /);
    await expectCode(call(admin(), 'SetTrust', { agent: 'support-bot', score: 1001, reason: 'x' }), grpc.status.INVALID_ARGUMENT, /^score: /);
    await expectCode(call(admin(), 'SetTrust', { agent: 'support-bot', score: 100, reason: '' }), grpc.status.INVALID_ARGUMENT, /^reason: required/);
    await expectCode(call(admin(), 'SetTrust', { agent: 'nobody', score: 100, reason: 'x' }), grpc.status.INVALID_ARGUMENT, /^agent: /);
    await expectCode(call(op('carol'), 'GetTrust', { agent: 'nobody' }), grpc.status.INVALID_ARGUMENT, /^agent: /);
    assert.equal((await show()).score, 600);
    assert.equal((await entries('trust.changed')).length, 0);
  });

  it('decay is lazy: the score moves toward the baseline with the clock, and only a tier change is recorded, once', async () => {
    await call(admin(), 'SetTrust', { agent: 'support-bot', score: 900, reason: 'start high' });
    assert.equal((await entries('trust.changed')).length, 1);
    clock.advance(HOUR);
    let s = await show();
    assert.deepEqual([s.score, s.tier], [800, 'trusted']);
    assert.equal((await entries('trust.changed')).length, 1, 'a decay within the tier is not recorded');
    clock.advance(HOUR + 10);
    s = await show();
    assert.deepEqual([s.score, s.tier], [700, 'standard']);
    for (let i = 0; i < 3; i++) await show();
    const changes = await entries('trust.changed');
    assert.equal(changes.length, 2, 'the tier change is recorded once, not on every read');
    assert.deepEqual(changes[1]!['trust'], { old: { score: 900, tier: 'trusted' }, new: { score: 700, tier: 'standard' }, decay: { note: 'decay toward 600' } });
    assert.equal(changes[1]!.by, 'broker');
    // The partial hour is kept: at 3 h after the set the score is 600 (the baseline), and stays there.
    clock.advance(HOUR - 10);
    assert.equal((await show()).score, 600);
    clock.advance(10 * HOUR);
    assert.equal((await show()).score, 600);
    assert.equal((await entries('trust.changed')).length, 2);
  });

  it('context.trust_fresh: a policy demanding fresh trust permits after a signal and refuses once fresh_within passed (the cache keys on it)', async () => {
    // Never confirmed: not fresh.
    expectDenied(await lease('reports.read', {}));
    // A set to the same score and tier: only freshness differs from the request above.
    await call(admin(), 'SetTrust', { agent: 'support-bot', score: 600, reason: 'confirmed by review' });
    const granted = await lease('reports.read', {});
    assert.equal(granted.status, 'GRANTED', JSON.stringify(granted.explanation));
    clock.advance(HOUR);
    const s = await show();
    assert.deepEqual([s.score, s.tier, s.fresh], [600, 'standard', false]);
    expectDenied(await lease('reports.read', {}), /trust/i);
  });

  it('a policy on context.tier changes its answer after a drop (no stale cached decision)', async () => {
    assert.equal((await lease('tickets.update', { ticket: 'T-1' })).status, 'GRANTED');
    assert.equal((await lease('tickets.update', { ticket: 'T-1' })).status, 'GRANTED');
    await signal({ kind: 'eval.failed', detail: 'failed the refund eval' });
    const after = expectDenied(await lease('tickets.update', { ticket: 'T-1' }));
    assert.equal(after.trust!.tier, 'restricted');
  });

  it('a trust drop revokes the live leases policy no longer permits, before it answers; their next Invoke is refused; permitted leases stay', async () => {
    const upd = await lease('tickets.update', { ticket: 'T-2' });
    const view = await lease('tickets.view', { ticket: 'T-3' });
    // Used up: no authority left, so a drop neither revokes it nor records it (as a policy reload).
    const spent = await lease('tickets.update', { ticket: 'T-4' }, 1);
    assert.equal(upd.status, 'GRANTED');
    assert.equal(view.status, 'GRANTED');
    await call(agent(), 'Invoke', { leaseId: upd.lease!.leaseId, method: 'GET', path: '/tickets/T-2' });
    await call(agent(), 'Invoke', { leaseId: spent.lease!.leaseId, method: 'GET', path: '/tickets/T-4' });
    assert.equal((await call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: spent.lease!.leaseId })).status, 'EXHAUSTED');
    const requestsBefore = b.upstream.requests.length;

    const r = await signal({ kind: 'eval.failed', detail: 'failed the refund eval' });
    assert.deepEqual([r.score, r.tier], [450, 'restricted']);
    assert.equal(r.leasesRevoked, 1, 'the tickets.update lease only');
    assert.equal((await call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: spent.lease!.leaseId })).status, 'EXHAUSTED');
    assert.equal((await entries('lease.revoked')).filter((e) => (e['lease'] as { id: string }).id === spent.lease!.leaseId).length, 0);

    const got = await call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: upd.lease!.leaseId });
    assert.equal(got.status, 'REVOKED');
    assert.match(got.revokeReason, /trust dropped to 450 \(restricted\)/);
    await expectCode(call(agent(), 'Invoke', { leaseId: upd.lease!.leaseId, method: 'GET', path: '/tickets/T-2' }), grpc.status.FAILED_PRECONDITION, /revoked/);
    // The lease still permitted at restricted is untouched and usable.
    assert.equal((await call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: view.lease!.leaseId })).status, 'ACTIVE');
    await call(agent(), 'Invoke', { leaseId: view.lease!.leaseId, method: 'GET', path: '/tickets/T-3' });
    assert.equal(b.upstream.requests.length, requestsBefore + 1, 'only the permitted lease reached the upstream');

    const revoked = (await entries('lease.revoked')).filter((e) => (e['lease'] as { id: string }).id === upd.lease!.leaseId);
    assert.equal(revoked.length, 1);
    assert.deepEqual(revoked[0]!['cause'], { type: 'trust.changed', index: Number(r.evidence!.index) });
    assert.equal(revoked[0]!.by, 'broker');
    const cause = (await entries('trust.changed')).find((e) => e.index === Number(r.evidence!.index));
    assert.ok(cause, 'the named entry is the trust.changed');

    // A rise revokes nothing; a second drop finds nothing more to revoke.
    assert.equal((await signal({ kind: 'eval.passed', detail: 'ok' })).leasesRevoked, 0);
    assert.equal((await signal({ kind: 'eval.failed', weight: -10, detail: 'minor' })).leasesRevoked, 0);
  });

  it('a drop stored while a lease is being granted (after its decision, before its commit) refuses that grant: no lease outlives the drop', async () => {
    hooks.beforeGrant = async () => {
      delete hooks.beforeGrant;
      const r = await call<unknown, TrustState__Output>(admin(), 'SetTrust', { agent: 'support-bot', score: 450, reason: 'dropped mid-grant' });
      assert.equal(r.tier, 'restricted');
    };
    try {
      await expectCode(lease('tickets.update', { ticket: 'T-7' }), grpc.status.FAILED_PRECONDITION, /trust dropped while this lease was being granted/);
    } finally {
      delete hooks.beforeGrant;
    }
    const live = await broker.app.store.listLeases({ agent: 'support-bot', statuses: ['active'], limit: 100 });
    assert.deepEqual(live.filter((l) => l.action === 'tickets.update'), [], 'no tickets.update lease is live');
    // Asked again at the new trust, policy decides (restricted: denied), and a permitted action is still granted.
    expectDenied(await lease('tickets.update', { ticket: 'T-7' }));
    assert.equal((await lease('tickets.view', { ticket: 'T-7' })).status, 'GRANTED');
  });

  it('a drop whose write began before the request but committed after its decision (an earlier updated_at) refuses the grant too', async () => {
    hooks.beforeGrant = async () => {
      delete hooks.beforeGrant;
      // What a SetTrust that took its time before this request, and committed after the decision read trust, leaves.
      await broker.app.store.setTrust({ agent: 'support-bot', score: 450, updatedAt: clock.now() - 1000 });
    };
    try {
      await expectCode(lease('tickets.update', { ticket: 'T-8' }), grpc.status.FAILED_PRECONDITION, /trust dropped while this lease was being granted/);
    } finally {
      delete hooks.beforeGrant;
    }
    const live = await broker.app.store.listLeases({ agent: 'support-bot', statuses: ['active'], limit: 100 });
    assert.deepEqual(live, [], 'nothing was granted');
    // A rise in the same place is no reason to refuse.
    hooks.beforeGrant = async () => {
      delete hooks.beforeGrant;
      await broker.app.store.setTrust({ agent: 'support-bot', score: 700, updatedAt: clock.now() - 500 });
    };
    try {
      assert.equal((await lease('tickets.view', { ticket: 'T-8' })).status, 'GRANTED');
    } finally {
      delete hooks.beforeGrant;
    }
  });

  it('SetTrust that lowers the score revokes too; to quarantined every refund-like lease goes, read leases stay', async () => {
    const upd = await lease('tickets.update', { ticket: 'T-4' });
    const upd2 = await lease('tickets.update', { ticket: 'T-5' });
    const view = await lease('tickets.view', { ticket: 'T-6' });
    const r = await call<unknown, TrustState__Output>(admin(), 'SetTrust', { agent: 'support-bot', score: 50, reason: 'compromised' });
    assert.equal(r.tier, 'quarantined');
    assert.equal(r.leasesRevoked, 2);
    for (const l of [upd, upd2]) assert.equal((await call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: l.lease!.leaseId })).status, 'REVOKED');
    assert.equal((await call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: view.lease!.leaseId })).status, 'ACTIVE');
  });

  it('broker-raised signals: a burst of denials lowers trust, recorded as trust.changed by the broker', async () => {
    const analyst = broker.clientFor('agents', 'analyst-bot').agent;
    for (let i = 0; i < 3; i++) {
      expectDenied(await call<unknown, LeaseResponse__Output>(analyst, 'RequestLease', { action: 'tickets.update', params: { fields: { ticket: { stringValue: 'T-1' } } } }));
    }
    await broker.app.brokerSignals.settled();
    const s = await call<unknown, TrustState__Output>(op('carol'), 'GetTrust', { agent: 'analyst-bot', history: 5 });
    assert.equal(s.score, 550);
    assert.equal(s.history[0]!.kind, 'broker.denial_burst');
    assert.equal(s.history[0]!.by, 'broker');
    const [e] = (await entries('trust.changed')).filter((x) => x.agent === 'analyst-bot');
    assert.equal(e!.by, 'broker');
    assert.deepEqual((e!['signal'] as { kind: string; weight: number }).kind, 'broker.denial_burst');
    // Two more denials are not a burst (the count starts again).
    for (let i = 0; i < 2; i++) await call(analyst, 'RequestLease', { action: 'tickets.update', params: { fields: { ticket: { stringValue: 'T-1' } } } });
    await broker.app.brokerSignals.settled();
    assert.equal((await call<unknown, TrustState__Output>(op('carol'), 'GetTrust', { agent: 'analyst-bot' })).score, 550);
  });

  it('broker-raised signals: a call outside the template or the lease lowers trust', async () => {
    const l = await lease('tickets.update', { ticket: 'T-8' });
    await expectCode(call(agent(), 'Invoke', { leaseId: l.lease!.leaseId, method: 'GET', path: '/admin/users' }), grpc.status.INVALID_ARGUMENT);
    await expectCode(call(agent(), 'Invoke', { leaseId: l.lease!.leaseId, method: 'GET', path: '/tickets/T-9' }), grpc.status.FAILED_PRECONDITION);
    await broker.app.brokerSignals.settled();
    const s = await show(5);
    assert.equal(s.score, 550);
    assert.deepEqual(s.history.map((h) => [h.kind, h.weight, h.by]), [
      ['broker.outside_template', -25, 'broker'],
      ['broker.outside_template', -25, 'broker'],
    ]);
    assert.equal(b.upstream.requests.length, 0);
    // A drop within the tier leaves a lease policy still permits (with its @max_ttl obligation) alone.
    assert.equal((await call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: l.lease!.leaseId })).status, 'ACTIVE');
  });

  it('broker-raised signals: an upstream that echoes the injected secret lowers trust (the agent still gets the scrubbed answer)', async () => {
    const l = await lease('echo.read', {});
    assert.equal(l.status, 'GRANTED');
    const res = await call<unknown, { statusCode: number; body: Buffer }>(agent(), 'Invoke', { leaseId: l.lease!.leaseId, method: 'GET', path: '/echo' });
    assert.equal(res.statusCode, 200);
    await broker.app.brokerSignals.settled();
    const s = await show(5);
    assert.equal(s.score, 500);
    assert.equal(s.history[0]!.kind, 'broker.secret_echo');
    assert.match(s.history[0]!.note, /^echo\.read: the upstream echoed the injected secret \(\d+ scrubbed\)$/);
  });

  it('CLI: trust signal, set and show (human and --json, --history), as the operator', async () => {
    const alice = pki.layout.operators['alice']!;
    const env = { SECRET_BROKER_ADDR: broker.addr, SECRET_BROKER_CA: pki.layout.caCert, SECRET_BROKER_CERT: alice.cert, SECRET_BROKER_KEY: alice.key };
    const sig = await runCapture(['trust', 'signal', 'support-bot', '--kind', 'eval.failed', '--weight=-30', '--detail', 'eval 17 failed', '--json'], '', env);
    assert.equal(sig.code, 0, sig.err);
    const j = JSON.parse(sig.out) as TrustState__Output;
    assert.deepEqual([j.score, j.tier, j.previousScore, j.leasesRevoked], [570, 'standard', 600, 0]);
    const set = await runCapture(['trust', 'set', 'support-bot', '820', '--reason', 'manual review'], '', env);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /trust 820 \(trusted\), fresh/);
    assert.match(set.out, /was 570 \(standard\)/);
    const shown = await runCapture(['trust', 'show', 'support-bot', '--history'], '', env);
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /570 \(standard\) -> 820 \(trusted\) {2}set by operator:alice: manual review/);
    assert.match(shown.out, /600 \(standard\) -> 570 \(standard\) {2}eval\.failed -30 by operator:alice: eval 17 failed/);
    const json = await runCapture(['trust', 'show', 'support-bot', '--history', '--json'], '', env);
    assert.equal((JSON.parse(json.out) as TrustState__Output).history.length, 2);
    // Bad input: one clear line, the right exit code.
    const bad = await runCapture(['trust', 'signal', 'support-bot', '--kind', 'eval.failed', '--weight', '40', '--detail', 'x'], '', env);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /weight: must be negative/);
    assert.equal(bad.err.trim().split('\n').length, 1);
    const usage = await runCapture(['trust', 'set', 'support-bot', '2000', '--reason', 'x'], '', env);
    assert.equal(usage.code, 2);
    const noDetail = await runCapture(['trust', 'signal', 'support-bot', '--kind', 'eval.failed'], '', env);
    assert.equal(noDetail.code, 2);
  });
});
