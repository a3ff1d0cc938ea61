import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store';
import { makeTestPki, startBroker, tempDir, type RunningBroker } from '../helpers/broker-harness';
import { WriteFaults } from '../helpers/write-faults';

describe('a revocation is never blocked by the evidence log, and its entry is never dropped', function () {
  this.timeout(30_000);
  let tmp: ReturnType<typeof tempDir>;
  let broker: RunningBroker;
  before(async () => {
    tmp = tempDir();
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    broker = await startBroker({ pki, dir: tmp.dir });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('revokes while evidence inserts fail, then records lease.revoked once the log recovers', async () => {
    const agent = broker.clientFor('agents', 'support-bot').agent;
    const g = await call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-1', params: { fields: { ticket: { stringValue: 'T-1' } } } });
    const id = g.lease!.leaseId;
    const faults = new WriteFaults(broker.app.store as SqliteStore);
    faults.failEvidenceInserts();
    let revoked: { lease: { status: string } };
    try {
      revoked = await call(agent, 'RevokeLease', { leaseId: id, reason: 'incident' });
    } finally {
      faults.clear();
    }
    assert.equal(revoked.lease.status, 'REVOKED', 'authority was taken away even though the log refused the entry');
    assert.ok(faults.evidenceInsertsFailed > 0, 'the fault was hit');
    const ledger = broker.app.ledger!;
    const deadline = Date.now() + 10_000;
    for (;;) {
      let found: Record<string, unknown> | undefined;
      for (let i = ledger.size - 1; i >= 0 && !found; i--) {
        const e = JSON.parse((await ledger.getEntry(i)).bytes.toString()) as Record<string, unknown>;
        if (e['type'] === 'lease.revoked' && (e['lease'] as { id: string }).id === id) found = e;
      }
      if (found) {
        assert.equal(found['recorded_late'], true);
        break;
      }
      if (Date.now() > deadline) assert.fail('lease.revoked was never recorded');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  describe('at shutdown', () => {
    const revokeWhileRefused = async (b: RunningBroker, refuseMs: number): Promise<{ id: string; faults: WriteFaults }> => {
      const agent = b.clientFor('agents', 'support-bot').agent;
      const g = await call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action: 'tickets.update', resource: 'ticket/T-2', params: { fields: { ticket: { stringValue: 'T-2' } } } });
      const faults = new WriteFaults(b.app.store as SqliteStore);
      faults.failEvidenceInserts();
      const revoked = await call<unknown, { lease: { status: string } }>(agent, 'RevokeLease', { leaseId: g.lease!.leaseId });
      assert.equal(revoked.lease.status, 'REVOKED');
      // The background retries (after 0.2, 0.6 and 1.4 s) fail meanwhile; the next is due at about 3 s.
      await new Promise((r) => setTimeout(r, refuseMs));
      return { id: g.lease!.leaseId, faults };
    };
    const lateEntries = async (b: RunningBroker, id: string): Promise<Array<Record<string, unknown>>> => {
      const out: Array<Record<string, unknown>> = [];
      const ledger = b.app.ledger!;
      for (let i = 0; i < ledger.size; i++) {
        const e = JSON.parse((await ledger.getEntry(i)).bytes.toString()) as Record<string, unknown>;
        if (e['type'] === 'lease.revoked' && (e['lease'] as { id: string }).id === id) out.push(e);
      }
      return out;
    };

    it('an entry the log refused is recorded by the last try at shutdown, once the log takes writes again before the next retry', async () => {
      const t = tempDir();
      const pki = await makeTestPki(path.join(t.dir, 'pki'));
      let b = await startBroker({ pki, dir: t.dir });
      try {
        const { id, faults } = await revokeWhileRefused(b, 1600);
        assert.deepEqual(await lateEntries(b, id), [], 'not recorded yet: the log refused every retry so far');
        faults.clear();
        await b.close();
        // Recorded by the drain, not by a background retry that happened to land during a slow close.
        assert.ok(
          b.logs.lines.some((l) => String((JSON.parse(l) as { msg?: string }).msg).includes('entries the evidence log refused earlier, before stopping')),
          'the shutdown drain recorded it',
        );
        b = await startBroker({ pki, dir: t.dir });
        const found = await lateEntries(b, id);
        assert.equal(found.length, 1, 'recorded once, before the broker stopped');
        assert.equal(found[0]!['recorded_late'], true);
      } finally {
        await b.close();
        t.cleanup();
      }
    });

    it('an entry the log still refuses at shutdown is named in an error line, not dropped silently', async () => {
      const t = tempDir();
      const pki = await makeTestPki(path.join(t.dir, 'pki'));
      const b = await startBroker({ pki, dir: t.dir });
      try {
        const { id } = await revokeWhileRefused(b, 300);
        await b.close();
        const line = b.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['level'] === 50 && String(l['msg']).includes('before stopping'));
        assert.ok(line, 'an error line at shutdown');
        assert.equal((line['lease'] as { id: string }).id, id);
        assert.match(String(line['msg']), /could not record a lease end entry before stopping; the lease ended but its entry is missing/);
      } finally {
        t.cleanup();
      }
    });
  });
});
