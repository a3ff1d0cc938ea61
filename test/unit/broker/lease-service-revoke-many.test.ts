import { strict as assert } from 'node:assert';
import { LeaseService } from '../../../src/broker/lease-service';
import type { LeaseRecord } from '../../../src/leases/lease';
import { ManualClock } from '../../../src/lib/clock';
import { IdSource } from '../../../src/lib/ids';
import { createLogger } from '../../../src/lib/logger';
import type { Store } from '../../../src/store/store';
import { lease } from '../../contract/store-contract';
import { LogCapture } from '../../helpers/broker-harness';

describe('LeaseService.revokeMany', () => {
  const log = createLogger({ level: 'debug', destination: new LogCapture() });

  it('ends every selected lease at once (one store batch), not one commit after another, and returns them in order', async () => {
    const targets = Array.from({ length: 5 }, (_, i) => lease({ id: `l${i}`, agent: 'support-bot' }));
    const batches: string[][] = [];
    let writes = 0;
    const store = {
      kind: 'sqlite',
      listLeases: () => Promise.resolve(targets),
      trustStatements: {
        revokeLeases: (ids: readonly string[], reason: string, now: number): LeaseRecord[] => {
          batches.push([...ids]);
          return ids.map((id) => ({ ...targets.find((t) => t.id === id)!, status: 'revoked' as const, revokeReason: reason, updatedAt: now }));
        },
      },
      writeTrust: async <T>(fn: () => T): Promise<T> => {
        writes++;
        return fn();
      },
    } as unknown as Store;
    const leases = new LeaseService({ config: { actions: {}, agents: {} }, store, policy: () => assert.fail('no decision'), clock: new ManualClock(), ids: new IdSource() });
    const out = await leases.revokeMany({ agent: 'support-bot' }, 'incident', 'alice', log);
    assert.deepEqual(batches, [['l0', 'l1', 'l2', 'l3', 'l4']], 'every lease is ended in one store batch');
    assert.equal(writes, 1, 'one transaction');
    assert.deepEqual(out.map((l) => [l.id, l.status]), targets.map((t) => [t.id, 'revoked']));
  });

  it('a large selection is ended in rounds of at most 500, each its own transaction, so the single writer is not held for all of it', async () => {
    const targets = Array.from({ length: 1200 }, (_, i) => lease({ id: `l${i}`, agent: 'support-bot' }));
    const batches: number[] = [];
    const store = {
      kind: 'sqlite',
      listLeases: () => Promise.resolve(targets),
      trustStatements: {
        revokeLeases: (ids: readonly string[], reason: string, now: number): LeaseRecord[] => {
          batches.push(ids.length);
          return ids.map((id) => ({ ...targets.find((t) => t.id === id)!, status: 'revoked' as const, revokeReason: reason, updatedAt: now }));
        },
      },
      writeTrust: async <T>(fn: () => T): Promise<T> => fn(),
    } as unknown as Store;
    const leases = new LeaseService({ config: { actions: {}, agents: {} }, store, policy: () => assert.fail('no decision'), clock: new ManualClock(), ids: new IdSource() });
    const out = await leases.revokeMany({ agent: 'support-bot' }, 'incident', 'alice', log);
    assert.deepEqual(batches, [500, 500, 200]);
    assert.equal(out.length, 1200);
  });
});
