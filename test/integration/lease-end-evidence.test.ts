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
});
