import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { loadPolicies } from '../../../src/app';
import { LeaseService } from '../../../src/broker/lease-service';
import { TrustRevocation, type ApprovalRequestInputs, type PendingApprovals } from '../../../src/broker/trust-revocation';
import { compileConfig } from '../../../src/config/compile';
import { ManualClock } from '../../../src/lib/clock';
import { IdSource } from '../../../src/lib/ids';
import { createLogger } from '../../../src/lib/logger';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { lease } from '../../contract/store-contract';
import { baseRawConfig, LogCapture, makeTestPki, tempDir } from '../../helpers/broker-harness';

/**
 * TrustRevocation with a real store, the real policy engine (the dev
 * policies) and LeaseService.decide: which leases a drop ends, and the
 * pending-approval re-check it hands the approvals service (which lives on
 * another branch: here the narrow interface records what it is asked).
 */
describe('TrustRevocation (real SQLite store, real policies)', function () {
  this.timeout(20_000);
  const log = createLogger({ level: 'debug', destination: new LogCapture() });
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;

  before(() => {
    tmp = tempDir();
  });
  after(async () => {
    await store?.close();
    tmp.cleanup();
  });

  it('ends only leases the new trust no longer permits (one transaction, without a log), and rejects the pending approvals policy now denies', async () => {
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
    const raw = baseRawConfig(pki, tmp.dir, { operators: { alice: { id: 'spiffe://example.org/human/alice', roles: ['approver'] } }, approvals: { finance: { approvers: ['alice'], required: 1 } } });
    raw['secrets'] = { 'helpdesk-token': { backend: 'local', name: 'helpdesk-token' }, 'stripe-key': { backend: 'local', name: 'stripe-key' } };
    (raw['actions'] as Record<string, unknown>)['billing.refund'] = {
      http: { base_url: 'https://localhost:1', methods: ['POST'], paths: ['/v1/refunds'], auth: { bearer: 'stripe-key' }, context: { amount: 'body.amount' } },
      resource: 'stripe',
    };
    const config = compileConfig(raw, path.join(tmp.dir, 'config.yaml'));
    const policy = await loadPolicies(config);
    store = new SqliteStore({ path: path.join(tmp.dir, 'broker.db') });
    const clock = new ManualClock();
    // Approvals wired (as in the daemon), so an approval obligation means "ask", not "deny"; nothing is opened here.
    const gate = { open: () => Promise.reject(new Error('not opened in this test')), check: () => Promise.reject(new Error('not redeemed in this test')) };
    const leases = new LeaseService({ config, store, policy: () => policy, clock, ids: new IdSource(), approvals: { gate, statements: { consumeApproval: () => false } } });
    const asked: ApprovalRequestInputs[] = [];
    let verdicts: boolean[] = [];
    const approvals: PendingApprovals = {
      async recheckForAgent(agent, permits, _log, cause) {
        assert.equal(agent, 'support-bot');
        assert.deepEqual(cause, { type: 'trust.changed', index: 7 });
        const pending: ApprovalRequestInputs[] = [
          { action: 'billing.refund', resource: 'stripe', params: { amount: 50000 } },
          { action: 'billing.refund', resource: 'stripe', params: { amount: 40000 } },
        ];
        asked.push(...pending);
        verdicts = await Promise.all(pending.map((b) => permits(b)));
        return verdicts.filter((v) => !v).length;
      },
    };
    const revocation = new TrustRevocation({ config, clock, store, leases, approvals });
    const upd = lease({ id: 'upd', agent: 'support-bot', action: 'tickets.update', resource: 'ticket/T-1', context: { ticket: 'T-1' }, params: { ticket: 'T-1' }, expiresAt: clock.now() + 60_000, maxExpiresAt: clock.now() + 120_000 });
    const refund = lease({ id: 'refund', agent: 'support-bot', action: 'billing.refund', resource: 'stripe', context: { amount: 100 }, params: { amount: 100 }, expiresAt: clock.now() + 60_000, maxExpiresAt: clock.now() + 120_000 });
    // Past its expiry, not yet reaped: it has ended already, and the reaper records it as expired, not the drop as revoked.
    const stale = lease({ id: 'stale', agent: 'support-bot', action: 'tickets.update', resource: 'ticket/T-2', context: { ticket: 'T-2' }, params: { ticket: 'T-2' }, expiresAt: clock.now(), maxExpiresAt: clock.now() + 120_000 });
    for (const l of [upd, refund, stale]) await store.insertLease(l);
    const agent = config.agents['support-bot']!;
    const cause = { origin: 'x', index: 7, leafHash: Buffer.alloc(32) };

    // Restricted: tickets.update needs standard or better; a small refund is still permitted.
    // The drop is stored first (the trust service does that); the leases are re-decided under the trust stored now.
    await store.setTrust({ agent: 'support-bot', score: 300, updatedAt: clock.now() });
    assert.equal(await revocation.reevaluate({ agent, trust: { score: 300, tier: 'restricted', fresh: true }, cause }, log), 1);
    assert.equal((await store.getLease('upd'))!.status, 'revoked');
    assert.match((await store.getLease('upd'))!.revokeReason!, /trust dropped to 300 \(restricted\)/);
    assert.equal((await store.getLease('refund'))!.status, 'active');
    assert.equal((await store.getLease('stale'))!.status, 'active', 'left to the reaper');
    assert.deepEqual(verdicts, [true, true], 'restricted may still ask finance');

    // Quarantined: the forbid on billing.refund ends the refund lease and both pending approvals.
    await store.setTrust({ agent: 'support-bot', score: 100, updatedAt: clock.now() });
    assert.equal(await revocation.reevaluate({ agent, trust: { score: 100, tier: 'quarantined', fresh: true }, cause }, log), 1);
    assert.equal((await store.getLease('refund'))!.status, 'revoked');
    assert.deepEqual(verdicts, [false, false]);
    assert.equal(asked.length, 4);

    // A lease whose action is no longer configured cannot be re-decided: that is a denial, so a drop ends it
    // (a dynamic credential it holds would otherwise stay live upstream until the lease expires).
    const orphan = lease({ id: 'orphan', agent: 'support-bot', action: 'removed.action', resource: 'r', expiresAt: clock.now() + 60_000, maxExpiresAt: clock.now() + 120_000 });
    await store.insertLease(orphan);
    assert.equal(await revocation.reevaluate({ agent, trust: { score: 100, tier: 'quarantined', fresh: true }, cause }, log), 1);
    assert.equal((await store.getLease('orphan'))!.status, 'revoked');
  });
});
