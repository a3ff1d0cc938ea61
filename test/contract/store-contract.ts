import { strict as assert } from 'node:assert';
import type { LeaseRecord } from '../../src/leases/lease';
import type { ApprovalRecord, Store } from '../../src/store/store';

export interface StoreFactory {
  /** A fresh, empty store. */
  open(): Promise<Store>;
  /** The same database again (a restart). */
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
}

let seq = 0;
export function lease(over: Partial<LeaseRecord> = {}): LeaseRecord {
  const now = 1_000_000;
  return {
    id: `lease_test_${++seq}_${Math.random().toString(36).slice(2)}`,
    agent: 'support-bot',
    action: 'tickets.update',
    resource: 'ticket/T-1',
    context: { ticket: 'T-1', amount: 500 },
    params: { ticket: 'T-1', amount: 500, reason: 'customer asked', nested: { list: [1, 'two', true, null] } },
    purpose: '',
    status: 'active',
    issuedAt: now,
    expiresAt: now + 60_000,
    maxExpiresAt: now + 120_000,
    maxUses: 1,
    usesLeft: 1,
    policyVersion: 'v1',
    policyIds: ['p1'],
    tier: 'standard',
    updatedAt: now,
    ...over,
  };
}

export function approval(over: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const now = 1_000_000;
  return {
    id: `apr_test_${++seq}_${Math.random().toString(36).slice(2)}`,
    agent: 'support-bot',
    groups: ['finance'],
    binding: { agent: 'support-bot', action: 'billing.refund', resource: 'stripe', params: { amount: 50000 }, purpose: 'refund', ttl_seconds: 0, max_uses: 0, rule: 'r', policy_version: 'v1' },
    bindingHash: 'ab'.repeat(32),
    trust: { score: 600, tier: 'standard', fresh: false },
    state: 'pending',
    votes: [],
    createdAt: now,
    expiresAt: now + 900_000,
    version: 1,
    updatedAt: now,
    ...over,
  };
}

