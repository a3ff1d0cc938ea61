import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { call } from '../../src/client/grpc-client';
import type { Lease__Output } from '../../src/gen/secretbroker/v1/Lease';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { failedPrecondition, unavailable } from '../../src/lib/errors';
import { ManualClock } from '../../src/lib/clock';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import type { IssuedCredential, LeaseBinding } from '../../src/backends/backend';
import { lease as leaseRow } from '../contract/store-contract';
import { makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { vaultDynamicRawConfig } from '../helpers/dynamic-action';
import { until } from '../helpers/until';
import { readEntries } from '../helpers/evidence-entries';
import { FaultCredentialBackend, faultSource, type FaultSpec } from '../helpers/fault-credential-backend';
import { expectCode } from '../helpers/grpc-expect';
import { WriteFaults } from '../helpers/write-faults';

const T0 = Date.UTC(2026, 11, 4, 12, 0, 0);

interface Entry {
  type: string;
  lease?: { id: string; credential?: { backend: string; id: string }; expires_at?: string };
  credential?: { backend: string; id: string };
  by?: string;
  lease_end?: string;
  attempts?: number;
}

describe('dynamic credential leases over the real daemon and mTLS', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker | undefined;
  let clock: ManualClock;
  let vault: FaultCredentialBackend;
  let dir: string;

  before(async () => {
    tmp = tempDir('sb-dyn-');
    pki = await makeTestPki(`${tmp.dir}/pki`);
  });
  beforeEach(async () => {
    clock = new ManualClock(T0);
    // The backend stands for the upstream (Vault): it outlives a broker restart.
    vault = new FaultCredentialBackend('vault', clock);
    dir = `${tmp.dir}/${Math.random().toString(36).slice(2)}`;
    await start();
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });
  after(() => tmp?.cleanup());

  async function start(withSource = true): Promise<RunningBroker> {
    broker = await startBroker({ pki, dir, raw: vaultDynamicRawConfig(pki, dir), clock, reaperIntervalMs: 25, ...(withSource ? { dynamicCredentials: faultSource(vault) } : {}) });
    return broker;
  }
  const b = (): RunningBroker => broker!;
  const agent = () => b().clientFor('agents', 'support-bot').agent;
  const operator = () => b().clientFor('operators', 'alice').operator;
  const requestDb = (ttlSeconds = 300) => call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'reporting.db', ttlSeconds });
  const getLease = (id: string) => call<unknown, Lease__Output>(agent(), 'GetLease', { leaseId: id });
  const entries = () => readEntries<Entry>(b().app.ledger!);
  const credentialRevoked = async (leaseId: string) => (await entries()).filter((e) => e.type === 'credential.revoked' && e.lease?.id === leaseId);

  async function grant(): Promise<{ lease: Lease__Output; password: string }> {
    const res = await requestDb();
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    const cred = res.lease!.databaseCredential;
    assert.ok(cred, 'the RequestLease response carries the credential');
    return { lease: res.lease!, password: cred.password };
  }

  it('grants a lease that carries the minted login once, bound to the lease; nothing else ever repeats the password', async () => {
    const res = await requestDb();
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    const l = res.lease!;
    const minted = vault.forLease(l.leaseId)!;
    assert.ok(minted, 'the backend minted a credential for this lease id');
    assert.deepEqual(
      { ...l.databaseCredential },
      { host: '127.0.0.1', port: 5432, database: 'app', user: minted.user, password: minted.password },
    );
    assert.deepEqual(minted.spec, { role: 'readonly', connection: { host: '127.0.0.1', port: 5432, database: 'app' } });
    assert.equal(minted.binding.agent, 'support-bot');
    assert.equal(minted.binding.action, 'reporting.db');
    assert.equal(minted.binding.resource, 'reporting');
    assert.equal(minted.binding.expiresAt, T0 + 300_000);
    assert.equal(minted.binding.maxExpiresAt, T0 + 900_000);
    const stored = (await b().app.store.getLease(l.leaseId))!;
    assert.deepEqual(stored.credential, minted.handle, 'the handle is stored with the lease');

    // GetLease, RenewLease, ListLeases and RevokeLeases never carry it.
    assert.equal((await getLease(l.leaseId)).databaseCredential, null);
    clock.advance(10_000);
    const renewed = await call<unknown, LeaseResponse__Output>(agent(), 'RenewLease', { leaseId: l.leaseId, ttlSeconds: 300 });
    assert.equal(renewed.status, 'GRANTED');
    assert.equal(renewed.lease!.databaseCredential, null);
    const listed = await call<unknown, { leases: Lease__Output[] }>(operator(), 'ListLeases', { agent: 'support-bot' });
    assert.equal(listed.leases.length, 1);
    assert.equal(listed.leases[0]!.databaseCredential, null);
    const revoked = await call<unknown, { revoked: Lease__Output[] }>(operator(), 'RevokeLeases', { leaseId: l.leaseId, reason: 'done' });
    assert.equal(revoked.revoked[0]!.databaseCredential, null);

    // lease.issued names the credential by backend and handle id; no entry and no log line has the password.
    const issued = (await entries()).find((e) => e.type === 'lease.issued' && e.lease?.id === l.leaseId)!;
    assert.deepEqual(issued.lease!.credential, { backend: 'vault', id: minted.handle.id });
    const allEvidence = JSON.stringify(await entries());
    assert.ok(!allEvidence.includes(minted.password), 'the password is in the evidence log');
    assert.ok(!b().logs.text.includes(minted.password), 'the password is in the log');
    assert.ok(b().logs.text.includes(l.leaseId), 'the log was captured');
  });

  it('a credential that expires sooner than the requested TTL ends the lease with it', async () => {
    vault.upstreamMaxTtlMs = 60_000;
    const { lease } = await grant();
    assert.equal(lease.expiresAt, new Date(T0 + 60_000).toISOString());
    assert.equal((await b().app.store.getLease(lease.leaseId))!.expiresAt, T0 + 60_000);
  });

  it('renewal renews the credential first and never outlasts what the backend set; a refusal renews nothing', async () => {
    vault.renewCapMs = 120_000;
    const { lease } = await grant();
    clock.advance(30_000);
    const r = await call<unknown, LeaseResponse__Output>(agent(), 'RenewLease', { leaseId: lease.leaseId, ttlSeconds: 600 });
    assert.deepEqual(vault.calls.renew, [{ id: vault.forLease(lease.leaseId)!.handle.id, expiresAt: T0 + 30_000 + 600_000, maxExpiresAt: T0 + 900_000 }]);
    assert.equal(r.lease!.expiresAt, new Date(T0 + 30_000 + 120_000).toISOString(), 'capped by what the backend set');
    const renewedEntry = (await entries()).filter((e) => e.type === 'lease.renewed');
    assert.equal(renewedEntry.length, 1);

    vault.failRenew = failedPrecondition('VENDOR-TEXT-permission denied on sys/leases/renew');
    clock.advance(10_000);
    const e = await expectCode(call(agent(), 'RenewLease', { leaseId: lease.leaseId, ttlSeconds: 600 }), grpc.status.FAILED_PRECONDITION, /backend vault could not renew/);
    assert.doesNotMatch(e.details, /VENDOR-TEXT/);
    assert.equal((await getLease(lease.leaseId)).expiresAt, r.lease!.expiresAt, 'the lease was not renewed');
    assert.equal((await entries()).filter((x) => x.type === 'lease.renewed').length, 1, 'no lease.renewed for a refused renewal');

    vault.failRenew = unavailable('VENDOR-TEXT-vault is sealed');
    await expectCode(call(agent(), 'RenewLease', { leaseId: lease.leaseId }), grpc.status.UNAVAILABLE, /backend vault is unavailable/);
  });

  it('a backend failure on create is its kind with no backend text, and grants nothing', async () => {
    vault.failCreate = unavailable('VENDOR-TEXT-connection refused 10.0.0.7:8200');
    const e1 = await expectCode(requestDb(), grpc.status.UNAVAILABLE, /backend vault is unavailable/);
    vault.failCreate = failedPrecondition('VENDOR-TEXT-403 permission denied');
    const e2 = await expectCode(requestDb(), grpc.status.FAILED_PRECONDITION, /backend vault could not issue a credential for reporting\.db/);
    for (const e of [e1, e2]) assert.doesNotMatch(`${e.details} ${JSON.stringify(e.metadata.getMap())}`, /VENDOR-TEXT/);
    assert.deepEqual(await b().app.store.listLeases({ agent: 'support-bot', limit: 10 }), []);
    assert.equal((await entries()).filter((x) => x.type === 'lease.issued').length, 0);
    assert.ok(b().logs.text.includes('VENDOR-TEXT-403'), 'the log has the detail');
  });

  it('with the configured backend out of reach the action is UNAVAILABLE, in our words only', async () => {
    await broker!.close();
    await start(false);
    await expectCode(requestDb(), grpc.status.UNAVAILABLE, /^backend vault is unavailable: could not issue a credential for reporting\.db$/);
    assert.equal(vault.calls.create, 0);
  });

  it('an agent revocation ends the lease, then revokes the credential and records credential.revoked', async () => {
    const { lease } = await grant();
    const handle = vault.forLease(lease.leaseId)!.handle;
    const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId, reason: 'done' });
    assert.equal(out.lease.status, 'REVOKED');
    assert.equal(out.lease.databaseCredential, null);
    assert.deepEqual(vault.calls.revoke, [handle.id]);
    assert.equal(vault.forLease(lease.leaseId)!.revoked, true);
    const [entry, ...more] = await credentialRevoked(lease.leaseId);
    assert.equal(more.length, 0);
    assert.deepEqual(entry!.credential, { backend: 'vault', id: handle.id });
    assert.equal(entry!.by, 'agent:support-bot');
    assert.equal(entry!.lease_end, 'revoked');
    const types = (await entries()).map((e) => e.type);
    assert.ok(types.indexOf('lease.revoked') < types.indexOf('credential.revoked'), 'authority ends first');
    assert.ok((await b().app.store.getLease(lease.leaseId))!.credentialRevokedAt !== undefined);
  });

  it('an operator revocation and an expiry revoke the credential too', async () => {
    const a = (await grant()).lease;
    const out = await call<unknown, { revoked: Lease__Output[] }>(operator(), 'RevokeLeases', { leaseId: a.leaseId, reason: 'incident' });
    assert.equal(out.revoked[0]!.status, 'REVOKED');
    assert.equal(vault.forLease(a.leaseId)!.revoked, true);
    assert.equal((await credentialRevoked(a.leaseId))[0]!.by, 'operator:alice');

    const e = (await grant()).lease;
    clock.advance(300_001);
    await until('the expired lease\'s credential to be revoked', async () => (await credentialRevoked(e.leaseId)).length === 1);
    assert.equal(vault.forLease(e.leaseId)!.revoked, true);
    const [entry] = await credentialRevoked(e.leaseId);
    assert.equal(entry!.lease_end, 'expired');
    assert.equal(entry!.by, 'broker');
    assert.equal((await getLease(e.leaseId)).status, 'EXPIRED');
    const order = (await entries()).filter((x) => x.lease?.id === e.leaseId).map((x) => x.type);
    assert.deepEqual(order, ['lease.issued', 'lease.expired', 'credential.revoked'], 'the expiry is recorded before the credential goes');
  });

  it('a failed revocation shows REVOKE_FAILED, is retried with backoff until it succeeds, and then the lease is REVOKED', async () => {
    const { lease } = await grant();
    vault.failRevokes = Infinity;
    const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId });
    assert.equal(out.lease.status, 'REVOKE_FAILED');
    assert.equal(vault.calls.revoke.length, 1);
    // Authority ended all the same.
    assert.equal((await b().app.store.countActiveLeases('support-bot')), 0);
    const listed = await call<unknown, { leases: Lease__Output[] }>(operator(), 'ListLeases', { status: ['REVOKE_FAILED'] });
    assert.deepEqual(listed.leases.map((l) => l.leaseId), [lease.leaseId], 'operators see it');
    assert.equal((await credentialRevoked(lease.leaseId)).length, 0);
    assert.doesNotMatch(JSON.stringify(out), /VENDOR-TEXT/);

    // Backoff: nothing is retried before the delay has passed (the clock stands still)...
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(vault.calls.revoke.length, 1, 'no retry before the backoff delay');
    // ...then retried, and failing again doubles the delay.
    clock.advance(1_000);
    await until('a retry', () => vault.calls.revoke.length === 2);
    clock.advance(1_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(vault.calls.revoke.length, 2, 'the second delay is longer');
    assert.equal((await getLease(lease.leaseId)).status, 'REVOKE_FAILED');

    vault.failRevokes = 0;
    clock.advance(1_000);
    await until('the retry to succeed', async () => (await credentialRevoked(lease.leaseId)).length === 1);
    assert.equal((await getLease(lease.leaseId)).status, 'REVOKED');
    assert.equal(vault.forLease(lease.leaseId)!.revoked, true);
    const [entry, ...more] = await credentialRevoked(lease.leaseId);
    assert.equal(more.length, 0);
    assert.equal(entry!.by, 'agent:support-bot');
    assert.equal(entry!.lease_end, 'revoked');
    assert.equal(entry!.attempts, 3);
    assert.equal((await b().app.store.listCredentialRevocations(10)).length, 0);
  });

  it('an expired lease whose revocation fails returns to EXPIRED once it succeeds', async () => {
    const { lease } = await grant();
    vault.failRevokes = 1;
    clock.advance(300_001);
    await until('REVOKE_FAILED', async () => (await getLease(lease.leaseId)).status === 'REVOKE_FAILED');
    clock.advance(1_000);
    await until('credential.revoked', async () => (await credentialRevoked(lease.leaseId)).length === 1);
    assert.equal((await getLease(lease.leaseId)).status, 'EXPIRED');
    assert.equal((await credentialRevoked(lease.leaseId))[0]!.lease_end, 'expired');
  });

  it('a restarted daemon resumes the revocation of a revoke_failed lease', async () => {
    const { lease } = await grant();
    vault.failRevokes = Infinity;
    const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId });
    assert.equal(out.lease.status, 'REVOKE_FAILED');
    await broker!.close();
    vault.failRevokes = 0;
    const before = vault.calls.revoke.length;
    await start();
    await until('the restarted daemon to revoke it', async () => (await credentialRevoked(lease.leaseId)).length === 1);
    assert.equal((await getLease(lease.leaseId)).status, 'REVOKED');
    assert.ok(vault.calls.revoke.length > before);
    assert.equal(vault.forLease(lease.leaseId)!.revoked, true);
    assert.equal((await credentialRevoked(lease.leaseId)).length, 1);
  });

  it('a lease a stopped daemon ended but never revoked upstream is revoked by the next one', async () => {
    const { lease } = await grant();
    // As if the daemon stopped between ending the lease and revoking its credential.
    await b().app.store.endLease(lease.leaseId, 'revoked', 'agent', clock.now());
    await broker!.close();
    await start();
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(vault.calls.revoke.length, 0, 'a freshly ended lease is left to whoever ended it for a while');
    clock.advance(60_001);
    await until('the new daemon to revoke it', async () => (await credentialRevoked(lease.leaseId)).length === 1);
    assert.equal(vault.forLease(lease.leaseId)!.revoked, true);
    assert.equal((await credentialRevoked(lease.leaseId))[0]!.by, 'broker');
    assert.equal((await getLease(lease.leaseId)).status, 'REVOKED');
  });

  it('a revocation owed on a healthy backend is retried even while 200 older ones keep failing (no head-of-line starvation)', async () => {
    // 200 ended leases whose backend was removed from the config: they can never be revoked.
    const store = b().app.store;
    const at = T0 - 600_000;
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        store.insertLease(
          leaseRow({ action: 'reporting.db', resource: 'reporting', status: 'revoked', credential: { backend: 'retired', id: `gone-${i}` }, issuedAt: at, expiresAt: at + 300_000, maxExpiresAt: at + 300_000, updatedAt: at }),
        ),
      ),
    );
    await until('the 200 to be revoke_failed', async () => (await store.listLeases({ statuses: ['revoke_failed'], limit: 1000 })).length === 200);
    clock.advance(5_000);
    // A later lease on the healthy backend ends while that backend is briefly down.
    const { lease } = await grant();
    vault.failRevokes = 1;
    const out = await call<unknown, { lease: Lease__Output }>(agent(), 'RevokeLease', { leaseId: lease.leaseId });
    assert.equal(out.lease.status, 'REVOKE_FAILED');
    for (let i = 0; i < 40 && (await credentialRevoked(lease.leaseId)).length === 0; i++) {
      clock.advance(5_000);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal((await credentialRevoked(lease.leaseId)).length, 1, `the healthy backend's credential was never retried (revoke calls on it: ${vault.calls.revoke.length})`);
    assert.equal((await getLease(lease.leaseId)).status, 'REVOKED');
    // The ones that cannot be revoked stay owed and visible, and the log says why at error, once per period.
    assert.equal((await store.listLeases({ statuses: ['revoke_failed'], limit: 1000 })).length, 200);
    const errors = b()
      .logs.text.split('\n')
      .filter((l) => l.includes('"level":50') && l.includes('no longer configured'));
    assert.equal(errors.length, 1, `one error line for the retired backend over ${40 * 5} s of retries, not one per lease or tick: ${errors.length}`);
    assert.match(errors[0]!, /"backend":"retired"/);
    assert.match(errors[0]!, /"leases":200/);
  });

  it('Invoke on a dynamic action is refused FAILED_PRECONDITION before any decision or use', async () => {
    const { lease } = await grant();
    const size = b().app.ledger!.size;
    await expectCode(
      call(agent(), 'Invoke', { leaseId: lease.leaseId, method: 'GET', path: '/' }),
      grpc.status.FAILED_PRECONDITION,
      /^reporting\.db hands out a database credential; it has no brokered call$/,
    );
    await expectCode(
      call(agent(), 'Invoke', { action: 'reporting.db', resource: 'reporting', method: 'GET', path: '/' }),
      grpc.status.FAILED_PRECONDITION,
      /hands out a database credential; it has no brokered call/,
    );
    assert.equal(b().app.ledger!.size, size, 'no decision and no intent was recorded');
    assert.equal((await b().app.store.getLease(lease.leaseId))!.usesLeft, lease.usesLeft, 'no use was spent');
    assert.equal((await b().app.store.listLeases({ agent: 'support-bot', limit: 10 })).length, 1, 'no one-shot lease');
  });

  it('a grant whose evidence or row cannot be stored revokes the minted credential before the error returns', async () => {
    const faults = new WriteFaults(b().app.store as SqliteStore);
    faults.failEvidenceInserts();
    await expectCode(requestDb(), grpc.status.UNAVAILABLE);
    assert.equal(vault.calls.create, 1);
    assert.equal([...vault.minted.values()][0]!.revoked, true, 'revoked upstream (evidence refused)');
    faults.clear();

    faults.failLeaseInserts();
    await expectCode(requestDb(), grpc.status.UNAVAILABLE);
    assert.equal(vault.calls.create, 2);
    assert.equal([...vault.minted.values()][1]!.revoked, true, 'revoked upstream (row refused)');
    faults.clear();
    assert.equal(await b().app.store.countActiveLeases('support-bot'), 0);
  });
});

