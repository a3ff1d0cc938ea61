import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { InvokeHooks } from '../../src/broker/invoke-service';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { LeaseRecord } from '../../src/leases/lease';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { makeTestPki, tempDir, type TestPki } from '../helpers/broker-harness';
import { raceForUses, startInvokeBroker } from '../helpers/invoke-broker';

/**
 * Invariant 6: uses are counted atomically, so 50 concurrent Invokes on a
 * one-use lease make exactly one upstream call. The test of that
 * (invoke.test.ts) did nothing to make the 50 requests pass Invoke's status
 * pre-check together, so whether they raced for the use at all was up to
 * scheduling (the issue found it passing with a non-atomic use). It now
 * holds all 50 at a barrier after the checks (the beforeUse hook, passed
 * through buildApp). This file is its meta-test: against stores whose use is
 * not atomic, the same race lets more than one call through, so the
 * assertions of invoke.test.ts would fail.
 */

type Breach = 'read-then-write' | 'unguarded';

/**
 * A SQLite store whose use of a lease is not atomic, in one of two ways:
 * - read-then-write: reads the lease, and writes its new use count later,
 *   through another group commit (a lost update);
 * - unguarded: decrements without checking status or uses left (it trusts
 *   Invoke's status pre-check), clamped at 0 to pass the schema's CHECK.
 * Both replace the statement Invoke spends a use with (inside the transaction
 * that re-checks the decision); the store's real one is one conditional
 * UPDATE, which does neither.
 */
function nonAtomicUses(store: SqliteStore, breach: () => Breach, known: ReadonlyMap<string, LeaseRecord>): SqliteStore {
  // The row as it stands now, read synchronously (inside the transaction), over the lease as granted.
  const read = (id: string): LeaseRecord | undefined => {
    const r = store.db.prepare('SELECT status, uses_left FROM leases WHERE id = ?').get(id) as { status: LeaseRecord['status']; uses_left: number } | undefined;
    const l = known.get(id);
    return r && l ? { ...l, status: r.status, usesLeft: r.uses_left } : undefined;
  };
  store.statements.useLease = (id: string, agent: string, now: number) => {
    if (breach() === 'unguarded') {
      const changed = store.db
        .prepare("UPDATE leases SET uses_left = max(uses_left - 1, 0), status = CASE WHEN uses_left <= 1 THEN 'exhausted' ELSE status END, updated_at = ? WHERE id = ? AND agent = ?")
        .run(now, id, agent).changes;
      const lease = changed ? read(id) : undefined;
      return lease ? { lease, useNumber: lease.maxUses - lease.usesLeft } : undefined;
    }
    const l = read(id);
    if (!l || l.agent !== agent || l.status !== 'active' || l.expiresAt <= now || l.usesLeft <= 0) return undefined;
    const usesLeft = l.usesLeft - 1;
    const status = usesLeft === 0 ? 'exhausted' : 'active';
    // Written later, in another transaction: the uses read meanwhile all see the count before it.
    void store.writes.run((db) => db.prepare('UPDATE leases SET uses_left = ?, status = ?, updated_at = ? WHERE id = ?').run(usesLeft, status, now, id), { single: true });
    return { lease: { ...l, usesLeft, status, updatedAt: now }, useNumber: l.maxUses - usesLeft };
  };
  return store;
}

describe('the 50-way race catches a non-atomic use (meta-test of invariant 6)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let running: Awaited<ReturnType<typeof startInvokeBroker>>;
  const hooks: InvokeHooks = {};
  let breach: Breach = 'read-then-write';
  /** Each lease as granted (the broken use reads its row over it). */
  const known = new Map<string, LeaseRecord>();

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const store = nonAtomicUses(new SqliteStore({ path: path.join(tmp.dir, 'broker.db') }), () => breach, known);
    running = await startInvokeBroker({ pki, dir: tmp.dir, store, hooks });
  });
  after(async () => {
    await running?.close();
    tmp?.cleanup();
  });

  for (const [b, ticket] of [['read-then-write', 'T-7'], ['unguarded', 'T-8']] as const) {
    it(`a ${b} use lets more than one of 50 Invokes through the barrier race (the race test would fail)`, async () => {
      breach = b;
      const agent = running.broker.clientFor('agents', 'support-bot').agent;
      const r = await call<unknown, LeaseResponse__Output>(agent, 'RequestLease', {
        action: 'tickets.update',
        resource: `ticket/${ticket}`,
        params: { fields: { ticket: { stringValue: ticket } } },
        maxUses: 1,
      });
      assert.equal(r.status, 'GRANTED', JSON.stringify(r.explanation));
      known.set(r.lease!.leaseId, (await running.broker.app.store.getLease(r.lease!.leaseId))!);
      running.upstream.requests.length = 0;
      const race = await raceForUses({ agent, hooks, leaseId: r.lease!.leaseId, path: `/tickets/${ticket}` });
      assert.ok(race.barrier.full, `only ${race.barrier.arrived} of 50 reached the use together`);
      // What invoke.test.ts asserts (one success, one upstream call) does not hold here.
      assert.ok(race.ok > 1, `${race.ok} succeeded`);
      assert.ok(running.upstream.requests.length > 1, `${running.upstream.requests.length} upstream calls`);
    });
  }
});