/** One suite every store passes (SQLite now, PostgreSQL for replicas). */
export function storeContract(name: string, factory: () => StoreFactory): void {
  describe(`store contract: ${name}`, function () {
    this.timeout(30_000);
    let f: StoreFactory;
    let store: Store;
    beforeEach(async () => {
      f = factory();
      store = await f.open();
    });
    afterEach(async () => {
      await store.close().catch(() => undefined);
      await f.cleanup();
    });

    it('round-trips a lease exactly', async () => {
      const l = lease({ context: { ticket: 'T-9', amount: 12345, urgent: 'yes' } });
      await store.insertLease(l);
      assert.deepEqual(await store.getLease(l.id), l);
      assert.equal(await store.getLease('nope'), undefined);
    });

    it('keeps the params a lease was decided with through every update (re-checks decide with them)', async () => {
      const params = { ticket: 'T-1', reason: 'customer asked', n: 12, ok: true, none: null, list: [1, { deep: 'x' }] };
      const l = lease({ params, maxUses: 3, usesLeft: 3 });
      await store.insertLease(l);
      assert.deepEqual((await store.useLease(l.id, l.agent, 1_000_100))!.lease.params, params);
      assert.deepEqual((await store.renewLease(l.id, l.agent, 1_070_000, 1_000_200))!.params, params);
      assert.deepEqual((await store.endLease(l.id, 'revoked', 't', 1_000_300))!.params, params);
      assert.deepEqual((await store.getLease(l.id))!.params, params);
      await store.insertLease(lease({ params: {} }));
    });

    it('50 concurrent uses of a one-use lease consume it exactly once', async () => {
      const l = lease({ maxUses: 1, usesLeft: 1 });
      await store.insertLease(l);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.useLease(l.id, l.agent, 1_000_500)));
      const won = results.filter((r) => r !== undefined);
      assert.equal(won.length, 1);
      assert.equal(won[0]!.useNumber, 1);
      const after = await store.getLease(l.id);
      assert.equal(after!.usesLeft, 0);
      assert.equal(after!.status, 'exhausted');
    });

    it('50 concurrent uses of a five-use lease succeed exactly five times with distinct use numbers', async () => {
      const l = lease({ maxUses: 5, usesLeft: 5 });
      await store.insertLease(l);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.useLease(l.id, l.agent, 1_000_500)));
      const nums = results.filter((r) => r !== undefined).map((r) => r!.useNumber).sort();
      assert.deepEqual(nums, [1, 2, 3, 4, 5]);
    });

    it('refuses a use by another agent, after expiry, or once revoked', async () => {
      const l = lease({ maxUses: 10, usesLeft: 10 });
      await store.insertLease(l);
      assert.equal(await store.useLease(l.id, 'other-bot', 1_000_500), undefined);
      assert.equal(await store.useLease(l.id, l.agent, l.expiresAt), undefined, 'at the expiry instant');
      assert.ok(await store.endLease(l.id, 'revoked', 'test', 1_000_600));
      assert.equal(await store.useLease(l.id, l.agent, 1_000_700), undefined);
      assert.equal((await store.getLease(l.id))!.usesLeft, 10);
    });

    it('renewal is capped at maxExpiresAt and refused after expiry', async () => {
      const l = lease();
      await store.insertLease(l);
      const r = await store.renewLease(l.id, l.agent, l.maxExpiresAt + 999_999, 1_000_100);
      assert.equal(r!.expiresAt, l.maxExpiresAt);
      assert.equal(await store.renewLease(l.id, l.agent, l.maxExpiresAt, l.maxExpiresAt + 1), undefined);
      assert.equal(await store.renewLease(l.id, 'other-bot', 1_000_200, 1_000_100), undefined);
    });

    it('expires due leases once, and counts active leases through every transition', async () => {
      const a = lease({ expiresAt: 1_010_000 });
      const b = lease({ expiresAt: 1_020_000 });
      const c = lease({ expiresAt: 1_090_000, maxUses: 1, usesLeft: 1 });
      const d = lease({ expiresAt: 1_090_000 });
      for (const l of [a, b, c, d]) await store.insertLease(l);
      await store.insertLease(lease({ agent: 'other-bot' }));
      assert.equal(await store.countActiveLeases('support-bot'), 4);
      assert.equal(await store.countActiveLeases('nobody'), 0);
      assert.ok(await store.useLease(c.id, c.agent, 1_000_100), 'spends the only use: exhausted');
      assert.equal(await store.countActiveLeases('support-bot'), 3);
      assert.ok(await store.endLease(d.id, 'revoked', 't', 1_000_200));
      assert.equal(await store.countActiveLeases('support-bot'), 2);
      const expired = await store.expireDue(1_030_000, 100);
      assert.equal(await store.countActiveLeases('support-bot'), 0);
      assert.equal(await store.countActiveLeases('other-bot'), 1);
      assert.deepEqual(expired.map((l) => l.id).sort(), [a.id, b.id].sort());
      assert.ok(expired.every((l) => l.status === 'expired'));
      assert.deepEqual(await store.expireDue(1_030_000, 100), []);
    });

    it('a revoke_failed lease stays listed until revocation succeeds', async () => {
      const l = lease();
      await store.insertLease(l);
      assert.equal((await store.endLease(l.id, 'revoke_failed', 'upstream down', 1_000_100))!.status, 'revoke_failed');
      assert.equal((await store.listLeases({ statuses: ['revoke_failed'], limit: 10 })).length, 1);
      assert.equal((await store.endLease(l.id, 'revoked', 'retried', 1_000_200))!.status, 'revoked');
      assert.equal(await store.endLease(l.id, 'revoked', 'again', 1_000_300), undefined, 'ending twice changes nothing');
    });

    it('round-trips a dynamic credential handle through every update, and never needs a secret for it', async () => {
      const credential = { backend: 'vault', id: 'database/creds/readonly/abc123', attributes: { role: 'readonly' } };
      const l = lease({ credential, maxUses: 2, usesLeft: 2 });
      await store.insertLease(l);
      assert.deepEqual(await store.getLease(l.id), l);
      assert.deepEqual((await store.renewLease(l.id, l.agent, 1_070_000, 1_000_100))!.credential, credential);
      assert.deepEqual((await store.endLease(l.id, 'revoked', 't', 1_000_200))!.credential, credential);
      assert.equal((await store.getLease(l.id))!.credentialRevokedAt, undefined);
      const plain = lease();
      await store.insertLease(plain);
      assert.equal('credential' in (await store.getLease(plain.id))!, false, 'a lease without a credential has none');
    });

    it('owes an ended lease\'s credential a revocation until it is recorded; revoke_failed returns to what the lease ended as', async () => {
      const credential = { backend: 'vault', id: 'h1' };
      const revoked = lease({ credential });
      const expired = lease({ credential, expiresAt: 1_010_000 });
      const active = lease({ credential });
      const plain = lease();
      for (const l of [revoked, expired, active, plain]) await store.insertLease(l);
      assert.deepEqual(await store.listCredentialRevocations(10), [], 'nothing has ended yet');
      assert.equal(await store.markCredentialRevokeFailed(active.id, 1_000_050), undefined, 'an active lease is not revoke_failed');
      assert.equal(await store.markCredentialRevoked(active.id, 1_000_050), undefined, 'an active lease owes nothing yet');

      await store.endLease(revoked.id, 'revoked', 'agent', 1_000_100);
      await store.endLease(plain.id, 'revoked', 'agent', 1_000_100);
      await store.expireDue(1_020_000, 10);
      assert.deepEqual((await store.listCredentialRevocations(10)).map((l) => l.id).sort(), [revoked.id, expired.id].sort());

      const failed = (await store.markCredentialRevokeFailed(expired.id, 1_020_100))!;
      assert.equal(failed.status, 'revoke_failed');
      assert.equal(failed.endedAs, 'expired');
      const again = (await store.markCredentialRevokeFailed(expired.id, 1_020_200, 1_024_200))!;
      assert.equal(again.status, 'revoke_failed', 'a retry that fails too keeps it revoke_failed');
      assert.equal(again.endedAs, 'expired', 'still remembering what it ended as');
      assert.equal(again.credentialRetryAt, 1_024_200);
      assert.equal(await store.markCredentialRevokeFailed(plain.id, 1_020_200), undefined, 'no credential');
      assert.deepEqual((await store.listLeases({ statuses: ['revoke_failed'], limit: 10 })).map((l) => l.id), [expired.id]);
      assert.equal(await store.countActiveLeases('support-bot'), 1, 'revoke_failed does not count as active');

      const back = (await store.markCredentialRevoked(expired.id, 1_020_300))!;
      assert.equal(back.status, 'expired');
      assert.equal(back.credentialRevokedAt, 1_020_300);
      assert.equal(back.endedAs, undefined);
      assert.equal(back.credentialRetryAt, undefined, 'nothing owed, nothing to retry');
      assert.equal(await store.markCredentialRevoked(expired.id, 1_020_400), undefined, 'recorded once');
      assert.equal(await store.markCredentialRevokeFailed(expired.id, 1_020_400), undefined, 'nothing owed any more');

      const r = (await store.markCredentialRevoked(revoked.id, 1_020_500))!;
      assert.equal(r.status, 'revoked');
      assert.equal(await store.markCredentialRevoked(plain.id, 1_020_500), undefined, 'no credential, nothing owed');
      assert.deepEqual(await store.listCredentialRevocations(10), []);
    });

    it('lists owed revocations earliest due first: a failure sets the retry time, so ones that keep failing go behind later ones', async () => {
      const credential = (id: string) => ({ backend: 'vault', id });
      const failing = Array.from({ length: 5 }, (_, i) => lease({ credential: credential(`f${i}`) }));
      const later = lease({ credential: credential('later') });
      for (const l of [...failing, later]) await store.insertLease(l);
      for (const l of failing) await store.endLease(l.id, 'revoked', 'agent', 1_000_100);
      await store.endLease(later.id, 'expired', 'reaper', 1_000_200);
      const ids = async (limit: number, dueBy?: number) => (await store.listCredentialRevocations(limit, dueBy)).map((l) => l.id);
      assert.deepEqual(await ids(5), failing.map((l) => l.id), 'due when they ended: the five that ended first');
      // Each of the five fails and is due again a second later; the later lease has not been tried yet.
      for (const l of failing) assert.equal((await store.markCredentialRevokeFailed(l.id, 1_000_300, 1_001_300))!.credentialRetryAt, 1_001_300);
      assert.deepEqual(await ids(5), [later.id, ...failing.slice(0, 4).map((l) => l.id)], 'the later lease now comes first');
      assert.deepEqual(await ids(10, 1_000_300), [later.id], 'only what is due by then');
      assert.deepEqual(await ids(10, 1_000_199), [], 'nothing is due before the later lease ended');
      // The later lease fails too, due after the others: they come first again, in due order.
      await store.markCredentialRevokeFailed(later.id, 1_000_400, 1_002_400);
      await store.markCredentialRevokeFailed(failing[0]!.id, 1_001_300, 1_003_300);
      assert.deepEqual(await ids(10), [...failing.slice(1).map((l) => l.id), later.id, failing[0]!.id]);
      assert.deepEqual(await ids(10, 1_002_400), [...failing.slice(1).map((l) => l.id), later.id]);
      // Through a restart too.
      await store.close();
      store = await f.reopen();
      assert.equal((await store.getLease(later.id))!.credentialRetryAt, 1_002_400);
      assert.deepEqual(await ids(1), [failing[1]!.id]);
    });

    it('inserts a lease within the active limit atomically: 10 concurrent inserts at limit 2 store exactly 2', async () => {
      await store.insertLease(lease({ agent: 'other-bot' }));
      const ls = Array.from({ length: 10 }, () => lease());
      const stored = await Promise.all(ls.map((l) => store.insertLeaseWithin(l, 2)));
      assert.equal(stored.filter(Boolean).length, 2);
      assert.equal(await store.countActiveLeases('support-bot'), 2);
      for (const [i, l] of ls.entries()) assert.equal((await store.getLease(l.id)) !== undefined, stored[i], 'stored exactly when it says so');
      assert.equal(await store.insertLeaseWithin(lease(), 2), false, 'at the limit');
      assert.equal(await store.insertLeaseWithin(lease({ agent: 'other-bot' }), 2), true, 'another agent has its own count');
      // A lease that ends frees its place; a one-use lease spent (exhausted) too.
      const first = ls.find((_, i) => stored[i])!;
      await store.useLease(first.id, first.agent, 1_000_100);
      assert.equal(await store.insertLeaseWithin(lease(), 2), true, 'the spent lease no longer counts');
      assert.equal(await store.insertLeaseWithin(lease(), 2), false);
    });

    it('keeps what a revoke_failed lease owes across a restart', async () => {
      const l = lease({ credential: { backend: 'vault', id: 'h2' } });
      await store.insertLease(l);
      await store.endLease(l.id, 'revoked', 'agent', 1_000_100);
      await store.markCredentialRevokeFailed(l.id, 1_000_200);
      await store.close();
      store = await f.reopen();
      const [owed, ...more] = await store.listCredentialRevocations(10);
      assert.equal(more.length, 0);
      assert.equal(owed!.status, 'revoke_failed');
      assert.equal(owed!.endedAs, 'revoked');
      assert.deepEqual(owed!.credential, { backend: 'vault', id: 'h2' });
    });

    it('keeps a pending credential across a restart, and removes it in the commit that stores its lease', async () => {
      const planned = { backend: 'pg', id: 'sb_a1', attributes: { database: 'app' } };
      await store.insertPendingCredential({ handle: planned, leaseId: 'L1', createdAt: 1_000_000 });
      await store.insertPendingCredential({ handle: { backend: 'pg', id: 'sb_b2' }, leaseId: 'L2', createdAt: 1_000_001 });
      await store.insertPendingCredential({ handle: { backend: 'other', id: 'sb_c3' }, leaseId: 'L3', createdAt: 999_999 });
      await store.close();
      store = await f.reopen();
      assert.deepEqual(await store.listPendingCredentials('pg', 10), [
        { handle: planned, leaseId: 'L1', createdAt: 1_000_000 },
        { handle: { backend: 'pg', id: 'sb_b2' }, leaseId: 'L2', createdAt: 1_000_001 },
      ]);
      assert.deepEqual((await store.listPendingCredentials(undefined, 10)).map((p) => p.handle.id), ['sb_c3', 'sb_a1', 'sb_b2'], 'every backend, oldest first');
      await assert.rejects(store.insertPendingCredential({ handle: planned, leaseId: 'L9', createdAt: 1 }), 'a handle is pending once');

      assert.equal(await store.insertLeaseWithin(lease({ credential: planned }), 10), true);
      await store.insertLease(lease({ credential: { backend: 'pg', id: 'sb_b2' } }));
      assert.deepEqual(await store.listPendingCredentials('pg', 10), [], 'both leases own theirs now');
      await store.deletePendingCredential('other', 'sb_c3');
      assert.deepEqual(await store.listPendingCredentials(undefined, 10), []);
    });

    it('says which credentials a lease owns: live ones, and ones revoked upstream after a listing was taken', async () => {
      const active = lease({ credential: { backend: 'pg', id: 'sb_active' } });
      const owed = lease({ credential: { backend: 'pg', id: 'sb_owed' } });
      const done = lease({ credential: { backend: 'pg', id: 'sb_done' } });
      const elsewhere = lease({ credential: { backend: 'other', id: 'sb_x' } });
      for (const l of [active, owed, done, elsewhere]) await store.insertLease(l);
      await store.endLease(owed.id, 'revoked', 'test', 1_000_100);
      await store.markCredentialRevokeFailed(owed.id, 1_000_100);
      await store.endLease(done.id, 'revoked', 'test', 1_000_100);
      await store.markCredentialRevoked(done.id, 1_000_200);
      const ids = ['sb_active', 'sb_owed', 'sb_done', 'sb_x', 'sb_none'];
      assert.deepEqual([...(await store.ownedCredentials('pg', ids, 1_000_300))].sort(), ['sb_active', 'sb_owed']);
      assert.deepEqual([...(await store.ownedCredentials('pg', ids, 1_000_150))].sort(), ['sb_active', 'sb_done', 'sb_owed'], 'revoked after the listing');
      assert.deepEqual([...(await store.ownedCredentials('other', ids, 0))], ['sb_x']);
      // The lease of one credential, whatever its status; by backend and id both.
      assert.equal((await store.leaseOfCredential('pg', 'sb_active'))?.id, active.id);
      assert.equal((await store.leaseOfCredential('pg', 'sb_done'))?.status, 'revoked');
      assert.equal((await store.leaseOfCredential('other', 'sb_x'))?.id, elsewhere.id);
      assert.equal(await store.leaseOfCredential('pg', 'sb_x'), undefined);
      assert.equal(await store.leaseOfCredential('pg', 'sb_none'), undefined);
    });

    it('lists by agent, action and status', async () => {
      await store.insertLease(lease({ agent: 'a1', action: 'x.y' }));
      await store.insertLease(lease({ agent: 'a1', action: 'x.z' }));
      await store.insertLease(lease({ agent: 'a2', action: 'x.y', status: 'revoked' }));
      assert.equal((await store.listLeases({ agent: 'a1', limit: 10 })).length, 2);
      assert.equal((await store.listLeases({ action: 'x.y', limit: 10 })).length, 2);
      assert.equal((await store.listLeases({ action: 'x.y', statuses: ['active'], limit: 10 })).length, 1);
      assert.equal((await store.listLeases({ limit: 1 })).length, 1);
    });

    it('stores approvals within the per-agent bound of open ones, round-trips them, and finds a pending one by binding', async () => {
      const a = approval();
      assert.ok(await store.writeApprovals((s) => s.insertApprovalWithin(a, 2, 1_000_000)));
      assert.deepEqual(await store.getApproval(a.id), a);
      assert.deepEqual(await store.findPendingApproval('support-bot', a.bindingHash, 1_000_001), a);
      assert.equal(await store.findPendingApproval('support-bot', a.bindingHash, a.expiresAt), undefined, 'expired');
      assert.equal(await store.findPendingApproval('analyst-bot', a.bindingHash, 1_000_001), undefined, 'another agent');
      assert.ok(await store.writeApprovals((s) => s.insertApprovalWithin(approval(), 2, 1_000_000)));
      assert.equal(await store.writeApprovals((s) => s.insertApprovalWithin(approval(), 2, 1_000_000)), undefined, 'at the bound');
      assert.ok(await store.writeApprovals((s) => s.insertApprovalWithin(approval({ agent: 'analyst-bot' }), 2, 1_000_000)), 'per agent');
      // Past their expiry the open ones no longer count.
      assert.ok(await store.writeApprovals((s) => s.insertApprovalWithin(approval(), 2, a.expiresAt)));
      assert.equal((await store.listApprovals({ agent: 'support-bot', limit: 10 })).length, 3);
      assert.equal((await store.listApprovals({ groups: ['legal'], limit: 10 })).length, 0);
      assert.equal((await store.listApprovals({ groups: ['legal', 'finance'], states: ['pending'], limit: 10 })).length, 4);
      assert.equal((await store.listApprovals({ groups: [], limit: 10 })).length, 0);
      assert.equal(await store.countPendingApprovals(), 4, 'every pending one, expired or not yet swept');
    });

    it('updates an approval only at the version read, and never once it left pending or approved', async () => {
      const a = approval();
      await store.writeApprovals((s) => s.insertApprovalWithin(a, 10, 1_000_000));
      const vote = { approver: 'bob', approve: true, reason: 'ok', at: 1_000_100 };
      const up = await store.writeApprovals((s) => s.updateApproval({ ...a, state: 'approved', votes: [vote], decidedAt: 1_000_100 }, 1_000_100));
      assert.equal(up!.version, 2);
      assert.deepEqual(up!.votes, [vote]);
      // A second writer that read version 1 loses.
      assert.equal(await store.writeApprovals((s) => s.updateApproval({ ...a, state: 'rejected' }, 1_000_200)), undefined);
      assert.equal((await store.getApproval(a.id))!.state, 'approved');
      assert.equal(await store.countPendingApprovals(), 0, 'approved is not pending');
    });

    it('consumes an approved approval exactly once under 20 concurrent attempts, and never a pending or expired one', async () => {
      const a = approval({ state: 'approved', decidedAt: 1_000_100 });
      await store.writeApprovals((s) => s.insertApprovalWithin(a, 10, 1_000_000));
      const won = await Promise.all(Array.from({ length: 20 }, (_, i) => store.writeApprovals((s) => s.consumeApproval(a.id, `lease_${i}`, 1_000_200))));
      assert.equal(won.filter(Boolean).length, 1);
      const after = (await store.getApproval(a.id))!;
      assert.equal(after.state, 'consumed');
      assert.equal(after.leaseId, `lease_${won.indexOf(true)}`);
      const pending = approval();
      await store.writeApprovals((s) => s.insertApprovalWithin(pending, 10, 1_000_000));
      assert.equal(await store.writeApprovals((s) => s.consumeApproval(pending.id, 'lease_p', 1_000_200)), false);
      const late = approval({ state: 'approved' });
      await store.writeApprovals((s) => s.insertApprovalWithin(late, 10, 1_000_000));
      assert.equal(await store.writeApprovals((s) => s.consumeApproval(late.id, 'lease_l', late.expiresAt)), false, 'at its expiry');
    });

    it('expires due pending and approved approvals once; consumed and rejected ones stay', async () => {
      const due = [approval(), approval({ state: 'approved' })];
      const kept = [approval({ state: 'rejected' }), approval({ expiresAt: 2_000_000 })];
      for (const a of [...due, ...kept]) await store.writeApprovals((s) => s.insertApprovalWithin(a, 10, 1_000_000));
      assert.equal(await store.nextApprovalExpiry(), 1_900_000);
      const expired = await store.writeApprovals((s) => s.expireApprovals(1_900_000, 100));
      assert.deepEqual(expired.map((e) => e.id).sort(), due.map((d) => d.id).sort());
      assert.ok(expired.every((e) => e.state === 'expired' && e.decidedAt !== undefined));
      assert.deepEqual(await store.writeApprovals((s) => s.expireApprovals(1_900_000, 100)), []);
      assert.equal(await store.nextApprovalExpiry(), 2_000_000, 'the one still open');
    });

    it('keeps leases and trust across a restart', async () => {
      const l = lease();
      await store.insertLease(l);
      await store.setTrust({ agent: 'support-bot', score: 150, updatedAt: 5 });
      await store.close();
      store = await f.reopen();
      assert.deepEqual(await store.getLease(l.id), l);
      assert.deepEqual(await store.getTrust('support-bot'), { agent: 'support-bot', score: 150, updatedAt: 5 });
    });
  });
}
