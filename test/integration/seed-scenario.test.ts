import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Client as PgClient } from 'pg';
import { call } from '../../src/client/grpc-client';
import type { Approval__Output } from '../../src/gen/secretbroker/v1/Approval';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { startEphemeralPostgres, type EphemeralPostgres } from '../helpers/ephemeral-postgres';
import { readEntries } from '../helpers/evidence-entries';
import { expectDenied, expectRefused, isDenied } from '../helpers/expect-denial';
import { expectCode } from '../helpers/grpc-expect';
import { startHttpsUpstream, type HttpsUpstream } from '../helpers/https-upstream';
import { seedLocalSecrets, testResolver, writeCaBundle } from '../helpers/invoke-broker';

const HELPDESK = 'hd_live_seed_Wq4Zr8Tn2Lm6Xc1V';
const STRIPE = 'sk_live_seed_Pp9Kd3Hs7Bv5Nq2J';

type Entry = Record<string, unknown> & { type: string; index: number };

/**
 * The seed's scenario as one run of the real daemon over mTLS, with a real
 * HTTPS helpdesk and payment upstream and a real PostgreSQL, on a test config
 * built from the dev policies (deploy/dev/policies) and a $1,000-per-day
 * refund budget. One change to the dev policies: refunds up to $100 (not $50)
 * need no approval, so that the four $100 refunds of the story are granted
 * outright. Amounts are in cents.
 */