/** Vault takes 300 ms to make a login (a real round trip plus CREATE ROLE). */
class SlowBackend extends FaultCredentialBackend {
  override async create(spec: FaultSpec, lease: LeaseBinding): Promise<IssuedCredential> {
    await new Promise((r) => setTimeout(r, 300));
    return super.create(spec, lease);
  }
}

describe('the active_leases limit holds under concurrency, over the real daemon', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker | undefined;
  before(async () => {
    tmp = tempDir('sb-limit-');
    pki = await makeTestPki(`${tmp.dir}/pki`);
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
  });
  after(() => tmp?.cleanup());

  async function start(): Promise<{ vault: SlowBackend; clock: ManualClock }> {
    const clock = new ManualClock(T0);
    const vault = new SlowBackend('vault', clock);
    const dir = `${tmp.dir}/${Math.random().toString(36).slice(2)}`;
    const raw = vaultDynamicRawConfig(pki, dir);
    (raw['limits'] as Record<string, unknown>)['active_leases'] = 2;
    broker = await startBroker({ pki, dir, raw, clock, reaperIntervalMs: 25, dynamicCredentials: faultSource(vault) });
    return { vault, clock };
  }
  const agent = () => broker!.clientFor('agents', 'support-bot').agent;
  const settle = <T>(ps: Array<Promise<T>>) => Promise.allSettled(ps);

  it('10 concurrent RequestLease for a dynamic credential with active_leases: 2 grant 2; the logins minted for the others are revoked; no grant is recorded for them', async () => {
    const { vault } = await start();
    const results = await settle(Array.from({ length: 10 }, () => call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'reporting.db', ttlSeconds: 300 })));
    const granted = results.filter((r) => r.status === 'fulfilled' && r.value.status === 'GRANTED').length;
    const store = broker!.app.store;
    assert.equal(granted, 2, `granted ${granted} with active_leases: 2 (minted upstream ${vault.calls.create})`);
    assert.equal(await store.countActiveLeases('support-bot'), 2);
    for (const r of results) {
      if (r.status === 'rejected') {
        assert.equal((r.reason as grpc.ServiceError).code, grpc.status.RESOURCE_EXHAUSTED);
        assert.match((r.reason as grpc.ServiceError).details, /^active lease limit reached \(2\)$/);
      }
    }
    // Every login minted for a refused request is dropped upstream; the two granted ones live on.
    const live = [...vault.minted.values()].filter((c) => !c.revoked);
    assert.equal(live.length, 2);
    const entries = await readEntries<Entry>(broker!.app.ledger!);
    const issued = entries.filter((e) => e.type === 'lease.issued');
    assert.equal(issued.length, 2, 'lease.issued only for the grants');
    assert.equal(entries.filter((e) => e.type === 'decision').length, 2, 'no decision entry for a grant that never happened');
    assert.equal(entries.filter((e) => e.type === 'lease.revoked').length, 0, 'nothing to take back: nothing was recorded');
    assert.deepEqual(new Set(live.map((c) => c.binding.leaseId)), new Set(issued.map((e) => e.lease!.id)));
    // Over the limit before any mint: refused without a login.
    const before = vault.calls.create;
    await expectCode(call(agent(), 'RequestLease', { action: 'reporting.db' }), grpc.status.RESOURCE_EXHAUSTED, /^active lease limit reached \(2\)$/);
    assert.equal(vault.calls.create, before, 'the early check mints nothing');
  });

  it('10 concurrent RequestLease for a static action with active_leases: 2 grant exactly 2', async () => {
    await start();
    const results = await settle(
      Array.from({ length: 10 }, () =>
        call<unknown, LeaseResponse__Output>(agent(), 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-1', params: { fields: { ticket: { stringValue: 'T-1' } } } }),
      ),
    );
    const granted = results.filter((r) => r.status === 'fulfilled' && r.value.status === 'GRANTED').length;
    assert.equal(granted, 2, JSON.stringify(results.map((r) => (r.status === 'fulfilled' ? r.value.status : (r.reason as grpc.ServiceError).details))));
    assert.equal(await broker!.app.store.countActiveLeases('support-bot'), 2);
    const entries = await readEntries<Entry>(broker!.app.ledger!);
    assert.equal(entries.filter((e) => e.type === 'lease.issued').length, 2);
  });
});
