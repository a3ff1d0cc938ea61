import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import type { CredentialHandle } from '../../../src/backends/backend';
import { CredentialRevoker } from '../../../src/broker/credential-revoker';
import { ManualClock } from '../../../src/lib/clock';
import { createLogger } from '../../../src/lib/logger';
import { SqliteStore } from '../../../src/store/sqlite/sqlite-store';
import { lease } from '../../contract/store-contract';
import { LogCapture, tempDir } from '../../helpers/broker-harness';
import { FaultCredentialBackend, PlanningFaultBackend, faultSource } from '../../helpers/fault-credential-backend';

const T0 = 1_000_000;

/** A fault backend whose revocations wait at a gate, counting how many are upstream at once. */
class GatedBackend extends FaultCredentialBackend {
  inside = 0;
  maxInside = 0;
  private release: (() => void) | undefined;
  private gate: Promise<void> = new Promise((r) => (this.release = r));

  open(): void {
    this.release?.();
  }

  override async revoke(handle: CredentialHandle): Promise<void> {
    this.inside += 1;
    this.maxInside = Math.max(this.maxInside, this.inside);
    try {
      await this.gate;
      await super.revoke(handle);
    } finally {
      this.inside -= 1;
    }
  }
}

describe('CredentialRevoker', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let clock: ManualClock;
  const logs = new LogCapture();
  const log = createLogger({ level: 'debug', destination: logs });

  beforeEach(() => {
    tmp = tempDir('sb-revoker-');
    store = new SqliteStore({ path: path.join(tmp.dir, 'b.db') });
    clock = new ManualClock(T0);
  });
  afterEach(async () => {
    await store.close();
    tmp.cleanup();
  });

  async function endedWithCredential(n: number, status: 'revoked' | 'expired' = 'revoked'): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const l = lease({ credential: { backend: 'vault', id: `h${i}` }, issuedAt: T0, expiresAt: T0 + 60_000, maxExpiresAt: T0 + 120_000, updatedAt: T0 });
      await store.insertLease(l);
      await store.endLease(l.id, status, 'test', T0 - 120_000);
      ids.push(l.id);
    }
    return ids;
  }

  it('a batch attempt that rejects unexpectedly is logged and stays owed: the caller is answered, the next pass tries it again', async () => {
    const backend = new PlanningFaultBackend('vault', clock);
    // Ended just now: the loop leaves fresh ones to their own caller for 60 s unless they are owed.
    const l = lease({ credential: { backend: 'vault', id: 'h-fresh' }, issuedAt: T0, expiresAt: T0 + 60_000, maxExpiresAt: T0 + 120_000, updatedAt: T0 });
    await store.insertLease(l);
    await store.endLease(l.id, 'revoked', 'test', T0);
    const id = l.id;
    backend.failRevokes = 1;
    // A fault after the upstream failure, while it is being recorded (here the failure metric throws).
    let throwOnce = true;
    const metrics = {
      revokeFailure: (): void => {
        if (throwOnce) {
          throwOnce = false;
          throw new Error('metrics registry broke');
        }
      },
    };
    const revoker = new CredentialRevoker({ store, source: faultSource(backend), clock, log, metrics });
    const out = await revoker.revokeEnded((await store.getLease(id))!, { by: 'agent:support-bot' }, log);
    assert.equal(out.id, id);
    assert.match(logs.text, /a credential revocation attempt failed unexpectedly; the retry loop tries it again/);
    assert.equal((await store.getLease(id))!.credentialRevokedAt, undefined, 'not revoked yet');
    await revoker.tick();
    assert.equal(backend.batchCalls.revokeMany.length, 2, 'tried again at the next pass, not left to the 60 s grace');
    assert.ok((await store.getLease(id))!.credentialRevokedAt !== undefined);
  });

  it('revokes owed credentials a few at a time (bounded concurrency), each once', async () => {
    const backend = new GatedBackend('vault', clock);
    const ids = await endedWithCredential(12);
    const revoker = new CredentialRevoker({ store, source: faultSource(backend), clock, log, concurrency: 3 });
    const pass = revoker.tick();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(backend.inside, 3, 'three upstream at once');
    backend.open();
    await pass;
    assert.equal(backend.maxInside, 3);
    assert.equal(backend.calls.revoke.length, 12);
    for (const id of ids) assert.ok((await store.getLease(id))!.credentialRevokedAt !== undefined, id);
    assert.deepEqual(await store.listCredentialRevocations(100), []);
  });

  it('backs off per credential: doubling delays up to the max, then succeeds and returns the lease to its end status', async () => {
    const backend = new FaultCredentialBackend('vault', clock);
    backend.failRevokes = Infinity;
    const [id] = await endedWithCredential(1, 'expired');
    const revoker = new CredentialRevoker({ store, source: faultSource(backend), clock, log, minDelayMs: 1_000, maxDelayMs: 4_000 });
    const attemptsAt: number[] = [];
    for (let t = 0; t <= 20_000; t += 500) {
      clock.set(T0 + t);
      const before = backend.calls.revoke.length;
      await revoker.tick();
      if (backend.calls.revoke.length > before) attemptsAt.push(t);
    }
    // 0, then +1 s, +2 s, +4 s, +4 s, ... (capped).
    assert.deepEqual(attemptsAt.slice(0, 6), [0, 1_000, 3_000, 7_000, 11_000, 15_000]);
    assert.equal((await store.getLease(id))!.status, 'revoke_failed');
    assert.equal((await store.getLease(id))!.endedAs, 'expired');
    backend.failRevokes = 0;
    clock.set(T0 + 60_000);
    await revoker.tick();
    const done = (await store.getLease(id))!;
    assert.equal(done.status, 'expired');
    assert.equal(done.credentialRevokedAt, T0 + 60_000);
    assert.doesNotMatch(logs.text, /pw-[0-9a-f]{32}/, 'no password in the log');
  });

  it('a credential whose backend is not configured stays owed (revoke_failed), never dropped', async () => {
    const [id] = await endedWithCredential(1);
    const revoker = new CredentialRevoker({ store, source: faultSource(), clock, log });
    await revoker.tick();
    assert.equal((await store.getLease(id))!.status, 'revoke_failed');
    assert.equal((await store.listCredentialRevocations(10)).length, 1);
  });

  it('a revocation owed on a healthy backend is retried even when 200 older ones keep failing (no head-of-line starvation)', async () => {
    const dead = new FaultCredentialBackend('dead', clock);
    dead.failRevokes = Infinity;
    const ok = new FaultCredentialBackend('ok', clock);
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const l = lease({ credential: { backend: 'dead', id: `d${i}` }, issuedAt: T0, expiresAt: T0 + 60_000, maxExpiresAt: T0 + 120_000, updatedAt: T0 });
        await store.insertLease(l);
        await store.endLease(l.id, 'revoked', 'test', T0 - 120_000);
      }),
    );
    const revoker = new CredentialRevoker({ store, source: faultSource(dead, ok), clock, log, minDelayMs: 1_000, maxDelayMs: 4_000 });
    await revoker.tick(); // all 200 become revoke_failed
    assert.equal(dead.calls.revoke.length, 200);
    // A later lease on the healthy backend ends; its first revocation fails (ok was briefly down).
    ok.failRevokes = 1;
    const l = lease({ credential: { backend: 'ok', id: 'good' }, issuedAt: T0, expiresAt: T0 + 60_000, maxExpiresAt: T0 + 120_000, updatedAt: T0 });
    await store.insertLease(l);
    clock.set(T0 + 1);
    const ended = (await store.endLease(l.id, 'revoked', 'agent', T0 + 1))!;
    await revoker.revokeEnded(ended, { by: 'agent:a' }, log);
    assert.equal((await store.getLease(l.id))!.status, 'revoke_failed');
    for (let t = 1_000; t <= 30_000 && (await store.getLease(l.id))!.credentialRevokedAt === undefined; t += 5_000) {
      clock.set(T0 + t);
      await revoker.tick();
    }
    const after = (await store.getLease(l.id))!;
    assert.ok(after.credentialRevokedAt !== undefined, `the healthy backend's credential was never retried (status ${after.status}, revoke calls on ok: ${ok.calls.revoke.length})`);
    assert.equal(after.status, 'revoked');
    assert.equal((await store.listLeases({ statuses: ['revoke_failed'], limit: 1000 })).length, 200, 'the dead ones stay owed and visible');
  });

  it('a backend that is no longer configured is logged at error once per period with how many leases wait on it, not per lease or pass', async () => {
    const own = new LogCapture();
    const quiet = createLogger({ level: 'debug', destination: own });
    await endedWithCredential(3);
    const revoker = new CredentialRevoker({ store, source: faultSource(), clock, log: quiet, minDelayMs: 1_000, maxDelayMs: 1_000, missingBackendLogMs: 60_000 });
    const errors = (): string[] => own.text.split('\n').filter((x) => x.includes('"level":50'));
    for (let t = 0; t < 60_000; t += 1_000) {
      clock.set(T0 + t);
      await revoker.tick();
    }
    assert.equal(errors().length, 1, errors().join('\n'));
    assert.match(errors()[0]!, /"backend":"vault","leases":3/);
    assert.match(errors()[0]!, /no longer configured/);
    clock.set(T0 + 60_000);
    await revoker.tick();
    assert.equal(errors().length, 2, 'said again the next period');
    assert.equal((await store.listLeases({ statuses: ['revoke_failed'], limit: 10 })).length, 3, 'still owed');
  });

  it('a backend that returns after an outage: its owed revocations are retried at once in one batch round, not at their backoff slot; the probe keeps a floor', async () => {
    const backend = new PlanningFaultBackend('vault', clock);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const l = lease({ credential: { backend: 'vault', id: `sb_${i}` }, issuedAt: T0, expiresAt: T0 + 60_000, maxExpiresAt: T0 + 120_000, updatedAt: T0 });
      await store.insertLease(l);
      await store.endLease(l.id, 'revoked', 'test', T0 - 120_000);
      ids.push(l.id);
    }
    const revoker = new CredentialRevoker({ store, source: faultSource(backend), clock, log, minDelayMs: 600_000, probeMs: 2_000 });
    backend.down = true;
    backend.failRevokes = Infinity;
    await revoker.tick();
    assert.equal(backend.batchCalls.revokeMany.length, 1);
    for (const id of ids) assert.equal((await store.getLease(id))!.status, 'revoke_failed');
    // Down: probed no more often than every 2 s, and nothing is retried.
    for (let t = 500; t <= 6_000; t += 500) {
      clock.set(T0 + t);
      await revoker.tick();
    }
    assert.equal(backend.healthChecks.count, 3);
    assert.equal(backend.batchCalls.revokeMany.length, 1);
    // Back: the next probe reaches it and all three go in one round, 10 minutes before their slot.
    backend.down = false;
    backend.failRevokes = 0;
    clock.set(T0 + 8_000);
    await revoker.tick();
    assert.equal(backend.batchCalls.revokeMany.length, 2);
    assert.deepEqual(new Set(backend.batchCalls.revokeMany[1]), new Set(['sb_0', 'sb_1', 'sb_2']));
    for (const id of ids) assert.equal((await store.getLease(id))!.status, 'revoked');
    assert.match(logs.text, /backend reachable again/);
    // Nothing owed: no more probes.
    clock.set(T0 + 20_000);
    await revoker.tick();
    assert.equal(backend.healthChecks.count, 4);
  });

  it('a backend that answers its probe while revocations still fail keeps their backoff (no retry every probe period)', async () => {
    const backend = new FaultCredentialBackend('vault', clock);
    backend.failRevokes = Infinity;
    await endedWithCredential(1);
    const revoker = new CredentialRevoker({ store, source: faultSource(backend), clock, log, minDelayMs: 600_000, probeMs: 2_000 });
    await revoker.tick();
    for (let t = 500; t <= 30_000; t += 500) {
      clock.set(T0 + t);
      await revoker.tick();
    }
    assert.equal(backend.healthChecks.count, 1, 'one probe: it answered, so the failure was no outage');
    assert.equal(backend.calls.revoke.length, 1);
  });
});