describe('the seed scenario: a support agent, refunds, an approval, a budget, and a trust drop', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let pg: EphemeralPostgres;
  let admin: PgClient;
  let helpdesk: HttpsUpstream;
  let stripe: HttpsUpstream;
  let broker: RunningBroker;

  before(async () => {
    tmp = tempDir('sb-seed-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    pg = await startEphemeralPostgres();
    admin = new PgClient({ connectionString: pg.adminUrl });
    admin.on('error', () => undefined);
    await admin.connect();
    await admin.query(`CREATE SCHEMA analytics; CREATE TABLE analytics.tickets_daily (day date, n int); INSERT INTO analytics.tickets_daily VALUES ('2026-12-01', 42);`);
    helpdesk = await startHttpsUpstream({ secret: HELPDESK, auth: { kind: 'bearer' }, dnsNames: ['helpdesk.test'] });
    stripe = await startHttpsUpstream({ secret: STRIPE, auth: { kind: 'bearer' }, dnsNames: ['stripe.test'] });
    const caFile = writeCaBundle(tmp.dir, [helpdesk, stripe]);
    const raw = baseRawConfig(pki, tmp.dir);
    // The dev agents' owner: alice owns support-bot and is also a finance approver; bob is the other approver.
    raw['agents'] = { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice' } };
    raw['secrets'] = { 'helpdesk-token': { backend: 'local' }, 'stripe-key': { backend: 'local' } };
    (raw['backends'] as Record<string, unknown>)['appdb'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' } };
    const http = (base: string, extra: Record<string, unknown>) => ({ base_url: base, ca_files: [caFile], allow_networks: ['127.0.0.0/8'], ...extra });
    raw['actions'] = {
      'tickets.update': {
        http: http(`https://helpdesk.test:${helpdesk.port}`, { methods: ['GET', 'PUT'], paths: ['/tickets/{id}'], auth: { bearer: 'helpdesk-token' }, context: { ticket: 'path.id' } }),
        resource: 'ticket/{ticket}',
        max_uses: 10,
      },
      'billing.refund': {
        http: http(`https://stripe.test:${stripe.port}`, { methods: ['POST'], paths: ['/v1/refunds'], auth: { bearer: 'stripe-key' }, context: { amount: 'body.amount' } }),
        resource: 'stripe',
        max_uses: 1,
        budget: { field: 'amount', per: '24h', limit: 100_000 },
      },
      'analytics.query': { postgres: { backend: 'appdb', grants: [{ privilege: 'SELECT', schema: 'analytics' }], ttl: '5m' }, resource: 'analytics' },
    };
    // The dev config's trust section: evaluation signals, and the broker's own (on, as in the daemon).
    raw['trust'] = { initial: 600, fresh_within: '24h', signals: { 'eval.failed': { weight: -150 }, 'eval.passed': { weight: 50 }, 'broker.denial_burst': { weight: -50, count: 10, within: '1m' } } };
    const policies = String(raw['policies']);
    const billing = path.join(policies, 'billing.cedar');
    const devBilling = readFileSync(billing, 'utf8');
    assert.match(devBilling, /context\.amount <= 5000 \}/, 'the dev small-refund rule is as this test expects');
    writeFileSync(billing, devBilling.replace('context.amount <= 5000 }', 'context.amount <= 10000 }'));
    // Support reads analytics through a short-lived role while its trust is standard or better.
    writeFileSync(
      path.join(policies, 'seed-analytics.cedar'),
      `@id("analytics-support")\n@reason("Support reads analytics while trusted.")\npermit (principal in Group::"support", action == Action::"analytics.query", resource)\nwhen { context.tier == "trusted" || context.tier == "standard" };\n`,
    );
    await seedLocalSecrets(raw, { 'helpdesk-token': HELPDESK, 'stripe-key': STRIPE, 'appdb-admin': pg.adminUrl });
    broker = await startBroker({ pki, dir: tmp.dir, raw, resolver: testResolver(new Map([['helpdesk.test', ['127.0.0.1']], ['stripe.test', ['127.0.0.1']]])) });
  });
  after(async () => {
    await broker?.close();
    await helpdesk?.close();
    await stripe?.close();
    await admin?.end().catch(() => undefined);
    await pg?.close();
    tmp?.cleanup();
  });

  const agent = () => broker.clientFor('agents', 'support-bot').agent;
  const operator = (name: string) => broker.clientFor('operators', name).operator;
  const amount = (cents: number) => ({ fields: { amount: { numberValue: cents } } });
  const requestRefund = (cents: number, extra: Record<string, unknown> = {}) =>
    call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'billing.refund', resource: 'stripe', params: amount(cents), ...extra });
  const refund = (leaseId: string, cents: number) =>
    call<unknown, InvokeResponse__Output>(agent(), 'Invoke', {
      leaseId,
      method: 'POST',
      path: '/v1/refunds',
      headers: [{ name: 'content-type', value: 'application/json' }],
      body: Buffer.from(JSON.stringify({ amount: cents, charge: 'ch_seed' })),
    });
  const refundsMade = () => stripe.requests.filter((r) => r.method === 'POST' && r.url === '/v1/refunds').length;

  it('runs end to end', async () => {
    // 1. The support agent reads tickets freely (a one-shot brokered GET).
    const read = await call<unknown, InvokeResponse__Output>(agent(), 'Invoke', { action: 'tickets.update', method: 'GET', path: '/tickets/T-100' });
    assert.equal(read.statusCode, 200);
    assert.equal(helpdesk.requests.length, 1);

    // 2. A $50 refund is granted and made.
    const small = await requestRefund(5_000);
    assert.equal(small.status, 'GRANTED', JSON.stringify(small.explanation));
    assert.equal((await refund(small.lease!.leaseId, 5_000)).statusCode, 200);
    assert.equal(refundsMade(), 1);

    // 3. A $500 refund waits for a finance approver.
    const big = await requestRefund(50_000, { purpose: 'customer 4711: double charge' });
    assert.equal(big.status, 'PENDING_APPROVAL', JSON.stringify(big.explanation));
    const approvalId = big.approvalId;
    assert.ok(approvalId);
    assert.equal(big.lease, null);
    // The agent's owner, though a finance approver, is refused (four eyes); a second approver approves.
    await expectRefused(call(operator('alice'), 'DecideApproval', { approvalId, approve: true, reason: 'looks fine' }), /owns the agent support-bot.*four eyes/);
    const decided = await call<unknown, Approval__Output>(operator('bob'), 'DecideApproval', { approvalId, approve: true, reason: 'double charge confirmed' });
    assert.equal(decided.state, 'APPROVED');

    // 4. Redeeming it for a different amount is refused (naming what differs) and does not use it up.
    await expectCode(requestRefund(45_000, { purpose: 'customer 4711: double charge', approvalId }), grpc.status.FAILED_PRECONDITION, /params\.amount/);
    // Redeemed as approved: granted; exactly one brokered refund follows; a second use is refused.
    const redeemed = await requestRefund(50_000, { purpose: 'customer 4711: double charge', approvalId });
    assert.equal(redeemed.status, 'GRANTED', JSON.stringify(redeemed.explanation));
    assert.equal((await refund(redeemed.lease!.leaseId, 50_000)).statusCode, 200);
    assert.equal(refundsMade(), 2);
    await expectCode(refund(redeemed.lease!.leaseId, 50_000), grpc.status.FAILED_PRECONDITION, /exhausted|no uses/);
    assert.equal(refundsMade(), 2);
    // The approval is spent: redeeming it again gives nothing.
    const again = await requestRefund(50_000, { purpose: 'customer 4711: double charge', approvalId }).catch((e: Error) => e);
    assert.ok(again instanceof Error || isDenied(again), `a spent approval grants nothing: ${JSON.stringify(again)}`);
    assert.equal(refundsMade(), 2);

    // 5. Four $100 refunds are granted ($950 spent in all) ...
    for (let i = 0; i < 4; i++) {
      const r = await requestRefund(10_000);
      assert.equal(r.status, 'GRANTED', `refund ${i + 1}: ${JSON.stringify(r.explanation)}`);
      assert.equal((await refund(r.lease!.leaseId, 10_000)).statusCode, 200);
    }
    assert.equal(refundsMade(), 6);
    assert.equal(await broker.app.store.budgetUsed({ agent: 'support-bot', action: 'billing.refund', field: 'amount', since: Date.now() - 86_400_000 }), 95_000);
    // ... and a fifth is denied, with an explanation naming the budget.
    const fifth = expectDenied(await requestRefund(10_000));
    assert.match(JSON.stringify(fifth), /budget/i);
    assert.equal(refundsMade(), 6);

    // 6. The agent holds a live database lease; evaluation failures lower its trust.
    const db = await call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'analytics.query' });
    assert.equal(db.status, 'GRANTED', JSON.stringify(db.explanation));
    const role = db.lease!.databaseCredential!.user;
    const roleExists = async () => (await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount === 1;
    assert.equal(await roleExists(), true);
    // Three failed evaluations (-150 each) take it from 600 to 150: restricted after the first, quarantined after the third.
    let revoked = 0;
    let goneAfter: number | undefined;
    for (let i = 0; i < 3; i++) {
      const sentAt = Date.now();
      const t = await call<unknown, { score: number; tier: string; leasesRevoked: number }>(operator('alice'), 'ReportSignal', {
        agent: 'support-bot',
        kind: 'eval.failed',
        detail: `offline eval run ${i + 1}: unsafe refund reasoning`,
      });
      revoked += t.leasesRevoked;
      if (goneAfter === undefined && t.leasesRevoked > 0) {
        // Its role is gone within 1 second of the signal that took the lease's authority away.
        while ((await roleExists()) && Date.now() < sentAt + 1_000) await new Promise((r) => setTimeout(r, 20));
        assert.equal(await roleExists(), false, 'the role was dropped within 1 s of the signal');
        goneAfter = Date.now() - sentAt;
      }
      if (i === 2) assert.equal(t.tier, 'quarantined');
    }
    assert.ok(goneAfter !== undefined && goneAfter <= 1_000, `role gone ${goneAfter} ms after the signal`);
    // The database lease, and at quarantine the refund leases still held (used up, not yet expired).
    assert.ok(revoked >= 1, 'the replies count the leases revoked');
    const lease = await call<unknown, { status: string }>(agent(), 'GetLease', { leaseId: db.lease!.leaseId });
    assert.equal(lease.status, 'REVOKED');
    // A $50 refund is now denied (the dev policy refuses a quarantined agent's refunds), with a hint.
    expectDenied(await requestRefund(5_000));
    assert.equal(refundsMade(), 6);

    // The evidence tells the story: the approval, its vote, the trust change, and the revocation naming it.
    const entries = await readEntries<Entry>(broker.app.ledger!);
    assert.ok(entries.some((e) => e.type === 'approval.requested'));
    assert.ok(entries.some((e) => e.type === 'approval.decided'));
    const changes = entries.filter((e) => e.type === 'trust.changed');
    assert.ok(changes.length >= 1);
    const revokedEntry = entries.find((e) => e.type === 'lease.revoked' && (e['lease'] as { id?: string })?.id === db.lease!.leaseId);
    assert.ok(revokedEntry, 'lease.revoked for the database lease');
    assert.match(JSON.stringify(revokedEntry), /trust\.changed/);
    assert.ok(entries.some((e) => e.type === 'credential.revoked' && (e['lease'] as { id?: string })?.id === db.lease!.leaseId));
  });
});
