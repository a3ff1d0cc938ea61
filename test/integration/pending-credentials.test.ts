import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { ManualClock } from '../../src/lib/clock';
import { unavailable } from '../../src/lib/errors';
import { SecretValue } from '../../src/lib/secret-value';
import { makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { vaultDynamicRawConfig } from '../helpers/dynamic-action';
import { until } from '../helpers/until';
import { readEntries } from '../helpers/evidence-entries';
import { faultSource, PlanningFaultBackend } from '../helpers/fault-credential-backend';
import { expectCode } from '../helpers/grpc-expect';
import { WriteFaults } from '../helpers/write-faults';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);
const GRACE_MS = 120_000;

interface Entry {
  type: string;
  lease?: { id: string; credential?: { backend: string; id: string }; credential_details?: Record<string, unknown> };
  credential?: { backend: string; id: string };
  by?: string;
  lease_end?: string;
  recorded?: string;
}

describe('crash safety of dynamic credentials over the real daemon: recorded before created, the orphan sweeper, batch revocation', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker | undefined;
  let clock: ManualClock;
  let pg: PlanningFaultBackend;
  let dir: string;

  before(async () => {
    tmp = tempDir('sb-pending-');
    pki = await makeTestPki(`${tmp.dir}/pki`);
  });
  beforeEach(async () => {
    clock = new ManualClock(T0);
    // The backend stands for the upstream database: it outlives a broker restart.
    pg = new PlanningFaultBackend('vault', clock);
    dir = `${tmp.dir}/${Math.random().toString(36).slice(2)}`;
    await start();
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });
  after(() => tmp?.cleanup());

  /** A daemon over `dir`; its periodic sweep is hours away, so sweeps here are the start one and explicit ones. */
  async function start(): Promise<RunningBroker> {
    broker = await startBroker({
      pki,
      dir,
      raw: vaultDynamicRawConfig(pki, dir),
      clock,
      reaperIntervalMs: 25,
      dynamicCredentials: faultSource(pg),
      sweeper: { intervalMs: 3_600_000, graceMs: GRACE_MS },
    });
    // The sweep at start runs in the background; join it so each test starts from a settled state.
    await broker.app.sweeper.sweep();
    return broker;
  }
  const b = (): RunningBroker => broker!;
  const agent = () => b().clientFor('agents', 'support-bot').agent;
  const operator = () => b().clientFor('operators', 'alice').operator;
  const requestDb = () => call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'reporting.db', ttlSeconds: 300 });
  const entries = () => readEntries<Entry>(b().app.ledger!);
  const sweptEntries = async () => (await entries()).filter((e) => e.type === 'credential.revoked' && e.by === 'sweeper');
  const pending = () => b().app.store.listPendingCredentials('vault', 100);

  async function grant(): Promise<Lease__Output> {
    const res = await requestDb();
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    return res.lease!;
  }

  it('records the planned credential durably before create, hands create exactly that handle, and removes the row in the commit that stores the lease', async () => {
    const hold = pg.holdNextCreate();
    const res = requestDb();
    await hold.reached;
    // The credential exists upstream now and no lease is stored: the pending row is what names it.
    const [row, ...more] = await pending();
    assert.equal(more.length, 0);
    const planned = pg.calls.createdWith[0]!;
    assert.ok(planned, 'create was given the planned handle');
    assert.deepEqual(row!.handle, planned);
    assert.match(row!.handle.id, /^sb_/);
    assert.equal(row!.createdAt, T0);
    assert.deepEqual(pg.live(), [planned.id]);
    assert.deepEqual(await b().app.store.listLeases({ agent: 'support-bot', limit: 10 }), []);

    hold.release();
    const granted = await res;
    assert.equal(granted.status, 'GRANTED');
    assert.equal(row!.leaseId, granted.lease!.leaseId, 'the row names the lease it was being created for');
    assert.deepEqual((await b().app.store.getLease(granted.lease!.leaseId))!.credential, planned);
    assert.deepEqual(await pending(), [], 'the lease owns it now');
  });

  it('the secret prepared while the pending row is written goes to create; if the row cannot be written, it is discarded and nothing is created', async () => {
    await grant();
    const [first, ...none] = pg.prepared;
    assert.equal(none.length, 0, 'one secret prepared per grant');
    assert.equal(pg.calls.preparedWith[0], first, 'create was given the secret prepared for it');
    assert.deepEqual({ taken: first!.taken, discarded: first!.discarded }, { taken: true, discarded: false });

    const faults = new WriteFaults(b().app.store as SqliteStore);
    faults.failCommits();
    try {
      await expectCode(requestDb(), grpc.status.UNAVAILABLE);
    } finally {
      faults.clear();
    }
    assert.ok(faults.commitsFailed > 0, 'the pending row was refused');
    const second = pg.prepared[1];
    assert.ok(second, 'a secret was prepared for the second request');
    assert.deepEqual({ taken: second.taken, discarded: second.discarded }, { taken: false, discarded: true }, 'wiped, never used');
    assert.equal(pg.calls.create, 1, 'nothing was created for the refused request');
    assert.deepEqual(await pending(), []);
  });

  it('a grant refused after create (its evidence or row could not be stored) revokes the credential and removes its pending row', async () => {
    const faults = new WriteFaults(b().app.store as SqliteStore);
    faults.failEvidenceInserts();
    await expectCode(requestDb(), grpc.status.UNAVAILABLE);
    faults.clear();
    const planned = pg.calls.createdWith[0];
    assert.ok(planned, 'create ran with the planned handle');
    assert.equal(pg.minted.get(planned.id)?.revoked, true, 'that credential was created, then revoked');
    assert.deepEqual(pg.live(), [], 'revoked upstream before the error returned');
    assert.deepEqual(await pending(), [], 'and no longer pending');
    assert.deepEqual(await b().app.store.listLeases({ agent: 'support-bot', limit: 10 }), []);
  });

  it('a broker stopped while create never returned leaves a pending row, and the next start revokes that credential at once (no grace for a previous process)', async () => {
    // Never released: the daemon stops with the credential created and no lease stored.
    const hold = pg.holdNextCreate();
    const inFlight = requestDb().catch((err: unknown) => err);
    await hold.reached;
    const [row] = await pending();
    assert.ok(row, 'a pending row');
    await broker!.close();
    broker = undefined;
    assert.ok((await inFlight) instanceof Error, 'the agent got no lease');
    assert.deepEqual(pg.live(), [row.handle.id], 'the credential is still upstream after the stop');

    // Same clock (no time has passed): only "left by a previous process" makes it an orphan.
    await start();
    assert.deepEqual(pg.live(), [], 'the next start revoked it');
    assert.deepEqual(pg.batchCalls.revokeMany.at(-1), [row.handle.id]);
    const [entry, ...others] = await sweptEntries();
    assert.equal(others.length, 0);
    assert.deepEqual(entry!.credential, { backend: 'vault', id: row.handle.id });
    assert.equal(entry!.lease!.id, row.leaseId);
    assert.equal(entry!.recorded, 'pending');
    assert.equal(entry!.lease_end, 'orphan');
    assert.deepEqual(await pending(), [], 'the pending row is gone with it');
    const logLine = b().logs.lines.find((x) => x.includes('orphan credential revoked upstream by the sweeper'));
    assert.ok(logLine?.includes(row.handle.id), 'logged by name');
  });

  it('an upstream credential with the prefix that nothing recorded is swept; a leased one never is', async () => {
    const leased = await grant();
    const leasedId = pg.forLease(leased.leaseId)!.handle.id;
    const stray = pg.mintOutside();
    clock.advance(GRACE_MS + 1);
    const [result] = await b().app.sweeper.sweep();
    assert.deepEqual(result!.revoked, [stray]);
    assert.deepEqual(pg.live(), [leasedId], 'the leased credential stays');
    const [entry] = await sweptEntries();
    assert.deepEqual(entry!.credential, { backend: 'vault', id: stray });
    assert.equal(entry!.recorded, 'no');
    assert.equal(entry!.lease, undefined);
    assert.match(b().logs.text, new RegExp(stray));
  });

  it('an in-flight grant (pending, younger than the grace) is not swept, and once its lease is stored it never is', async () => {
    const hold = pg.holdNextCreate();
    const res = requestDb();
    await hold.reached;
    const [row] = await pending();
    clock.advance(GRACE_MS - 1_000);
    const [r1] = await b().app.sweeper.sweep();
    assert.deepEqual(r1!.revoked, []);
    assert.deepEqual(pg.live(), [row!.handle.id]);
    assert.equal((await pending()).length, 1, 'still pending');

    hold.release();
    assert.equal((await res).status, 'GRANTED');
    clock.advance(10 * GRACE_MS);
    const [r2] = await b().app.sweeper.sweep();
    assert.deepEqual(r2!.revoked, []);
    assert.deepEqual(pg.live(), [row!.handle.id], 'owned by its lease');
    assert.deepEqual(await sweptEntries(), []);
  });

  it('a credential whose ended lease is still owed a revocation belongs to the revoker, not the sweeper', async () => {
    const l = await grant();
    pg.failRevokes = Infinity;
    const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: l.leaseId });
    assert.equal(out.lease.status, 'REVOKE_FAILED');
    const before = pg.batchCalls.revokeMany.length;
    clock.advance(10 * GRACE_MS);
    const [r] = await b().app.sweeper.sweep();
    assert.deepEqual(r!.revoked, []);
    assert.equal(pg.batchCalls.revokeMany.length, before, 'the sweeper asked for no revocation');
    assert.deepEqual(await sweptEntries(), []);
  });

  it('a pending row whose credential never came to be is removed after the grace; a failing listing is logged and retried, and never blocks start-up', async () => {
    pg.failCreate = unavailable('VENDOR-TEXT-connection refused');
    await expectCode(requestDb(), grpc.status.UNAVAILABLE);
    assert.equal((await pending()).length, 1, 'kept: the sweeper decides whether it exists');
    let [r] = await b().app.sweeper.sweep();
    assert.deepEqual(r!.cleared, [], 'not within the grace');
    clock.advance(GRACE_MS + 1);
    [r] = await b().app.sweeper.sweep();
    assert.equal(r!.cleared.length, 1);
    assert.deepEqual(await pending(), []);

    // The backend cannot list: start-up goes on, the sweep says so in the log and tries again next time.
    await broker!.close();
    pg.failListIssued = Infinity;
    const stray = pg.mintOutside();
    await start();
    assert.match(b().logs.text, /credential sweep failed/);
    assert.doesNotMatch(b().logs.text.split('\n').filter((x) => x.includes('credential sweep failed')).join('\n'), /pw-/);
    assert.equal((await grant()).status, 'ACTIVE', 'the daemon serves');
    pg.failListIssued = 0;
    const [again] = await b().app.sweeper.sweep();
    assert.deepEqual(again!.revoked, [stray]);
  });

  it('an operator revocation of many leases revokes their credentials in one batch; an id the batch left stays REVOKE_FAILED and is retried', async () => {
    const leases = [await grant(), await grant(), await grant()];
    const ids = leases.map((l) => pg.forLease(l.leaseId)!.handle.id);
    pg.stuck.add(ids[1]!);
    const out = await call<unknown, { revoked: Lease__Output[] }>(operator(), 'RevokeLeases', { agent: 'support-bot', reason: 'incident' });
    assert.equal(pg.batchCalls.revokeMany.length, 1, 'one round');
    assert.deepEqual([...pg.batchCalls.revokeMany[0]!].sort(), [...ids].sort());
    assert.equal(pg.calls.revoke.length, 0, 'no one-by-one revocations');
    const status = new Map(out.revoked.map((l) => [l.leaseId, l.status]));
    assert.equal(status.get(leases[0]!.leaseId), 'REVOKED');
    assert.equal(status.get(leases[1]!.leaseId), 'REVOKE_FAILED');
    assert.equal(status.get(leases[2]!.leaseId), 'REVOKED');
    const revokedEntries = (await entries()).filter((e) => e.type === 'credential.revoked');
    assert.deepEqual(revokedEntries.map((e) => e.lease!.id).sort(), [leases[0]!.leaseId, leases[2]!.leaseId].sort());
    assert.ok(revokedEntries.every((e) => e.by === 'operator:alice'));
    const types = (await entries()).map((e) => e.type);
    assert.ok(types.lastIndexOf('lease.revoked') < types.indexOf('credential.revoked'), 'every lease ended before any credential went');

    // The retry loop takes the stuck one once it is due; it is revoked then, and recorded.
    pg.stuck.clear();
    clock.advance(2_000);
    await until('the stuck credential to be revoked', async () => (await b().app.store.getLease(leases[1]!.leaseId))!.status === 'revoked');
    assert.deepEqual(pg.live(), []);
    // The entry follows the stored status (authority first, then the record).
    await until('its credential.revoked', async () => (await entries()).some((e) => e.type === 'credential.revoked' && e.lease?.id === leases[1]!.leaseId));
    assert.equal((await entries()).filter((e) => e.type === 'credential.revoked' && e.lease?.id === leases[1]!.leaseId).length, 1);
  });

  it('revocations that come due together in the retry loop go upstream in one batch', async () => {
    const leases = [await grant(), await grant(), await grant()];
    const ids = leases.map((l) => pg.forLease(l.leaseId)!.handle.id).sort();
    pg.failRevokes = Infinity;
    const out = await call<unknown, { revoked: Lease__Output[] }>(operator(), 'RevokeLeases', { agent: 'support-bot', reason: 'incident' });
    assert.deepEqual(out.revoked.map((l) => l.status), ['REVOKE_FAILED', 'REVOKE_FAILED', 'REVOKE_FAILED'], 'a failed batch fails each');
    assert.equal(pg.batchCalls.revokeMany.length, 1);
    // All three are due again at the same moment (same backoff): the loop sends them in one round.
    pg.failRevokes = 0;
    clock.advance(2_000);
    await until('all three credentials revoked', () => pg.live().length === 0);
    assert.equal(pg.batchCalls.revokeMany.length, 2);
    assert.deepEqual([...pg.batchCalls.revokeMany[1]!].sort(), ids);
    assert.equal(pg.calls.revoke.length, 0, 'no one-by-one revocations');
    await until('three credential.revoked entries', async () => (await entries()).filter((e) => e.type === 'credential.revoked').length === 3);
    for (const l of leases) assert.equal((await b().app.store.getLease(l.leaseId))!.status, 'revoked');
  });

  it('lease.issued records the backend\'s details of what was granted beside the handle, never a password', async () => {
    let secret = '';
    pg.details = (user) => {
      secret = `pw-in-details-${Math.random().toString(36).slice(2)}`;
      return {
        role: user,
        grants: [{ privilege: 'SELECT', schema: 'reports' }],
        // A backend bug: a secret among the details. It must never be written.
        password: SecretValue.fromString(secret),
        nested: { token: SecretValue.fromString(secret), ok: 1 },
      };
    };
    const res = await requestDb();
    const l = res.lease!;
    const minted = pg.forLease(l.leaseId)!;
    const issued = (await entries()).find((e) => e.type === 'lease.issued' && e.lease?.id === l.leaseId)!;
    assert.deepEqual(issued.lease!.credential, { backend: 'vault', id: minted.handle.id });
    assert.deepEqual(issued.lease!.credential_details, { role: minted.user, grants: [{ privilege: 'SELECT', schema: 'reports' }], nested: { ok: 1 } });
    const all = JSON.stringify(await entries());
    for (const s of [secret, minted.password, l.databaseCredential!.password]) {
      assert.ok(!all.includes(s), 'a secret is in the evidence');
      assert.ok(!b().logs.text.includes(s), 'a secret is in the log');
    }
    assert.doesNotMatch(all, /REDACTED/, 'dropped, not written as [REDACTED]');
  });
});
